"""The bot's way into a Daily room: pipecat's Daily transport, joined before the bot is ready.

pipecat joins a Daily room only when the pipeline sets its transport up, after the bot has
reported ready; a refused join would then surface only as `user_never_joined` a minute later.
So `join()` joins first, through the same pipecat client the pipeline then uses: the client's
setup and join are shared resources (`pipecat.utils.shared`), so the pipeline's own setup and
join find them done, and `close()` releases the hold taken here, which leaves the room and
releases daily-python's `CallClient` once the pipeline has let go of it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from src.rooms.base import RoomJob, RoomJoinError

logger = logging.getLogger(__name__)

BOT_NAME = "Numerologist"
# The pipeline's rates (pipecat's defaults), fixed here because the client is set up before it.
AUDIO_IN_SAMPLE_RATE = 16000
AUDIO_OUT_SAMPLE_RATE = 24000


class DailyBotTransport:
    """A bot's way into a Daily room (needs the internet; daily-python does the media).

    Args:
        job: The conversation's room URL and the bot's meeting token.
        join_timeout: How long Daily may take to let the bot in.
    """

    joined_event = "on_first_participant_joined"
    left_event = "on_participant_left"
    # The bot stays in the room: a user who rejoins with a new token is a participant again.
    rejoined_event = "on_participant_joined"
    # Joined means in the room, not that the user's audio is flowing: greet on their first
    # audio, or after the bot's short fallback wait.
    media_ready_on_join = False
    # daily-python sends what pipecat writes: no queue of ours to hold or cut.
    speech = None

    def __init__(self, job: RoomJob, join_timeout: float) -> None:
        self._job = job
        self._join_timeout = join_timeout
        self._transport: Any = None
        self._tasks: Any = None
        self._held = False

    def _make(self) -> Any:
        from pipecat.transports.daily.transport import DailyParams, DailyTransport

        if self._transport is None:
            self._transport = DailyTransport(
                self._job.room_url,
                self._job.bot_token,
                BOT_NAME,
                DailyParams(
                    audio_in_enabled=True,
                    audio_out_enabled=True,
                    audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE,
                    audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE,
                ),
            )
        return self._transport

    async def join(self) -> None:
        """Join the room with the bot's token; return once Daily has let the bot in.

        Raises:
            RoomJoinError: Daily refused the join, reported an error, or did not answer within
                the join timeout.
        """
        transport = self._make()
        outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        async def joined(_transport: Any, _data: Any) -> None:
            if not outcome.done():
                outcome.set_result(None)

        async def failed(_transport: Any, message: Any) -> None:
            if not outcome.done():
                outcome.set_result(str(message))

        transport.add_event_handler("on_joined", joined)
        transport.add_event_handler("on_error", failed)
        try:
            error = await self._attempt(transport, outcome)
        finally:
            transport.remove_event_handler("on_joined", joined)
            transport.remove_event_handler("on_error", failed)
        if error is not None:
            raise RoomJoinError(error)
        logger.info("conversation %s: bot joined the Daily room", self._job.conversation_id)

    async def _attempt(self, transport: Any, outcome: asyncio.Future[str | None]) -> str | None:
        from src.compat.pipecat_daily import daily_client

        client = daily_client(transport)  # shared with the pipeline
        await client.setup(self._setup())
        self._held = True
        attempt = asyncio.ensure_future(client.join())
        try:
            await asyncio.wait(
                {attempt, outcome}, timeout=self._join_timeout, return_when="FIRST_COMPLETED"
            )
            if not outcome.done() and attempt.done():
                # pipecat reports a failed join through `on_error` handlers run as tasks.
                await asyncio.sleep(0)
        finally:
            if not attempt.done():
                attempt.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await attempt
        if outcome.done():
            return outcome.result()
        if attempt.cancelled() or not attempt.done():
            return f"Daily did not let the bot in within {self._join_timeout:g} s"
        failure = attempt.exception()
        return f"the join failed: {failure!r}" if failure else "the join ended without a verdict"

    def _setup(self) -> Any:
        from pipecat.clocks.system_clock import SystemClock
        from pipecat.processors.frame_processor import FrameProcessorSetup
        from pipecat.utils.asyncio.task_manager import TaskManager

        self._tasks = TaskManager(loop=asyncio.get_running_loop())
        return FrameProcessorSetup(
            clock=SystemClock(),  # type: ignore[no-untyped-call]
            task_manager=self._tasks,
            pipeline_worker=None,  # type: ignore[arg-type]  # the client never reads it
            audio_in_sample_rate=AUDIO_IN_SAMPLE_RATE,
            audio_out_sample_rate=AUDIO_OUT_SAMPLE_RATE,
        )

    async def open(self) -> Any:
        """pipecat's Daily transport for the room (joined already when `join` succeeded)."""
        return self._make()

    async def gone(self, idle_timeout: float) -> None:
        """Never returns: Daily itself reports a participant who vanished."""
        await asyncio.Event().wait()

    async def take_rejoins(self, transport: Any) -> None:
        """Nothing to wire: Daily's transport takes the user's new participant itself."""
        await asyncio.Event().wait()

    async def drop_user(self) -> None:
        """Nothing to hang up: Daily reports a vanished participant as left."""

    async def close(self) -> None:
        """Release the hold `join` took: the last holder leaves the room and frees the client."""
        if not self._held:
            return
        self._held = False
        from src.compat.pipecat_daily import daily_client

        client = daily_client(self._transport)
        try:
            await client.leave()
        finally:
            await client.cleanup()
