"""Rooms: where the user and the bot meet, one package per provider.

`base` holds the interface every provider implements; `local` and `daily` are the providers,
and `create_room_provider` picks one from the settings, the way pipecat's runner picks a
transport per provider: the rest of the app asks the provider what it can do, never which one
it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from src.core.settings import Settings
    from src.rooms.base import RoomProvider


def create_room_provider(settings: Settings) -> RoomProvider:
    """The provider ROOM_PROVIDER names."""
    # Imported here: a process loads only its provider's libraries (Daily's or aiortc's).
    if settings.room_provider == "daily":
        from src.rooms.daily.provider import DailyRoomProvider

        return DailyRoomProvider(settings)
    from src.rooms.local.provider import LocalRoomProvider

    return LocalRoomProvider(settings)
