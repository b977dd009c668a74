"""Shared response bodies."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    """Every error's shape."""

    error: str
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI declarations of the error responses an operation can give."""
    descriptions = {
        400: "Bad request (for example a token whose subject is not a user id)",
        401: "Not signed in, or the token is invalid or expired",
        404: "Not found, or not yours",
        409: "Conflict with the current state",
        410: "Gone: the conversation has ended",
        422: "The request body or parameters are invalid",
        429: "Too many requests; retry after the Retry-After header",
        500: "Server error; the detail says what failed",
        503: "Temporarily unavailable; retry after the Retry-After header",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in codes}
