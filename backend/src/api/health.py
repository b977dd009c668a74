"""Health: `/health` (database round trip and the load), and the orchestrators' probes
`/health/live` (the process answers) and `/health/ready` (its dependencies answer)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from src.core.database import Database
from src.core.errors import DomainError
from src.schemas.common import ErrorResponse

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# A readiness probe answers within this, whatever hangs.
READY_TIMEOUT_SECONDS = 2.0


class DependencyUnavailable(DomainError):
    """A dependency the service needs to take requests does not answer."""

    status_code = 503
    code = "not_ready"


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Whether the service and its database answer."""
    database: Database = request.app.state.database
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "unreachable",
                "error": "database_unreachable",
                "detail": "The database does not answer: check DATABASE_URL and the server.",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", **await _load(request)})


async def _load(request: Request) -> dict[str, Any]:
    """Embedded: bots running in this process and local rooms open (None with Daily's rooms).
    Workers: the live workers and the bots they run."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return {}
    status: dict[str, Any] = await services.bots.status()
    return status


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Whether the process answers (no dependency is checked: restart it only if this fails)."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    responses={503: {"model": ErrorResponse, "description": "The database or Redis is down"}},
)
async def ready(request: Request) -> dict[str, str]:
    """Whether the service can take requests: its database, and Redis in the worker mode."""
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        raise DependencyUnavailable(
            "The database does not answer: check DATABASE_URL and the server."
        ) from None
    checks = {"status": "ok", "database": "ok"}
    redis = request.app.state.redis
    if redis is not None:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await redis.ping()
        except Exception as exc:
            logger.warning("readiness: Redis unreachable (%s)", type(exc).__name__)
            raise DependencyUnavailable(
                "Redis does not answer: check REDIS_URL and the server."
            ) from None
        checks["redis"] = "ok"
    return checks
