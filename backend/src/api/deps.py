"""Request dependencies: the database session and the signed-in user."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.database import get_session
from src.core.errors import InvalidTokenSubject, NotAuthenticated
from src.core.security import ACCESS_AUDIENCE, TOKEN_VERSION_CLAIM, decode_token
from src.core.settings import Settings
from src.models.user import User
from src.services.throttling import Throttle

__all__ = [
    "ClientAddress",
    "CurrentUser",
    "SessionDep",
    "SettingsDep",
    "ThrottleDep",
    "get_current_user",
    "get_session",
]

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_throttle(request: Request) -> Throttle:
    """The app's sign-in and registration throttle."""
    throttle: Throttle = request.app.state.throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


def get_client_address(request: Request, settings: SettingsDep) -> str:
    """The caller's IP address: the peer's, or behind a proxy of TRUSTED_PROXIES the one its
    X-Forwarded-For names."""
    peer = request.client.host if request.client else "unknown"
    if not settings.trusted_proxies:
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return client_behind_proxies(peer, forwarded, settings.trusted_proxies)


def client_behind_proxies(
    peer: str, forwarded_for: str, trusted: Sequence[IPv4Network | IPv6Network]
) -> str:
    """The client address: walking back from the peer through X-Forwarded-For, the first hop
    that is not a trusted proxy (hops further left are the client's own word, not evidence)."""
    address = peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while _trusted(address, trusted) and hops:
        hop = hops.pop()
        try:
            address = str(ip_address(hop))
        except ValueError:
            # A proxy writes addresses; anything else is not evidence of a client.
            break
    return address


def _trusted(address: str, trusted: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


ClientAddress = Annotated[str, Depends(get_client_address)]


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> User:
    """The active user named by the bearer token.

    Raises:
        NotAuthenticated: no token, a malformed, badly signed, unsigned, expired or revoked
            token, or no active user behind it (401 with ``WWW-Authenticate: Bearer``).
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
    if claims.get(TOKEN_VERSION_CLAIM) != user.token_version:
        raise NotAuthenticated(
            "The access token was revoked (signed out, or the password changed). Sign in again."
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
