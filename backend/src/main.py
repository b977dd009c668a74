"""The FastAPI application: `create_app()` builds it from settings (`uvicorn --factory`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from src.api import health, metrics, pages
from src.api.limits import BodyLimitMiddleware
from src.api.v1.endpoints import rooms
from src.api.v1.router import api_router
from src.contract.bot import RunBot
from src.core.database import Database
from src.core.errors import install_error_handlers
from src.core.heap import freeze_startup_objects
from src.core.logging import configure_logging
from src.core.settings import Settings, get_settings
from src.services.bots.admission import Admission
from src.services.bots.dispatch import Bots, EmbeddedBots, embedded_owner_id
from src.services.conversations.events import ConversationFeeds
from src.services.conversations.start import ConversationServices
from src.services.host import BotHost, load_voice_bot
from src.services.throttling import Throttle
from src.services.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)


def _webhook_sender(database: Database, settings: Settings) -> WebhookSender | None:
    # Events are written wherever webhooks are configured (workers too), sent from here.
    if not settings.webhooks_enabled:
        return None
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
    if settings.jwt_secret_generated:
        logger.warning(
            "JWT_SECRET is not set: signing tokens with a random secret made for this start "
            "(tokens end when the process does; set JWT_SECRET to keep them across restarts)"
        )

    async def embedded_bots(host: BotHost) -> Bots:
        bot = run_bot or await load_voice_bot(settings)
        if wrap_bot is not None:
            bot = wrap_bot(bot)
        runner = host.run_bots(
            bot, owner_id=embedded_owner_id(), admission=Admission(settings.max_bots)
        )
        await host.recovery.reconcile_after_restart()
        host.sweep()
        return EmbeddedBots(runner, host.rooms)

    async def worker_bots(app: FastAPI, host: BotHost) -> Bots:
        from src.services.bots.redis_dispatch import RedisBots, connect_redis

        app.state.redis = redis = connect_redis(settings)
        host.reap(redis)
        host.sweep()
        return RedisBots(redis, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.host = host = BotHost(settings, "api")
        sender = _webhook_sender(host.database, settings)
        if sender is not None:
            sender.start()
        if settings.worker_mode:
            bots = await worker_bots(app, host)
        else:
            bots = await embedded_bots(host)
        app.state.database = host.database
        app.state.services = ConversationServices(settings, host.rooms, bots, host.lifecycle)
        app.state.throttle = throttle = Throttle(settings)
        app.state.feeds = feeds = ConversationFeeds(
            host.database, settings.max_event_streams_per_user
        )
        freeze_startup_objects()
        logger.info(
            "started (%s database, %s rooms, bots: %s)",
            host.database.engine.dialect.name,
            settings.room_provider,
            bots.mode,
        )
        try:
            yield
        finally:
            await throttle.close()
            await feeds.close()
            await bots.close()
            if sender is not None:
                await sender.close()
            await host.close()
            logger.info("stopped")

    app = FastAPI(
        title="Numerologist voice backend",
        version="0.1.0",
        description="Sign in, start a voice conversation and talk to an AI numerologist.",
        lifespan=lifespan,
        # Off in production unless API_DOCS=true: the schema maps every route for a stranger.
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.redis = None
    # Inside CORS (added later, so outside it): a 413 carries the CORS headers a page reads.
    app.add_middleware(BodyLimitMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Bearer tokens, not cookies: no credentials mode needed.
            allow_credentials=False,
            # Every method the API routes take (PATCH: candidates; DELETE: a conversation,
            # the account).
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
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
    app.mount("/static", pages.StaticWithHeaders(directory=pages.WEB_DIR), name="static")
    return app
