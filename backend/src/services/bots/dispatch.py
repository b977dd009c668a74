"""Where the API's conversations get their bots: this process (embedded) or workers (Redis).

`Bots` is what the start, end and signalling paths use; they never know which mode runs.
"""

from __future__ import annotations

import os
import socket
import uuid
from itertools import count
from typing import Any, Protocol

from src.contract.bot import BotJob
from src.core.enums import EndReason
from src.models.conversation import EMBEDDED_OWNER_PREFIX
from src.rooms.base import ConversationGone, RoomProvider, Signalling
from src.services.bots.runner import BotRunner, Slot

_processes = count()


def process_owner_id(prefix: str = "") -> str:
    """A name for this process that no other process, here or on another host, will reuse."""
    return f"{prefix}{socket.gethostname()[:24]}:{os.getpid()}:{next(_processes)}"


class Bots(Protocol):
    """Starts, stops and reaches conversations' bots."""

    mode: str

    async def reserve(self) -> Slot:
        """Hold capacity for a start, before anything is made.

        Raises:
            BotCapacityReached: no bot can be started now.
            BotServiceUnavailable: the bot service cannot be reached.
        """
        ...

    async def start(self, job: BotJob, slot: Slot) -> None:
        """Start the job's bot (after the conversation is committed); return once it is ready.

        Raises:
            BotStartError: the bot failed or did not get ready in time.
            NoBotCapacity: no worker took the call in time.
            BotServiceUnavailable: the bot service cannot be reached.
        """
        ...

    async def stop(
        self, conversation_id: uuid.UUID, worker_id: str | None, reason: EndReason
    ) -> None:
        """Stop a conversation's bot, wherever it runs, and wait a moment for it to end."""
        ...

    async def offer(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, offer: dict[str, Any]
    ) -> dict[str, Any]:
        """Hand the user's SDP offer to the room's media; the SDP answer."""
        ...

    async def candidates(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, patch: dict[str, Any]
    ) -> None:
        """Hand trickled ICE candidates to the room's media."""
        ...

    async def status(self) -> dict[str, Any]:
        """The load, for /health."""
        ...

    async def close(self) -> None:
        """Stop every bot this process runs and release connections."""
        ...


class EmbeddedBots:
    """Bots run inside this process (the default: nothing but Python needed)."""

    mode = "embedded"

    def __init__(self, runner: BotRunner, rooms: RoomProvider) -> None:
        self.runner = runner
        self._rooms = rooms

    async def reserve(self) -> Slot:
        return self.runner.reserve()

    async def start(self, job: BotJob, slot: Slot) -> None:
        await self.runner.start(job, slot)

    async def stop(
        self, conversation_id: uuid.UUID, worker_id: str | None, reason: EndReason
    ) -> None:
        await self.runner.cancel(conversation_id, reason)

    async def offer(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, offer: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._signalling().answer_offer(room, offer)

    async def candidates(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, patch: dict[str, Any]
    ) -> None:
        await self._signalling().add_candidates(room, patch)

    def _signalling(self) -> Signalling:
        signalling = self._rooms.signalling
        if signalling is None:
            raise ConversationGone("This server's rooms take no signalling here.")
        return signalling

    async def status(self) -> dict[str, Any]:
        signalling = self._rooms.signalling
        return {
            "mode": self.mode,
            "bots": self.runner.active_count,
            "rooms": len(signalling.room_names()) if signalling is not None else None,
        }

    async def close(self) -> None:
        await self.runner.shutdown()


def embedded_owner_id() -> str:
    """The `worker_id` recorded for bots run by this API process."""
    return process_owner_id(EMBEDDED_OWNER_PREFIX)
