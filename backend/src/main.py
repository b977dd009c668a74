"""The FastAPI application: `create_app()` builds it from settings (`uvicorn --factory`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from src.api import health, metrics, pages
from src.api.v1.endpoints import rooms
from src.api.v1.router import api_router
from src.contract.bot import RunBot
from src.core.database import Database
from src.core.errors import install_error_handlers
from src.core.logging import configure_logging
from src.core.settings import Settings, get_settings
from src.rooms import create_room_provider
from src.rooms.base import RoomProvider
from src.services.bots.dispatch import Bots, EmbeddedBots, embedded_owner_id
from src.services.bots.host import load_voice_bot, sweep_forever
from src.services.bots.runner import BotRunner
from src.services.conversations.lifecycle import ConversationLifecycle
from src.services.conversations.start import ConversationServices
from src.services.conversations.transcript import TranscriptWriter
from src.services.throttling import Throttle
from src.services.webhooks import outbox
from src.services.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)


async def _reconcile(lifecycle: ConversationLifecycle) -> None:
    try:
        await lifecycle.reconcile_after_restart()
    except Exception:
        logger.exception("could not reconcile conversations left by a previous process")


def _webhook_sender(database: Database, settings: Settings) -> WebhookSender | None:
    # Events are written only where webhooks are configured (workers too), sent from here.
    if not settings.webhooks_enabled:
        return None
    outbox.enable(database)
    logger.info("webhooks: sending conversation events to %s", _origin(settings.webhook_url))
    return WebhookSender(database, settings)


def _origin(url: str | None) -> str:
    # Scheme and host only: a URL's path or query may carry a token of the receiver's.
    parsed = httpx.URL(url or "")
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def create_app(
    settings: Settings | None = None,
    *,
    run_bot: RunBot | None = None,
    wrap_bot: Callable[[RunBot], RunBot] | None = None,
) -> FastAPI:
    """Build the app; its resources open in the lifespan and close with it.

    With REDIS_URL set the app runs no bot: workers do (`python -m src.worker`).

    Args:
        settings: The settings (default: from the environment).
        run_bot: The bot to run for each conversation (default: the pipecat voice bot).
        wrap_bot: Wraps the bot (the fault drills inject crashes into the real bot so).
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.pipecat_log_level, settings.log_format)
    for warning in settings.production_warnings():
        logger.warning("%s", warning)

    async def embedded_bots(
        lifecycle: ConversationLifecycle,
        rooms: RoomProvider,
        transcript: TranscriptWriter,
        background: list[asyncio.Task[None]],
    ) -> Bots:
        bot = run_bot or await load_voice_bot(settings)
        if wrap_bot is not None:
            bot = wrap_bot(bot)
        runner = BotRunner(
            bot,
            lifecycle,
            settings,
            transports=rooms.bot_transport,
            owner_id=embedded_owner_id(),
            capacity=settings.max_bots,
            transcript=transcript,
        )
        await _reconcile(lifecycle)
        background.append(
            asyncio.create_task(sweep_forever(lifecycle, runner, settings), name="sweeper")
        )
        return EmbeddedBots(runner, rooms)

    async def worker_bots(
        app: FastAPI, lifecycle: ConversationLifecycle, background: list[asyncio.Task[None]]
    ) -> Bots:
        from src.services.bots.reaper import WorkerReaper
        from src.services.bots.redis_dispatch import RedisBots, connect_redis

        redis = connect_redis(settings)
        app.state.redis = redis
        background.append(
            asyncio.create_task(
                WorkerReaper(redis, settings, lifecycle).run_forever(), name="reaper"
            )
        )
        background.append(
            asyncio.create_task(sweep_forever(lifecycle, None, settings), name="sweeper")
        )
        return RedisBots(redis, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, application_name="numerologist-api")
        sender = _webhook_sender(database, settings)
        rooms = create_room_provider(settings)
        lifecycle = ConversationLifecycle(database, rooms)
        # Where this process's bots store their lines (unused by an API in the worker mode).
        transcript = TranscriptWriter(database)
        background: list[asyncio.Task[None]] = [
            asyncio.create_task(transcript.run_forever(), name="transcript")
        ]
        if sender is not None:
            sender.start()
        if settings.worker_mode:
            bots = await worker_bots(app, lifecycle, background)
        else:
            bots = await embedded_bots(lifecycle, rooms, transcript, background)
        app.state.database = database
        app.state.services = ConversationServices(settings, rooms, bots, lifecycle)
        app.state.throttle = throttle = Throttle(settings)
        logger.info(
            "started (%s database, %s rooms, bots: %s)",
            database.engine.dialect.name,
            settings.room_provider,
            bots.mode,
        )
        try:
            yield
        finally:
            await throttle.close()
            await bots.close()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await transcript.close()
            if sender is not None:
                await sender.close()
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
    app.state.redis = None
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Bearer tokens, not cookies: no credentials mode needed.
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(api_router)
    app.include_router(rooms.room_url_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.WEB_DIR), name="static")
    return app
