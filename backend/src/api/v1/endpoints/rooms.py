"""Signalling for local rooms: the user's browser sends its WebRTC offer and ICE candidates here.

Each request carries ``Authorization: Bearer <user token of that room>`` (the `daily_token` of
the start answer). Any API process answers: the offer reaches the room's media wherever the
conversation's bot runs (this process, or its worker), and the connection goes to the bot.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from src.core.deps import SessionDep
from src.core.errors import NotAuthenticated, NotFound
from src.core.ice import IceServer
from src.models.conversation import Conversation
from src.schemas.common import error_responses
from src.services.conversations.end import end_conversation
from src.services.conversations.errors import ConversationGone
from src.services.conversations.start import ConversationServices
from src.services.ice import ice_servers_for
from src.services.local_rooms import LocalRoomProvider, RoomTokenError

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/rooms", tags=["rooms"])
_bearer = HTTPBearer(auto_error=False)


class RoomNotFound(NotFound):
    """No local room by that name."""

    code = "room_not_found"
    default_detail = "No room by that name exists on this server."


class Offer(BaseModel):
    """A WebRTC SDP offer (or a renegotiation of the connection `pc_id`)."""

    sdp: str = Field(max_length=100_000)
    type: Literal["offer"]
    pc_id: str | None = Field(default=None, max_length=200)
    restart_pc: bool | None = None


class Answer(BaseModel):
    """The bot's SDP answer."""

    sdp: str
    type: str
    pc_id: str


class Candidate(BaseModel):
    """One trickled ICE candidate."""

    candidate: str = Field(max_length=2_000)
    sdp_mid: str = Field(max_length=100)
    sdp_mline_index: int = Field(ge=0, le=64)


class CandidatesPatch(BaseModel):
    """ICE candidates for the connection `pc_id`."""

    pc_id: str = Field(max_length=200)
    candidates: list[Candidate] = Field(max_length=64)


class IceServers(BaseModel):
    """The STUN/TURN servers for the page's RTCPeerConnection (`iceServers`)."""

    ice_servers: list[IceServer]


async def _room_conversation(
    room_name: str,
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Conversation:
    """The conversation whose user token for this room the request carries."""
    services: ConversationServices = request.app.state.services
    provider = services.rooms
    if not isinstance(provider, LocalRoomProvider):
        raise RoomNotFound("This server uses Daily rooms: join through the Daily room URL.")
    if credentials is None:
        raise NotAuthenticated("Send the room's token: 'Authorization: Bearer <daily_token>'.")
    try:
        conversation_id = provider.verify_token(credentials.credentials, room_name, "user")
    except RoomTokenError as exc:
        raise NotAuthenticated(str(exc)) from None
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.daily_room_id != room_name:
        raise RoomNotFound()
    return conversation


RoomConversation = Annotated[Conversation, Depends(_room_conversation)]


async def _live_room(conversation: RoomConversation) -> Conversation:
    if not conversation.is_live:
        raise ConversationGone()
    return conversation


LiveRoom = Annotated[Conversation, Depends(_live_room)]


@router.post(
    "/{room_name}/offer",
    response_model=Answer,
    responses=error_responses(400, 401, 404, 410, 422, 503),
)
async def offer(body: Offer, conversation: LiveRoom, request: Request) -> Answer:
    """Send the browser's SDP offer; the answer connects it to the conversation's bot."""
    services: ConversationServices = request.app.state.services
    answer = await services.bots.offer(
        conversation.id,
        conversation.worker_id,
        str(conversation.daily_room_id),
        body.model_dump(),
    )
    return Answer.model_validate(answer)


@router.patch(
    "/{room_name}/offer", status_code=204, responses=error_responses(401, 404, 410, 422, 503)
)
async def candidates(body: CandidatesPatch, conversation: LiveRoom, request: Request) -> None:
    """Send trickled ICE candidates for a connection made by an offer."""
    services: ConversationServices = request.app.state.services
    await services.bots.candidates(
        conversation.id,
        conversation.worker_id,
        str(conversation.daily_room_id),
        body.model_dump(),
    )


@router.get(
    "/{room_name}/ice-servers", response_model=IceServers, responses=error_responses(401, 404, 410)
)
async def ice_servers(
    room_name: str,
    conversation: LiveRoom,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> IceServers:
    """The STUN/TURN servers the room page connects with (TURN credentials expire with the room)."""
    services: ConversationServices = request.app.state.services
    provider = services.rooms
    if not isinstance(provider, LocalRoomProvider) or credentials is None:  # LiveRoom checked
        raise RoomNotFound()
    _, expires_at = provider.verify_grant(credentials.credentials, room_name, "user")
    servers = ice_servers_for(services.settings, "local", conversation.id, expires_at)
    return IceServers(ice_servers=servers)


@router.post("/{room_name}/leave", status_code=204, responses=error_responses(401, 404, 409))
async def leave(conversation: RoomConversation, session: SessionDep, request: Request) -> None:
    """Leave the room: ends the conversation (`user_ended`), the bot stops, the room goes."""
    await session.refresh(conversation, with_for_update=True)
    await end_conversation(session, conversation, request.app.state.services)
