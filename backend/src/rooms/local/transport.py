"""A local room's media half, and the bot's transport into it (pipecat's SmallWebRTC).

The provider (provider.py) makes one `LocalRoom` per bot in the process that runs the bot; the
user's offers add connections to it, and `LocalBotTransport` hands them to the bot: the first
one opens the pipecat transport, later ones (rejoins) are swapped into it
(`compat/pipecat_smallwebrtc.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.core.teardown import bounded

logger = logging.getLogger(__name__)


@dataclass
class LocalRoom:
    """The media half of one live local room, in the process that runs its bot."""

    name: str
    conversation_id: uuid.UUID
    expires_at: datetime
    # pipecat's SmallWebRTCRequestHandler, one per room so peer ids never cross rooms.
    webrtc: Any = field(default=None, repr=False)
    # Each WebRTC connection made by the user's offers, for the bot.
    connections: asyncio.Queue[Any] = field(default_factory=asyncio.Queue, repr=False)
    # One per connection not yet connected: closes it if it does not connect in time.
    watchers: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    # Trickled ICE candidates taken, per connection (pc_id).
    candidates: dict[str, int] = field(default_factory=dict, repr=False)
    # The user's newest connection, and what receives its audio.
    current: UserConnection | None = field(default=None, repr=False)


@dataclass(frozen=True)
class UserConnection:
    """One WebRTC connection of the user's, and what receives its audio
    (`user_audio.JitteredOpus`: it knows how long nothing has come)."""

    connection: Any
    hearing: Any


class _CurrentSpeech:
    """The bot's outgoing track on the user's current connection, held or cut (`SpeechControl`);
    nothing to do before the first connection."""

    def __init__(self) -> None:
        self.transport: Any = None  # the SmallWebRTC transport, once open

    def _track(self) -> Any:
        return None if self.transport is None else self.transport.speech

    def hold(self) -> None:
        if (track := self._track()) is not None:
            track.hold()

    def resume(self) -> None:
        if (track := self._track()) is not None:
            track.resume()

    def cut(self) -> None:
        if (track := self._track()) is not None:
            track.cut()


class LocalBotTransport:
    """A bot's way into a local room: the user's WebRTC connection, as pipecat's transport."""

    joined_event = "on_client_connected"
    left_event = "on_client_disconnected"
    # A rejoin's connection is swapped into the same transport, which reports it connected.
    rejoined_event = "on_client_connected"
    # Connected means ICE and DTLS are done on our side, which as the DTLS client finishes
    # last: audio sent then is heard from its first word, so the bot greets at once.
    media_ready_on_join = True

    def __init__(self, room: LocalRoom, *, release: Callable[[], Awaitable[None]]) -> None:
        self.room = room
        # Closes the room's media in its provider (which made this transport).
        self._release = release
        self._connection: Any = None
        self.speech = _CurrentSpeech()

    @property
    def connections(self) -> asyncio.Queue[Any]:
        """Where the user's connections arrive."""
        return self.room.connections

    async def join(self) -> None:
        """Nothing to join: the room's media lives in this process, made with the bot."""

    async def open(self) -> Any:
        """Wait for the user's first offer; the SmallWebRTC transport on its connection."""
        from src.compat.pipecat_smallwebrtc import release_writes_on_hang_up
        from src.rooms.local import media

        self._connection = await self.room.connections.get()
        transport = media.LocalWebRTCTransport(self._connection)
        release_writes_on_hang_up(transport)
        self.speech.transport = transport
        return transport

    async def gone(self, idle_timeout: float) -> None:
        """Return once the page has sent no data-channel ping for `idle_timeout` seconds.

        aiortc cannot see a peer that vanishes without closing, so the page pings.
        """
        silent_since: float | None = None
        while True:
            await asyncio.sleep(1.0)
            if self._connection is None or self._connection.is_connected():
                silent_since = None
                continue
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since >= idle_timeout:
                return

    async def take_rejoins(self, transport: Any) -> None:
        """Swap each later connection of the user (a rejoin's offer) into the running
        SmallWebRTC transport; the room's handler lets one connection in at a time."""
        from src.compat.pipecat_smallwebrtc import swap_connection

        while True:
            connection = await self.room.connections.get()
            previous, self._connection = self._connection, connection
            logger.info("conversation %s: the user's new connection", self.room.conversation_id)
            await swap_connection(transport, connection)
            if previous is not None:
                await bounded(previous.disconnect(), "hanging up the user's previous connection")

    async def drop_user(self) -> None:
        """Hang up a connection whose pings stopped: the room then takes the user's next offer
        (aiortc alone would keep the vanished peer's connection open)."""
        if self._connection is not None:
            await bounded(self._connection.disconnect(), "hanging up a silent connection")

    async def close(self) -> None:
        """Disconnect the user and close the room's media in this process (each step bounded:
        a connection aiortc cannot close does not hold the bot)."""
        if self._connection is not None:
            await bounded(self._connection.disconnect(), "hanging up the user's connection")
        await self._release()
