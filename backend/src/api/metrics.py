"""`/metrics`: Prometheus text, behind a bearer token when METRICS_TOKEN is set (in production
without one, 404)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from src.api.deps import SettingsDep
from src.core import metrics
from src.core.errors import NotAuthenticated, NotFound
from src.schemas.common import ErrorResponse

router = APIRouter(tags=["health"])
_TOKEN_DETAIL = "Send 'Authorization: Bearer <METRICS_TOKEN>' to read the metrics."
_OFF_DETAIL = "Metrics are off: in production they are served only once METRICS_TOKEN is set."
_EXAMPLE = """\
# TYPE numerologist_conversations_started_total counter
numerologist_conversations_started_total{outcome="started"} 3.0
# TYPE numerologist_voice_to_voice_seconds histogram
numerologist_voice_to_voice_seconds_bucket{le="1.0"} 5.0
numerologist_voice_to_voice_seconds_count 6.0
numerologist_voice_to_voice_seconds_sum 4.9
"""
_bearer = HTTPBearer(auto_error=False)


def _check_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = settings.metrics_token
    if expected is None:
        if settings.environment == "production":
            # Open metrics tell a stranger the load and the failures: production needs a token.
            raise NotFound(_OFF_DETAIL)
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthenticated(_TOKEN_DETAIL)


@router.get(
    "/metrics",
    dependencies=[Depends(_check_token)],
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": _EXAMPLE}},
            "description": "Prometheus text exposition",
        },
        401: {
            "model": ErrorResponse,
            "description": "METRICS_TOKEN is set and was not sent",
            "content": {
                "application/json": {
                    "example": {"error": NotAuthenticated.code, "detail": _TOKEN_DETAIL}
                }
            },
        },
        404: {
            "model": ErrorResponse,
            "description": "Production without METRICS_TOKEN: metrics are off",
            "content": {
                "application/json": {"example": {"error": NotFound.code, "detail": _OFF_DETAIL}}
            },
        },
    },
)
async def read_metrics() -> Response:
    """Conversations started and ended, bots running, start, bot-ready and speech latencies."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
