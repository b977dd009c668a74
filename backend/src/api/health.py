"""Liveness with a real database round trip, and the load: bots running and rooms open."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from src.core.database import Database

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


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
