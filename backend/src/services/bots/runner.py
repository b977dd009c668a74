"""The bot runner: every bot task is held here, keyed by conversation, until it has ended.

It runs in whichever process hosts bots (the API in the embedded mode, each worker in the
worker mode): one code path for a bot's life. Whatever way a bot ends (it returns, it raises,
it is cancelled for a timeout, an end request, a drain or shutdown), its transport is closed
and its conversation is ended with a reason and its room deleted, exactly once, by the `finish`
it is given (`Recovery.finish`: the lifecycle's end, kept and retried if the database is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from src.contract.bot import (
    BotContext,
    BotJob,
    ConversationRecords,
    RunBot,
    TranscriptSink,
)
from src.core import metrics
from src.core.enums import EndReason
from src.core.settings import Settings
from src.core.teardown import CLOSE_TIMEOUT_SECONDS, bounded
from src.rooms.base import BotTransport, RoomJoinError
from src.services.bots.admission import Admission, Slot
from src.services.bots.errors import BotJoinFailed, BotStartError, ConversationNoLongerLive
from src.services.bots.events import NOT_ATTACHED, BotHandle, RunnerEvents

logger = logging.getLogger(__name__)

TransportFactory = Callable[[BotJob], BotTransport]
# Records a bot's end (never raises: an end that cannot be written now is retried later).
Finish = Callable[[uuid.UUID, EndReason], Coroutine[Any, Any, None]]

# A stopped bot has ended within this: its pipeline's teardown, its transport's close and its
# last writes, each bounded (core/teardown.py), with room to spare.
STOP_TIMEOUT_SECONDS = 4 * CLOSE_TIMEOUT_SECONDS


class BotRunner:
    """Supervises bots: starts them, holds their tasks, enforces their deadlines and records
    their end. Whether a bot may start is the `Admission`'s to say.

    Args:
        run_bot: The bot.
        lifecycle: Records the bots' lives.
        finish: Records a bot's end.
        settings: Deadlines and timeouts.
        transports: Makes a bot's transport into its room (the room provider's).
        owner_id: Recorded as the conversations' `worker_id`: who runs their bots.
        admission: Holds the slots of the bots run here (closed by a drain or shutdown).
        transcript: Stores the lines the bots hear and say (none: not stored).
    """

    def __init__(
        self,
        run_bot: RunBot,
        lifecycle: ConversationRecords,
        settings: Settings,
        *,
        finish: Finish,
        transports: TransportFactory,
        owner_id: str,
        admission: Admission,
        transcript: TranscriptSink | None = None,
    ) -> None:
        self._run_bot = run_bot
        self._lifecycle = lifecycle
        self._finish = finish
        self._settings = settings
        self._transports = transports
        self.owner_id = owner_id
        self.admission = admission
        self._transcript = transcript
        self._bots: dict[uuid.UUID, BotHandle] = {}
        # Bots a stop gave up waiting for (their slot freed), until they end.
        self._given_up: set[asyncio.Task[None]] = set()

    def _forget(self, conversation_id: uuid.UUID, handle: BotHandle) -> None:
        # Only this bot's own entry: a stop that gave up on it may have let a new one in.
        if self._bots.get(conversation_id) is handle:
            del self._bots[conversation_id]

    def __contains__(self, conversation_id: object) -> bool:
        return conversation_id in self._bots

    @property
    def active_count(self) -> int:
        """Bots running now."""
        return len(self._bots)

    async def start(self, job: BotJob, slot: Slot) -> None:
        """Claim the conversation, start its bot and wait until it is ready for the user; the
        bot holds `slot` until it has ended.

        Raises:
            BotJoinFailed: the bot could not join the room; its conversation has been ended
                (`room_error`) and its room deleted.
            BotStartError: the conversation is no longer startable, or the bot raised, ended or
                hung before it was ready; its conversation has been ended (`bot_error`) and its
                room deleted.
        """
        conversation_id = job.conversation_id
        try:
            if not await self._lifecycle.claim(conversation_id, self.owner_id):
                raise BotStartError("the conversation ended, or another process runs its bot")
            handle = BotHandle(
                BotContext(job, self._transports(job), NOT_ATTACHED, self._settings.for_bot())
            )
        except BaseException:
            slot.release()
            raise
        handle.ctx.events = RunnerEvents(handle, self._lifecycle, self._transcript)
        handle.slot = slot
        task = asyncio.create_task(self._supervise(handle), name=f"bot-{conversation_id}")
        handle.task = task
        self._bots[conversation_id] = handle

        def ended(_task: asyncio.Task[None]) -> None:
            self._forget(conversation_id, handle)
            slot.release()  # already, if a stop gave up on the bot

        task.add_done_callback(ended)
        logger.info("conversation %s: bot started on %s", conversation_id, self.owner_id)
        launched = time.monotonic()
        ready = asyncio.create_task(handle.ready.wait())
        try:
            await asyncio.wait(
                {ready, task},
                timeout=self._settings.bot_ready_timeout_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
        if handle.ready.is_set() and not task.done():
            metrics.bot_ready(time.monotonic() - launched)
            return
        if not task.done():
            await self.cancel(conversation_id, EndReason.BOT_ERROR)
            raise BotStartError("the voice bot did not get ready in time")
        if isinstance(handle.error, RoomJoinError):
            raise BotJoinFailed(f"the voice bot could not join its room ({handle.error})")
        raise BotStartError(f"the voice bot stopped while starting ({_describe(handle.error)})")

    async def _supervise(self, handle: BotHandle) -> None:
        conversation_id = handle.ctx.conversation_id
        deadlines = asyncio.create_task(self._deadlines(handle))
        reason: EndReason = EndReason.BOT_ERROR
        metrics.bot_running(self.owner_id, +1)
        try:
            reason = await self._run_bot(handle.ctx) or EndReason.USER_LEFT
        except asyncio.CancelledError:
            reason = handle.cancel_reason or EndReason.SERVER_SHUTDOWN
        except ConversationNoLongerLive:
            logger.info("conversation %s: ended before its bot was ready", conversation_id)
        except RoomJoinError as exc:
            handle.error, reason = exc, EndReason.ROOM_ERROR
            logger.error(
                "conversation %s: the bot could not join its room: %s", conversation_id, exc
            )
        except Exception as exc:
            handle.error = exc
            logger.exception("conversation %s: bot crashed: %s", conversation_id, _describe(exc))
        finally:
            metrics.bot_running(self.owner_id, -1)
            deadlines.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadlines
            await _uncancellable(self._close_transport(handle))
            await _uncancellable(self._write_lines(conversation_id))
            await _uncancellable(self._finish(conversation_id, reason))

    async def _close_transport(self, handle: BotHandle) -> None:
        await bounded(
            handle.ctx.transport.close(),
            f"conversation {handle.ctx.conversation_id}: closing the bot's transport",
        )

    async def _write_lines(self, conversation_id: uuid.UUID) -> None:
        # The topics are gathered from the stored lines: store the last ones before the end.
        if self._transcript is None:
            return
        try:
            await self._transcript.flush()
        except Exception as exc:
            logger.warning(
                "conversation %s: its last lines wait for the database: %s",
                conversation_id,
                _describe(exc),
            )

    def running_ids(self) -> list[uuid.UUID]:
        """The conversations whose bot runs here (ready or not)."""
        return list(self._bots)

    def ready_ids(self) -> list[uuid.UUID]:
        """The conversations whose bot runs here and was ready."""
        return [cid for cid, handle in self._bots.items() if handle.ready.is_set()]

    async def _deadlines(self, handle: BotHandle) -> None:
        settings = self._settings
        await asyncio.sleep(settings.join_timeout_seconds)
        if not handle.joined:
            self._request_cancel(handle, EndReason.USER_NEVER_JOINED)
            return
        await asyncio.sleep(max(0.0, settings.max_duration_seconds - settings.join_timeout_seconds))
        self._request_cancel(handle, EndReason.MAX_DURATION)

    def _request_cancel(self, handle: BotHandle, reason: EndReason) -> None:
        if handle.cancel_reason is None:
            handle.cancel_reason = reason
            logger.info(
                "conversation %s: stopping the bot (%s)", handle.ctx.conversation_id, reason.value
            )
        if handle.task is not None:
            handle.task.cancel()

    async def cancel(self, conversation_id: uuid.UUID, reason: EndReason) -> bool:
        """Stop a conversation's bot and wait until it has ended; False if none runs.

        Every step of a bot's teardown is bounded, so it ends within a few CLOSE_TIMEOUTs; one
        that still runs after STOP_TIMEOUT_SECONDS is given up on: its slot is freed and its
        end recorded now (recording it again when it does end changes nothing).
        """
        handle = self._bots.get(conversation_id)
        if handle is None or handle.task is None:
            return False
        self._request_cancel(handle, reason)
        done, _ = await asyncio.wait({handle.task}, timeout=STOP_TIMEOUT_SECONDS)
        if not done and self._bots.get(conversation_id) is handle:
            logger.error(
                "conversation %s: its bot did not stop within %.0f s: its slot is freed",
                conversation_id,
                STOP_TIMEOUT_SECONDS,
            )
            del self._bots[conversation_id]
            if handle.slot is not None:
                handle.slot.release()
            # Held until it does end (shutdown waits for it, bounded): it may still write.
            self._given_up.add(handle.task)
            handle.task.add_done_callback(self._given_up.discard)
            await _uncancellable(self._finish(conversation_id, handle.cancel_reason or reason))
        return True

    def transport(self, conversation_id: uuid.UUID) -> BotTransport | None:
        """The transport of a running bot (tests hand scripted connections through it)."""
        handle = self._bots.get(conversation_id)
        return None if handle is None else handle.ctx.transport

    async def drain(self, grace_seconds: float) -> None:
        """Take no new bot; let the running ones end on their own for up to `grace_seconds`,
        then stop the rest (`server_shutdown`)."""
        self.admission.close()
        tasks = [h.task for h in self._bots.values() if h.task is not None]
        if tasks:
            logger.info(
                "draining: waiting up to %.0fs for %d bots to end", grace_seconds, len(tasks)
            )
            await asyncio.wait(tasks, timeout=grace_seconds)
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop every bot (`server_shutdown`) and refuse new ones."""
        self.admission.close()
        ids = list(self._bots)
        if ids:
            logger.info("stopping %d bots for shutdown", len(ids))
        await asyncio.gather(*(self.cancel(cid, EndReason.SERVER_SHUTDOWN) for cid in ids))
        if self._given_up:
            logger.warning(
                "waiting up to %.0fs for %d stuck bots", STOP_TIMEOUT_SECONDS, len(self._given_up)
            )
            await asyncio.wait(self._given_up, timeout=STOP_TIMEOUT_SECONDS)


async def _uncancellable(work: Coroutine[Any, Any, None]) -> None:
    """Run to the end even if the caller is cancelled again meanwhile (the end is recorded)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    task.result()


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "it ended on its own"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
