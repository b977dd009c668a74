"""Request dependencies: the database session and the signed-in user."""

from __future__ import annotations

import uuid
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.database import get_session
from src.core.errors import InvalidTokenSubject, NotAuthenticated
from src.core.security import ACCESS_AUDIENCE, decode_token
from src.core.settings import Settings
from src.models.user import User

__all__ = ["CurrentUser", "SessionDep", "SettingsDep", "get_current_user", "get_session"]

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> User:
    """The active user named by the bearer token.

    Raises:
        NotAuthenticated: no token, a malformed, badly signed, unsigned or expired token, or no
            active user behind it (401 with ``WWW-Authenticate: Bearer``).
        InvalidTokenSubject: the token verifies but its subject is not a UUID (400).
    """
    if not token:
        raise NotAuthenticated()
    try:
        claims = decode_token(token, secret=settings.jwt_secret, audience=ACCESS_AUDIENCE)
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("The access token has expired. Sign in again.") from None
    except jwt.InvalidTokenError:
        raise NotAuthenticated("The access token is invalid. Sign in again.") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidTokenSubject() from None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("The account behind this token no longer exists or is disabled.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
