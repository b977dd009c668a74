"""Request and response bodies for accounts and sign-in."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

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


Email = Annotated[EmailStr, AfterValidator(_lower)]
Password = Annotated[str, Field(min_length=8, max_length=128)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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
                    "birth_date": "1815-12-10",
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

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=128)]


class UserRead(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    birth_date: date
    is_active: bool
    created_at: datetime


class TokenResponse(BaseModel):
    """A bearer access token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class RegisterResponse(TokenResponse):
    """The new user and a token to use right away."""

    user: UserRead
