"""Password hashing (Argon2 via pwdlib), JSON Web Tokens (PyJWT, HS256), TURN credentials."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from src.core.clock import utcnow

ALGORITHM = "HS256"
# Separate audiences keep a room token from ever passing as an API access token, and back.
ACCESS_AUDIENCE = "numerologist:api"
ROOM_AUDIENCE = "numerologist:room"

_password_hash = PasswordHash((Argon2Hasher(),))
# Checked for unknown emails, so a login takes about as long whether or not the account exists.
_DUMMY_HASH = _password_hash.hash("dummy password that matches no account")


async def hash_password(password: str) -> str:
    """Hash a password off the event loop (Argon2 is deliberately slow)."""
    return await asyncio.to_thread(_password_hash.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password against a hash; with no hash, spend the same time and answer False."""
    if hashed is None:
        await asyncio.to_thread(_password_hash.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_password_hash.verify, password, hashed)


def encode_token(
    claims: dict[str, Any], *, secret: str, audience: str, expires_at: datetime
) -> str:
    """Sign a JWT with the given claims, audience, `iat`, `exp` and a unique `jti`."""
    payload = {
        **claims,
        "aud": audience,
        "iat": utcnow(),
        "exp": expires_at,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, audience: str) -> dict[str, Any]:
    """Verify a JWT's signature, algorithm, audience and expiry; raise jwt.InvalidTokenError."""
    return jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=audience,
        options={"require": ["exp", "iat", "sub", "aud"]},
    )


# The claim naming the user's token version (models/user.py): a token of an older one is revoked.
TOKEN_VERSION_CLAIM = "ver"


def create_access_token(
    user_id: uuid.UUID, *, version: int, secret: str, expire_minutes: int
) -> str:
    """An API access token whose subject is the user id, under the user's token version."""
    return encode_token(
        {"sub": str(user_id), TOKEN_VERSION_CLAIM: version},
        secret=secret,
        audience=ACCESS_AUDIENCE,
        expires_at=utcnow() + timedelta(minutes=expire_minutes),
    )


def turn_credentials(
    secret: str, conversation_id: uuid.UUID, expires_at: datetime
) -> tuple[str, str]:
    """A TURN REST API username and credential, valid until `expires_at`.

    The form coturn verifies with `use-auth-secret` / `static-auth-secret`: the username is
    `<unix expiry>:<conversation id>`, the credential base64(HMAC-SHA1(secret, username)).
    """
    username = f"{int(expires_at.timestamp())}:{conversation_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
