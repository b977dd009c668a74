"""Request and response bodies for accounts and sign-in."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from src.core.clock import utcnow

MIN_BIRTH_DATE = date(1900, 1, 1)


def _in_the_past(value: date) -> date:
    if value >= utcnow().date():
        raise ValueError("birth_date must be in the past")
    if value < MIN_BIRTH_DATE:
        raise ValueError(f"birth_date must be on or after {MIN_BIRTH_DATE.isoformat()}")
    return value


def _lower(value: str) -> str:
    return value.lower()


# Control (Cc: NUL, newlines, escapes), format (Cf: bidi overrides and isolates, zero-width
# characters), surrogate (Cs) and line/paragraph separator (Zl, Zp) characters: none belongs in a
# name, and each can reorder or hide text where the name is shown, split a log line, or (NUL)
# fail the database.
_REFUSED_IN_NAMES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_NAME_LENGTH = 200


def _clean_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value)
    for character in name:
        if unicodedata.category(character) in _REFUSED_IN_NAMES:
            raise ValueError(
                "must not contain control, format or bidirectional characters "
                f"(found U+{ord(character):04X})"
            )
    if len(name) > MAX_NAME_LENGTH:  # NFC rarely lengthens a string, but it can
        raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters")
    return name


_USER: dict[str, Any] = {
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "email": "ada@example.com",
    "full_name": "Ada Lovelace",
    "birth_date": "1990-12-10",
    "is_active": True,
    "remember_conversations": True,
    "created_at": "2026-11-23T13:59:00Z",
}
_TOKEN: dict[str, Any] = {
    "access_token": "eyJhbGciOiJIUzI1NiIs...",
    "token_type": "bearer",
    "expires_in": 3600,
}

Email = Annotated[EmailStr, AfterValidator(_lower)]
Password = Annotated[str, Field(min_length=8, max_length=128)]
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_clean_name),
]
BirthDate = Annotated[date, AfterValidator(_in_the_past)]


class RegisterRequest(BaseModel):
    """A new account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                    "full_name": "Ada Lovelace",
                    "birth_date": "1990-12-10",
                }
            ]
        }
    )

    email: Email
    password: Password
    full_name: FullName
    birth_date: BirthDate


class LoginRequest(BaseModel):
    """Email and password (JSON), or the OAuth2 password form's username and password."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse battery"}]
        }
    )

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=128)]


class PasswordChange(BaseModel):
    """The current password, and the new one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"current_password": "correct horse battery", "new_password": "staple tree lamp"}
            ]
        }
    )

    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class PasswordConfirmation(BaseModel):
    """The account's password, asked again before an irreversible change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "correct horse battery"}]}
    )

    password: Annotated[str, Field(min_length=1, max_length=128)]


class UserRead(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_USER]})

    id: uuid.UUID
    email: str
    full_name: str
    birth_date: date
    is_active: bool
    remember_conversations: bool = Field(
        description="Whether the bot recalls your earlier conversations (greets you by them, "
        "answers what you talked about last time)"
    )
    created_at: datetime


class UserUpdate(BaseModel):
    """The account's settings to change; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"remember_conversations": False}]}
    )

    remember_conversations: bool | None = Field(
        default=None,
        description="false: the bot no longer recalls your earlier conversations",
    )


class TokenResponse(BaseModel):
    """A bearer access token."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN]})

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class RegisterResponse(TokenResponse):
    """The new user and a token to use right away."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_TOKEN, "user": _USER}]})

    user: UserRead
