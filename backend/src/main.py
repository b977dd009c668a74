"""The FastAPI application: `create_app()` builds it from settings (`uvicorn --factory`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from src.api import health, pages
from src.api.v1.router import api_router
from src.core.database import Database
from src.core.errors import install_error_handlers
from src.core.logging import configure_logging
from src.core.settings import Settings, get_settings
from src.services.conversations.lifecycle import ConversationLifecycle
from src.services.conversations.start import ConversationServices
from src.services.rooms import create_room_provider
from src.voice_pipeline.context import RunBot
from src.voice_pipeline.runner import BotRunner

logger = logging.getLogger(__name__)


async def _default_run_bot(settings: Settings) -> RunBot:
    # Imported here: pipecat and the speech models are heavy and only the served app needs them.
    from src.voice_pipeline.pipecat_bot import preload, run_bot

    await preload(settings)
    return run_bot


async def _sweep_forever(
    lifecycle: ConversationLifecycle, runner: BotRunner, settings: Settings
) -> None:
    while True:
        await asyncio.sleep(settings.room_sweep_interval_seconds)
        try:
            await runner.record_owed_ends()
            await lifecycle.sweep(settings.idempotency_ttl_seconds)
        except Exception as exc:
            logger.error("the room sweep failed, it runs again later: %s", type(exc).__name__)


async def _reconcile(lifecycle: ConversationLifecycle) -> None:
    try:
        await lifecycle.reconcile_after_restart()
    except Exception:
        logger.exception("could not reconcile conversations left by a previous process")


def create_app(
    settings: Settings | None = None,
    *,
    run_bot: RunBot | None = None,
    wrap_bot: Callable[[RunBot], RunBot] | None = None,
) -> FastAPI:
    """Build the app; its resources open in the lifespan and close with it.

    Args:
        settings: The settings (default: from the environment).
        run_bot: The bot to run for each conversation (default: the pipecat voice bot).
        wrap_bot: Wraps the bot (the fault drills inject crashes into the real bot so).
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.pipecat_log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        rooms = create_room_provider(settings)
        lifecycle = ConversationLifecycle(database, rooms)
        bot = run_bot or await _default_run_bot(settings)
        if wrap_bot is not None:
            bot = wrap_bot(bot)
        runner = BotRunner(bot, lifecycle, settings)
        app.state.database = database
        app.state.services = ConversationServices(settings, rooms, runner, lifecycle)
        await _reconcile(lifecycle)
        sweeper = asyncio.create_task(
            _sweep_forever(lifecycle, runner, settings), name="room-sweeper"
        )
        logger.info(
            "started (%s database, %s rooms)", database.engine.dialect.name, settings.room_provider
        )
        try:
            yield
        finally:
            await runner.shutdown()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await rooms.close()
            await database.dispose()
            logger.info("stopped")

    app = FastAPI(
        title="Numerologist voice backend",
        version="0.1.0",
        description="Sign in, start a voice conversation and talk to an AI numerologist.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.WEB_DIR), name="static")
    return app
