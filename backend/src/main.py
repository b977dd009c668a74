"""The FastAPI application: `create_app()` builds it from settings (`uvicorn --factory`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from src.api import health
from src.api.v1.router import api_router
from src.core.database import Database
from src.core.errors import install_error_handlers
from src.core.logging import configure_logging
from src.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; its resources open in the lifespan and close with it."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        app.state.database = database
        logger.info(
            "started (%s database, %s rooms)", database.engine.dialect.name, settings.room_provider
        )
        try:
            yield
        finally:
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
    return app
