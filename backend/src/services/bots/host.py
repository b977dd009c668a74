"""Hosting bots in a process: loading the bot once.

Used by the API in the embedded mode and by every worker process: one code path for both.
"""

from __future__ import annotations

import logging

from src.contract.bot import RunBot
from src.core.settings import Settings

logger = logging.getLogger(__name__)


async def load_voice_bot(settings: Settings) -> RunBot:
    """The pipecat voice bot, with the shared speech models loaded off the event loop."""
    # Imported here: pipecat and the speech models are heavy and only bot hosts need them.
    from src.voice_pipeline.pipecat_bot import preload, run_bot

    await preload(settings)
    return run_bot
