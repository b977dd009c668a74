"""Choosing the room provider ROOM_PROVIDER names."""

from __future__ import annotations

from src.core.settings import Settings
from src.rooms.base import RoomProvider


def create_room_provider(settings: Settings) -> RoomProvider:
    """The provider ROOM_PROVIDER names."""
    if settings.room_provider == "daily":
        from src.services.daily_service import DailyRoomProvider

        return DailyRoomProvider(settings)
    from src.services.local_rooms import LocalRoomProvider

    return LocalRoomProvider(settings)
