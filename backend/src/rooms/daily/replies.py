"""What Daily's REST API answers, validated: a 200 missing a field is an error, never a KeyError.

Only the fields this service reads are declared; Daily adds others freely.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RoomReply(_Reply):
    """POST /rooms and GET /rooms/:name (https://docs.daily.co/reference/rest-api/rooms)."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1, pattern=r"^https?://")


class TokenReply(_Reply):
    """POST /meeting-tokens."""

    token: str = Field(min_length=1)


class DeleteReply(_Reply):
    """DELETE /rooms/:name: ``{"deleted": true, "name": ...}``."""

    deleted: bool
