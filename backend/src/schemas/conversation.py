"""Request and response bodies for conversations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from src.core.enums import ConversationStatus, EndReason, MessageRole, MessageSource
from src.core.ice import IceServer
from src.numerology.kinds import NumberKind

# What a start, a join and the room page get for a local room with STUN and TURN set.
ICE_SERVERS_EXAMPLE: list[JsonValue] = [
    {"urls": ["stun:stun.example.com:3478"], "username": None, "credential": None},
    {
        "urls": ["turn:turn.example.com:3478?transport=udp"],
        "username": "1795874400:550e8400-e29b-41d4-a716-446655440000",
        "credential": "n6Bbs3Zm1I1mAqk+f1xS0Rt5y2M=",
    },
]

_START_EXAMPLE: dict[str, Any] = {
    "conversation_id": "550e8400-e29b-41d4-a716-446655440000",
    "daily_room_url": "http://127.0.0.1:8000/rooms/conv-550e8400e29b41d4a716446655440000",
    "daily_token": "eyJhbGciOiJIUzI1NiIs...",
    "status": "waiting_for_user",
    "expires_at": "2026-11-22T14:00:00Z",
    "ice_servers": ICE_SERVERS_EXAMPLE,
}


class StartConversationResponse(BaseModel):
    """A started conversation: join `daily_room_url` with `daily_token`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_START_EXAMPLE]})

    conversation_id: uuid.UUID
    daily_room_url: str = Field(description="The room to join (a Daily room or a local room)")
    daily_token: str = Field(description="The user's join token for that room")
    status: ConversationStatus
    expires_at: datetime = Field(description="When the room and the token expire")
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description=(
            "Local rooms: the RTCIceServer list (STUN/TURN) for the client's RTCPeerConnection; "
            "TURN credentials are short-lived (TURN_CREDENTIAL_TTL_SECONDS): a reconnection "
            "asks for fresh ones. Daily rooms: empty (Daily brings its own)"
        ),
    )


_CONVERSATION_EXAMPLE: dict[str, Any] = {
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "status": "ended",
    "end_reason": "user_ended",
    "room_name": "conv-550e8400e29b41d4a716446655440000",
    "started_at": "2026-11-23T14:00:00Z",
    "bot_ready_at": "2026-11-23T14:00:00.800000Z",
    "user_joined_at": "2026-11-23T14:00:01.200000Z",
    "ended_at": "2026-11-23T14:03:05Z",
    "duration_seconds": 185,
    "topics": ["life_path", "personal_year"],
    "created_at": "2026-11-23T14:00:00Z",
    "updated_at": "2026-11-23T14:03:05Z",
}


class ConversationRead(BaseModel):
    """A conversation as its owner sees it."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_CONVERSATION_EXAMPLE]}
    )

    id: uuid.UUID
    status: ConversationStatus
    end_reason: EndReason | None
    room_name: str | None = Field(validation_alias="daily_room_id")
    started_at: datetime
    bot_ready_at: datetime | None
    user_joined_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    topics: list[NumberKind] | None = Field(
        description="The numbers it discussed, first-mentioned first; null until it has ended",
        examples=[["life_path", "personal_year"]],
    )
    created_at: datetime
    updated_at: datetime


class ConversationStatusEvent(BaseModel):
    """A `status` event of the live stream: the status now, why it ended, lines stored so far."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ended", "end_reason": "user_ended", "messages": 6}]
        }
    )

    status: ConversationStatus
    end_reason: EndReason | None = Field(description="Set once it has ended")
    messages: int = Field(
        description="How many of its lines were stored then (later ones follow as `message` events)"
    )


class ConversationList(BaseModel):
    """A page of conversations, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_CONVERSATION_EXAMPLE], "total": 1}]}
    )

    items: list[ConversationRead]
    total: int


class MessageRead(BaseModel):
    """One line of a conversation, as its owner reads it."""

    model_config = ConfigDict(from_attributes=True)

    role: MessageRole = Field(description="Who spoke: `assistant` (the bot) or `user`")
    text: str
    source: MessageSource = Field(
        description="How it came: `voice` (spoken) or `text` (typed on the page; for the bot, "
        "answered in text only)"
    )
    interrupted: bool = Field(
        default=False,
        description="The user spoke over this bot line: `text` is only what was said before "
        "the bot stopped",
    )
    created_at: datetime = Field(description="When it was said")


class MessageList(BaseModel):
    """A page of a conversation's lines, in spoken order."""

    items: list[MessageRead]
    total: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "role": "assistant",
                            "text": "Hello Ada! I'm your numerologist.",
                            "source": "voice",
                            "interrupted": False,
                            "created_at": "2026-11-23T14:00:01Z",
                        },
                        {
                            "role": "user",
                            "text": "What is my life path number?",
                            "source": "text",
                            "interrupted": False,
                            "created_at": "2026-11-23T14:00:06Z",
                        },
                    ],
                    "total": 2,
                }
            ]
        }
    )
