"""Typed domain errors and the handlers that render every error as one JSON shape.

Every error answers ``{"error": "<machine_code>", "detail": "<message for a person>"}``.
Services raise these classes; they never import HTTPException.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error the API answers on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_detail: ClassVar[str] = "Something went wrong on our side. Please try again."
    # Seconds a client should wait before trying again (sent as Retry-After), if any.
    retry_after: ClassVar[int | None] = None

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))
        # Written in its own transaction after the request's rollback (see get_session).
        self.failure_record: Callable[[AsyncSession], Awaitable[None]] | None = None
        super().__init__(self.detail)


class NotAuthenticated(DomainError):
    """No usable credentials: missing, malformed, badly signed or expired token."""

    status_code = 401
    code = "not_authenticated"
    default_detail = "Sign in first: send 'Authorization: Bearer <access token>'."

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(NotAuthenticated):
    """Wrong email or password (the same message for both)."""

    code = "invalid_credentials"
    default_detail = "The email or password is incorrect."


class PasswordIncorrect(DomainError):
    """A signed-in user's re-entered password is wrong (a password change, account deletion).

    403, not 401: the session itself is fine, and a client must not sign out over it.
    """

    status_code = 403
    code = "password_incorrect"
    default_detail = "The password is incorrect."


class InvalidTokenSubject(DomainError):
    """A token that verifies but does not name a user id."""

    status_code = 400
    code = "invalid_token_subject"
    default_detail = "The token's subject is not a valid user id."


class EmailAlreadyRegistered(DomainError):
    """Registration with an email that already has an account."""

    status_code = 409
    code = "email_already_registered"
    default_detail = "An account with this email already exists. Sign in instead."


class NotFound(DomainError):
    """The resource does not exist, or is not the caller's."""

    status_code = 404
    code = "not_found"
    default_detail = "Not found."


class DatabaseUnavailable(DomainError):
    """The database does not answer (down, restarting, unreachable or out of connections)."""

    status_code = 503
    code = "database_unavailable"
    default_detail = (
        "The service cannot reach its database just now, so the request was not completed. "
        "Try again in a few seconds."
    )
    retry_after = 5


class TooManyAttempts(DomainError):
    """Too many failed sign-ins or registrations from one address, or for one email.

    The same answer whether or not the account exists, so it reveals nothing about it.
    """

    status_code = 429
    code = "too_many_attempts"
    default_detail = "Too many attempts. Wait a few minutes (see Retry-After) and try again."

    def __init__(self, retry_after_seconds: int):
        super().__init__(headers={"Retry-After": str(retry_after_seconds)})


class Conflict(DomainError):
    """The request does not fit the resource's current state."""

    status_code = 409
    code = "conflict"


def _error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


async def _domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if exc.status_code >= 500:
        logger.error("%s: %s", exc.code, exc.detail, exc_info=exc.__cause__)
    return JSONResponse(
        _error_body(exc.code, exc.detail), status_code=exc.status_code, headers=exc.headers
    )


def _describe_validation_error(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "is invalid"))
    return f"{location}: {message}" if location else message


async def _validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "; ".join(_describe_validation_error(error) for error in errors[:10])
    fields = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
        for e in errors[:10]
    ]
    return JSONResponse(
        _error_body("validation_error", detail or "The request is invalid.", fields=fields),
        status_code=422,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
    return JSONResponse(_error_body(code, detail), status_code=exc.status_code, headers=exc.headers)


def _database_unreachable(exc: Exception) -> bool:
    """Whether the error is the database connection failing rather than a query's fault."""
    if isinstance(exc, OSError | SQLAlchemyTimeoutError | DisconnectionError):
        return True  # refused, reset or timed out connecting; no pooled connection free
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, OSError)
    )


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not _database_unreachable(exc):
        return await _unexpected_error_handler(request, exc)
    # The type only: a driver's message can carry the SQL and its parameters.
    logger.error(
        "database unreachable during %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    error = DatabaseUnavailable()
    return JSONResponse(
        _error_body(error.code, error.detail), status_code=error.status_code, headers=error.headers
    )


async def _unexpected_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return JSONResponse(_error_body(DomainError.code, DomainError.default_detail), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    for database_error in (OSError, DBAPIError, SQLAlchemyTimeoutError, DisconnectionError):
        app.add_exception_handler(database_error, _database_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
