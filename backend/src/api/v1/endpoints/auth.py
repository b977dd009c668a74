"""Registration and sign-in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from src.api.deps import ClientAddress, CurrentUser, SessionDep, SettingsDep, ThrottleDep
from src.core.errors import EmailAlreadyRegistered, InvalidCredentials, TooManyAttempts
from src.core.security import create_access_token
from src.core.settings import Settings
from src.models.user import User
from src.schemas.common import error_responses
from src.schemas.user import (
    LoginRequest,
    RegisterRequest,
    RegisterResponse,
    TokenResponse,
    UserRead,
)
from src.services import users

router = APIRouter(prefix="/auth", tags=["auth"])

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "Your email"},
                        "password": {"type": "string", "format": "password"},
                    },
                },
                "example": {"username": "ada@example.com", "password": "correct horse battery"},
            },
        },
    }
}


def token_for(user: User, settings: Settings) -> TokenResponse:
    """A new access token for the user, under the user's current token version."""
    token = create_access_token(
        user.id,
        version=user.token_version,
        secret=settings.jwt_secret,
        expire_minutes=settings.access_token_expire_minutes,
    )
    return TokenResponse(access_token=token, expires_in=settings.access_token_expire_minutes * 60)


@router.post(
    "/register",
    status_code=201,
    response_model=RegisterResponse,
    responses=error_responses(errors=(EmailAlreadyRegistered, TooManyAttempts)),
)
async def register(
    data: RegisterRequest,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    address: ClientAddress,
) -> RegisterResponse:
    """Create an account and return it with an access token (registrations per address are
    limited)."""
    await throttle.registration(address)
    user = await users.register(session, data)
    token = token_for(user, settings)
    return RegisterResponse(user=UserRead.model_validate(user), **token.model_dump())


async def _read_login(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in _FORM_TYPES:
            form = await request.form()
            return LoginRequest(email=form.get("username"), password=form.get("password"))
        return LoginRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra=_LOGIN_BODY,
    responses=error_responses(errors=(InvalidCredentials, TooManyAttempts)),
)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    address: ClientAddress,
) -> TokenResponse:
    """Sign in with email and password (JSON, or the OAuth2 password form) for an access token
    (failed attempts per email, per address and per both are limited)."""
    data = await _read_login(request)
    async with throttle.login_attempt(data.email, address):
        user = await users.authenticate(session, data.email, data.password)
    return token_for(user, settings)


@router.post(
    "/logout",
    status_code=204,
    responses={
        204: {"description": "Signed out: every token of the account is revoked"},
        **error_responses(400, 401),
    },
)
async def logout(current_user: CurrentUser) -> None:
    """Sign out: revoke this access token and every other one of the account."""
    users.revoke_tokens(current_user)
