"""Voice conversations: start one, end it, read them back (spec story 3.4)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import OAuth2PasswordBearer
from fastapi.sse import format_sse_event
from starlette.background import BackgroundTask

from src.api.deps import CurrentUser, SessionDep, SettingsDep
from src.contract.bot import BotCapacityReached, BotServiceUnavailable, NoBotCapacity
from src.core.errors import NotAuthenticated
from src.core.security import ACCESS_AUDIENCE, decode_token
from src.schemas.common import error_responses
from src.schemas.conversation import (
    ConversationList,
    ConversationRead,
    MessageList,
    MessageRead,
    StartConversationResponse,
)
from src.services.conversations import events as conversation_events
from src.services.conversations import queries, transcript
from src.services.conversations.delete import delete_conversation
from src.services.conversations.end import end_conversation
from src.services.conversations.errors import (
    ConversationAlreadyEnded,
    ConversationNotFound,
    ConversationStartFailed,
    ConversationStillLive,
    RoomJoinFailed,
    RoomNotYetDeleted,
    TooManyConversations,
)
from src.services.conversations.join import join_conversation
from src.services.conversations.start import ConversationServices, start_conversation

router = APIRouter(prefix="/conversations", tags=["conversations"])

# Far past any real history, and inside the database's integer range.
MAX_OFFSET = 1_000_000


def get_services(request: Request) -> ConversationServices:
    """The app's rooms, bot runner and lifecycle."""
    services: ConversationServices = request.app.state.services
    return services


ServicesDep = Annotated[ConversationServices, Depends(get_services)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Replays the first answer for this key (24 h) instead of starting again",
    ),
]


@router.post(
    "/start",
    response_model=StartConversationResponse,
    responses=error_responses(
        400,
        401,
        errors=(
            TooManyConversations,
            ConversationStartFailed,
            RoomJoinFailed,
            BotCapacityReached,
            NoBotCapacity,
            BotServiceUnavailable,
        ),
    ),
)
async def start(
    current_user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> StartConversationResponse:
    """Start a voice conversation: a private room, a bot in it, and the user's join token."""
    return await start_conversation(session, current_user, services, idempotency_key)


@router.post(
    "/{conversation_id}/join",
    response_model=StartConversationResponse,
    responses=error_responses(400, 401, 404, 409, 500),
)
async def join(
    conversation_id: uuid.UUID,
    current_user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> StartConversationResponse:
    """Join one of your live conversations again (the same bot carries on); 409 once it ended."""
    conversation = await queries.get_owned(session, current_user.id, conversation_id)
    return await join_conversation(conversation, current_user, services)


@router.post(
    "/{conversation_id}/end",
    response_model=ConversationRead,
    responses=error_responses(400, 401, errors=(ConversationNotFound, ConversationAlreadyEnded)),
)
async def end(
    conversation_id: uuid.UUID,
    current_user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> ConversationRead:
    """End one of your conversations: the bot leaves and the room is deleted."""
    conversation = await queries.get_owned(session, current_user.id, conversation_id, lock=True)
    await end_conversation(session, conversation, services)
    return ConversationRead.model_validate(conversation)


@router.delete(
    "/{conversation_id}",
    status_code=204,
    responses={
        204: {"description": "Deleted: the conversation and its lines are gone"},
        **error_responses(
            400, 401, errors=(ConversationNotFound, ConversationStillLive, RoomNotYetDeleted)
        ),
    },
)
async def delete(
    conversation_id: uuid.UUID,
    current_user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> None:
    """Delete one of your conversations once it has ended (409 while it is live)."""
    conversation = await queries.get_owned(session, current_user.id, conversation_id, lock=True)
    await delete_conversation(session, conversation, services)


@router.get(
    "/{conversation_id}",
    response_model=ConversationRead,
    responses=error_responses(400, 401, errors=(ConversationNotFound,)),
)
async def get(
    conversation_id: uuid.UUID, current_user: CurrentUser, session: SessionDep
) -> ConversationRead:
    """One of your conversations."""
    conversation = await queries.get_owned(session, current_user.id, conversation_id)
    return ConversationRead.model_validate(conversation)


class _EventStream(StreamingResponse):
    media_type = "text/event-stream"


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


def _token_lifetime(settings: SettingsDep, token: Annotated[str | None, Depends(_bearer)]) -> float:
    """Seconds left before the request's access token expires (the user dependency has
    verified it; this reads its `exp`)."""
    try:
        claims = decode_token(token or "", secret=settings.jwt_secret, audience=ACCESS_AUDIENCE)
    except jwt.InvalidTokenError:
        raise NotAuthenticated("The access token has expired. Sign in again.") from None
    return float(claims["exp"]) - time.time()


TokenLifetime = Annotated[float, Depends(_token_lifetime)]


_EVENTS_EXAMPLE = (
    'event: status\ndata: {"status": "waiting_for_user", "end_reason": null, "messages": 0}\n\n'
    'event: status\ndata: {"status": "active", "end_reason": null, "messages": 0}\n\n'
    'event: message\ndata: {"role": "assistant", "text": "Hello Ada! I\'m your numerologist.", '
    '"created_at": "2026-11-23T14:00:01Z"}\n\n'
    ": ping\n\n"
    'event: status\ndata: {"status": "ended", "end_reason": "user_ended", "messages": 1}\n\n'
)


@router.get(
    "/{conversation_id}/events",
    # No media type of its own: the 200 is the stream described below, the errors are JSON.
    response_class=Response,
    responses={
        200: {
            "description": "Server-Sent Events: `status` (ConversationStatusEvent) at once and "
            "on every change, `message` (MessageRead) for every new line, `: ping` comments "
            "every 15 s; the stream closes after the `status` that says it ended, or with "
            "`expired` when the access token expires or is revoked by signing out (`token_expired` "
            "or `token_revoked`: sign in again and reopen it)",
            "content": {"text/event-stream": {"example": _EVENTS_EXAMPLE}},
        },
        **error_responses(400, 401, 404, errors=(conversation_events.TooManyEventStreams,)),
    },
)
async def events(
    conversation_id: uuid.UUID,
    current_user: CurrentUser,
    session: SessionDep,
    request: Request,
    token_lifetime: TokenLifetime,
) -> StreamingResponse:
    """Follow one of your conversations live: its status now, every change, every new line."""
    await queries.get_owned(session, current_user.id, conversation_id)
    feeds: conversation_events.ConversationFeeds = request.app.state.feeds
    # The stream reads in sessions of its own: the request's ends before the stream starts.
    stream = feeds.open(
        current_user.id, conversation_id, token_lifetime, current_user.token_version
    )
    return _EventStream(
        _encode(stream.events()),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Frees the user's slot even if the client left before the stream's first byte.
        background=BackgroundTask(stream.close),
    )


_EXPIRED = json.dumps(
    {"error": "token_expired", "detail": "The access token has expired: sign in again."}
)
_REVOKED = json.dumps(
    {"error": "token_revoked", "detail": "You have signed out (here or elsewhere): sign in again."}
)


async def _encode(stream: AsyncIterator[conversation_events.Event]) -> AsyncIterator[bytes]:
    async for event in stream:
        if isinstance(event, conversation_events.Heartbeat):
            yield format_sse_event(comment="ping")
        elif isinstance(event, conversation_events.Expired):
            data = _REVOKED if event.revoked else _EXPIRED
            yield format_sse_event(event="expired", data_str=data)
        else:
            name = "message" if isinstance(event, MessageRead) else "status"
            yield format_sse_event(event=name, data_str=event.model_dump_json())


@router.get(
    "/{conversation_id}/messages",
    response_model=MessageList,
    responses=error_responses(400, 401, errors=(ConversationNotFound,)),
)
async def messages(
    conversation_id: uuid.UUID,
    current_user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> MessageList:
    """What was said in one of your conversations (the bot's lines and yours), in spoken order."""
    await queries.get_owned(session, current_user.id, conversation_id)
    rows, total = await transcript.page(session, conversation_id, limit=limit, offset=offset)
    return MessageList(items=[MessageRead.model_validate(r) for r in rows], total=total)


@router.get("", response_model=ConversationList, responses=error_responses(400, 401, 422))
async def list_conversations(
    current_user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ConversationList:
    """Your conversations, newest first."""
    rows, total = await queries.list_owned(session, current_user.id, limit=limit, offset=offset)
    return ConversationList(items=[ConversationRead.model_validate(r) for r in rows], total=total)
