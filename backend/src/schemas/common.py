"""Shared response bodies."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    """Every error's shape."""

    error: str
    detail: str


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class ValidationErrorResponse(ErrorResponse):
    """A 422: the error's shape, and which fields were invalid (when it was the request's shape)."""

    fields: list[FieldError] = []


# Any API operation can give these: a body that is not JSON or a token whose subject is not a
# user id (400), invalid parameters (422), the database out of reach (503).
ALWAYS = (400, 422, 503)


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI declarations of the error responses an operation can give."""
    descriptions = {
        400: "Bad request: a body that is not JSON, or a token whose subject is not a user id",
        401: "Not signed in, or the token is invalid or expired",
        404: "Not found, or not yours",
        409: "Conflict with the current state",
        410: "Gone: the conversation has ended",
        422: "The request body or parameters are invalid",
        429: "Too many requests; retry after the Retry-After header",
        500: "Server error; the detail says what failed",
        502: "The voice room could not be joined (`room_join_failed`); nothing was left open",
        503: "Temporarily unavailable (no bot free, or the database out of reach); retry after "
        "the Retry-After header",
    }
    return {
        code: {
            "model": ValidationErrorResponse if code == 422 else ErrorResponse,
            "description": descriptions[code],
        }
        for code in sorted({*codes, *ALWAYS})
    }
