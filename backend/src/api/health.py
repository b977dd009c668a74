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


_DATABASE_DOWN = "The database does not answer: check DATABASE_URL and the server."


def _json(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


@router.get(
    "/health",
    responses={
        200: _json(
            "The database answers; the bots and rooms of this process (embedded), or the workers",
            {"status": "ok", "database": "ok", "mode": "embedded", "bots": 1, "rooms": 1},
        ),
        503: _json(
            "The database does not answer",
            {
                "status": "unavailable",
                "database": "unreachable",
                "error": "database_unreachable",
                "detail": _DATABASE_DOWN,
            },
        ),
    },
)
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
                "detail": _DATABASE_DOWN,
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


@router.get("/health/live", responses={200: _json("The process answers", {"status": "ok"})})
async def live() -> dict[str, str]:
    """Whether the process answers (no dependency is checked: restart it only if this fails)."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    responses={
        200: _json(
            "The database (and Redis in the worker mode) answer",
            {"status": "ok", "database": "ok", "redis": "ok"},
        ),
        503: {
            "model": ErrorResponse,
            **_json(
                "The database or Redis is down", {"error": "not_ready", "detail": _DATABASE_DOWN}
            ),
        },
    },
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
        if request.app.state.settings.ready_requires_worker:
            checks["workers"] = await _worker_taking_calls(request)
    return checks


async def _worker_taking_calls(request: Request) -> str:
    """`ok` when a live worker takes calls (not draining, below its bot count), else 503."""
    services = request.app.state.services
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            workers = await services.bots.workers()
    except Exception as exc:
        logger.warning("readiness: the workers could not be read (%s)", type(exc).__name__)
        workers = []
    if not any(w.bots < w.capacity and not w.draining for w in workers):
        raise DependencyUnavailable(
            "No worker takes calls yet: they may still be loading their models; "
            "check that the workers run (make worker) with the same REDIS_URL."
        )
    return "ok"
