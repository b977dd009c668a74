"""Shared response bodies."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from src.core.errors import (
    Conflict,
    DatabaseUnavailable,
    DomainError,
    InvalidTokenSubject,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)


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


# An example answer for each status, where the operation names none of its own.
_DEFAULT_EXAMPLES: dict[int, tuple[str, str]] = {
    400: (InvalidTokenSubject.code, InvalidTokenSubject.default_detail),
    401: (NotAuthenticated.code, NotAuthenticated.default_detail),
    404: (NotFound.code, NotFound.default_detail),
    409: (Conflict.code, "The request does not fit the resource's current state."),
    410: ("conversation_ended", "This conversation has ended."),
    422: ("validation_error", "email: value is not a valid email address"),
    429: (TooManyAttempts.code, TooManyAttempts.default_detail),
    500: (DomainError.code, DomainError.default_detail),
    503: (DatabaseUnavailable.code, DatabaseUnavailable.default_detail),
}


def error_responses(
    *codes: int, errors: Sequence[type[DomainError]] = ()
) -> dict[int | str, dict[str, object]]:
    """OpenAPI declarations of the error responses an operation can give, with examples.

    Args:
        codes: The statuses besides the ones every operation can give (ALWAYS).
        errors: The operation's own errors: each is an example of its status (declared too).
    """
    descriptions = {
        400: "Bad request: a body that is not JSON, or a token whose subject is not a user id",
        401: "Not signed in, or the token is invalid, expired or revoked",
        403: "The password given again is incorrect",
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
    statuses = sorted({*codes, *ALWAYS, *(error.status_code for error in errors)})
    return {
        code: {
            "model": ValidationErrorResponse if code == 422 else ErrorResponse,
            "description": descriptions[code],
            "content": {"application/json": {"examples": _examples(code, errors)}},
        }
        for code in statuses
    }


def _examples(status: int, errors: Sequence[type[DomainError]]) -> dict[str, object]:
    own = [(error.code, error.default_detail) for error in errors if error.status_code == status]
    if status == 503 and own:
        own.append(_DEFAULT_EXAMPLES[503])  # any operation can lose its database
    examples: dict[str, object] = {}
    for code, detail in own or [_DEFAULT_EXAMPLES[status]]:
        value: dict[str, object] = {"error": code, "detail": detail}
        if code == "validation_error":
            value["fields"] = [{"field": "body.email", "message": "value is not a valid email"}]
        examples[code] = {"summary": code, "value": value}
    return examples
