"""One bot host: the parts of a process that records conversations and may run their bots.

`BotHost` assembles the database, the room provider, the lifecycle, the recovery, the
transcript writer and, where bots run, their runner. The API (`src/main.py`) and a worker
(`src/worker/process.py`) each build one and differ only in what they start on it:

- the API in the embedded mode: bots (`run_bots`), reconciliation after a restart, the sweep;
- the API in the worker mode: the sweep and the reaper (its bots run in workers);
- a worker: bots (with its load threshold), the sweep every two seconds and the reaper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from src.contract.bot import RunBot
from src.core.database import Database
from src.core.settings import Settings
from src.rooms import create_room_provider
from src.services.bots.admission import Admission
from src.services.bots.runner import BotRunner
from src.services.conversations.lifecycle import ConversationLifecycle
from src.services.conversations.recovery import Recovery, WorkerReaper
from src.services.conversations.transcript import TranscriptWriter
from src.services.webhooks import outbox

logger = logging.getLogger(__name__)


async def load_voice_bot(settings: Settings) -> RunBot:
    """The pipecat voice bot, with the shared speech models loaded off the event loop."""
    # Imported here: pipecat and the speech models are heavy and only bot hosts need them.
    from src.voice_pipeline.bot import preload, run_bot

    await preload(settings)
    return run_bot


class BotHost:
    """A process's database, rooms, lifecycle, recovery, transcript writer and bot runner.

    Args:
        settings: The settings.
        process: What the process is ("api", "worker"): its database connections' name.

    Attributes:
        runner: The bots' runner, once `run_bots` made it (None where no bot runs).
    """

    def __init__(self, settings: Settings, process: str) -> None:
        self.settings = settings
        self.database = Database(settings.database_url, application_name=f"numerologist-{process}")
        if settings.webhooks_enabled:
            # Events are written wherever conversations change (workers too); the API sends them.
            outbox.enable(self.database)
        self.rooms = create_room_provider(settings)
        self.lifecycle = ConversationLifecycle(self.database, self.rooms)
        self.recovery = Recovery(self.database, self.lifecycle, settings)
        # Where this process's bots store their lines (unused by an API in the worker mode).
        self.transcript = TranscriptWriter(self.database)
        self.runner: BotRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.start(self.transcript.run_forever(), "transcript")

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` until the host closes (held here, never fire-and-forget)."""
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)

    def run_bots(self, run_bot: RunBot, *, owner_id: str, admission: Admission) -> BotRunner:
        """The runner of this process's bots, recorded as `owner_id`, admitted by `admission`."""
        self.runner = BotRunner(
            run_bot,
            self.lifecycle,
            self.settings,
            finish=self.recovery.finish,
            transports=self.rooms.bot_transport,
            owner_id=owner_id,
            admission=admission,
            transcript=self.transcript,
        )
        return self.runner

    def sweep(self, interval: float | None = None) -> None:
        """Start the sweep: owed ends, this process's bots of ended calls, rooms, keys."""
        self.start(self.recovery.run_forever(self.runner, interval), "sweeper")

    def reap(self, redis: Redis) -> None:
        """Start the reaper: the calls of dead workers, and calls no worker ever claimed."""
        self.start(WorkerReaper(redis, self.settings, self.recovery).run_forever(), "reaper")

    async def close(self) -> None:
        """Stop what was started (the bots were stopped by their runner's shutdown or drain),
        then write the last lines and release the rooms and the database."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # A failure was logged when it happened.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.transcript.close()
        await self.rooms.close()
        await self.database.dispose()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("task %s failed: %r", task.get_name(), task.exception())
