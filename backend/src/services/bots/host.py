"""Hosting bots in a process: loading the bot once, and the housekeeping beside its runner.

Used by the API in the embedded mode and by every worker process: one code path for both.
"""

from __future__ import annotations

import asyncio
import logging

from src.contract.bot import ConversationRecords, RunBot
from src.core.settings import Settings
from src.services.bots.runner import BotRunner

logger = logging.getLogger(__name__)


async def load_voice_bot(settings: Settings) -> RunBot:
    """The pipecat voice bot, with the shared speech models loaded off the event loop."""
    # Imported here: pipecat and the speech models are heavy and only bot hosts need them.
    from src.voice_pipeline.bot import preload, run_bot

    await preload(settings)
    return run_bot


async def sweep_forever(
    lifecycle: ConversationRecords,
    runner: BotRunner | None,
    settings: Settings,
    interval: float | None = None,
) -> None:
    """Retry what failed (ends not recorded, rooms not deleted); stop bots of ended calls."""
    interval = interval or settings.room_sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            if runner is not None:
                await runner.record_owed_ends()
                await runner.stop_ended()
            await lifecycle.sweep(settings.idempotency_ttl_seconds)
        except Exception as exc:
            logger.error("the sweep failed, it runs again later: %s", type(exc).__name__)
