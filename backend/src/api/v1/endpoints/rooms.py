"""Signalling for local rooms: the user's browser sends its WebRTC offer and ICE candidates here.

Each request carries ``Authorization: Bearer <user token of that room>`` (the `daily_token` of
the start answer). Any API process answers: the offer reaches the room's media wherever the
conversation's bot runs (this process, or its worker), and the connection goes to the bot.

Two addresses take the same requests: ``/api/v1/rooms/{name}/offer`` (the room page's) and the
room URL itself (`daily_room_url`), which is what pipecat's client SDK is given as its
SmallWebRTC endpoint: it POSTs its offers and PATCHes its ICE candidates to one URL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from src.api.deps import SessionDep
from src.core.errors import NotAuthenticated, NotFound
from src.core.ice import IceServer
from src.models.conversation import Conversation
from src.rooms.base import (
    MAX_CANDIDATES_PER_CONNECTION,
    ConversationGone,
    OfferRejected,
    PeerConnectionNotFound,
    RoomTokenError,
    TooManyCandidates,
)
from src.schemas.common import error_responses
from src.schemas.conversation import ICE_SERVERS_EXAMPLE
from src.schemas.webrtc import (
    PC_ID_PATTERN,
    InvalidCandidate,
    InvalidOffer,
    candidate_usable,
    check_offer,
)
from src.services.conversations.end import end_conversation
from src.services.conversations.errors import ConversationAlreadyEnded
from src.services.conversations.start import ConversationServices
from src.services.ice import ice_servers_for

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/rooms", tags=["rooms"])
# The same signalling at the room URL (`daily_room_url`), the SDK's single WebRTC endpoint.
room_url_router = APIRouter(prefix="/rooms", tags=["rooms"])
_bearer = HTTPBearer(auto_error=False)


class RoomNotFound(NotFound):
    """No local room by that name."""

    code = "room_not_found"
    default_detail = "No room by that name exists on this server."


# The client's own data beside an offer: accepted (the SDK sends it when configured), unused.
REQUEST_DATA_MAX_CHARS = 4_096


class Offer(BaseModel):
    """A WebRTC SDP offer (or a renegotiation of the connection `pc_id`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "sdp": "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n...",
                    "type": "offer",
                },
                {
                    "sdp": "v=0\r\n...",
                    "type": "offer",
                    "pc_id": "SmallWebRTCConnection#0-2f0b5c1e",
                    "restart_pc": False,
                },
            ]
        },
    )

    sdp: str = Field(max_length=100_000)
    type: Literal["offer"]
    pc_id: str | None = Field(
        default=None, pattern=PC_ID_PATTERN, description="Set to renegotiate that connection"
    )
    restart_pc: bool | None = Field(
        default=None, description="With pc_id: replace that connection's peer (ICE restart)"
    )
    request_data: JsonValue = Field(
        default=None,
        alias="requestData",
        description="The client's own data (pipecat's `requestData`), up to 4096 characters of "
        "JSON; the bot does not use it",
    )

    @field_validator("request_data")
    @classmethod
    def _small(cls, value: JsonValue) -> JsonValue:
        if len(json.dumps(value)) > REQUEST_DATA_MAX_CHARS:
            raise ValueError(f"at most {REQUEST_DATA_MAX_CHARS} characters of JSON")
        return value


class Answer(BaseModel):
    """The bot's SDP answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sdp": "v=0\r\no=- 3922 0 IN IP4 127.0.0.1\r\n...",
                    "type": "answer",
                    "pc_id": "SmallWebRTCConnection#0-5a1f",
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pc_id": "SmallWebRTCConnection#0-2f0b5c1e",
                    "candidates": [
                        {
                            "candidate": "candidate:1 1 udp 2122260223 192.168.1.20 50312 "
                            "typ host generation 0",
                            "sdp_mid": "0",
                            "sdp_mline_index": 0,
                        }
                    ],
                }
            ]
        }
    )

    pc_id: str = Field(pattern=PC_ID_PATTERN)
    candidates: list[Candidate] = Field(max_length=MAX_CANDIDATES_PER_CONNECTION)


class IceServers(BaseModel):
    """The STUN/TURN servers for the page's RTCPeerConnection (`iceServers`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ice_servers": ICE_SERVERS_EXAMPLE}]}
    )

    ice_servers: list[IceServer]


@dataclass(frozen=True)
class RoomGrant:
    """What a verified room token grants: its conversation, until the token (the room) expires."""

    conversation: Conversation
    expires_at: datetime


async def _room_grant(
    room_name: str,
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> RoomGrant:
    """The conversation whose user token for this room the request carries, and its expiry."""
    services: ConversationServices = request.app.state.services
    signalling = services.rooms.signalling
    if signalling is None:
        raise RoomNotFound("This server uses Daily rooms: join through the Daily room URL.")
    if credentials is None:
        raise NotAuthenticated("Send the room's token: 'Authorization: Bearer <daily_token>'.")
    try:
        conversation_id, expires_at = signalling.verify_grant(
            credentials.credentials, room_name, "user"
        )
    except RoomTokenError as exc:
        raise NotAuthenticated(str(exc)) from None
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.daily_room_id != room_name:
        raise RoomNotFound()
    return RoomGrant(conversation, expires_at)


Grant = Annotated[RoomGrant, Depends(_room_grant)]


async def _room_conversation(grant: Grant) -> Conversation:
    return grant.conversation


RoomConversation = Annotated[Conversation, Depends(_room_conversation)]


async def _live_grant(grant: Grant) -> RoomGrant:
    if not grant.conversation.is_live:
        raise ConversationGone()
    return grant


LiveGrant = Annotated[RoomGrant, Depends(_live_grant)]


async def _live_room(grant: LiveGrant) -> Conversation:
    return grant.conversation


LiveRoom = Annotated[Conversation, Depends(_live_room)]


_OFFER_RESPONSES = error_responses(
    401, errors=(InvalidOffer, OfferRejected, RoomNotFound, ConversationGone)
)


@room_url_router.post("/{room_name}", response_model=Answer, responses=_OFFER_RESPONSES)
@router.post("/{room_name}/offer", response_model=Answer, responses=_OFFER_RESPONSES)
async def offer(body: Offer, conversation: LiveRoom, request: Request) -> Answer:
    """Send the browser's SDP offer; the answer connects it to the conversation's bot."""
    services: ConversationServices = request.app.state.services
    sdp, _ = check_offer(body.sdp, allow_loopback=services.settings.allow_loopback_candidates)
    answer = await services.bots.offer(
        conversation.id,
        conversation.worker_id,
        str(conversation.daily_room_id),
        {**body.model_dump(exclude_none=True), "sdp": sdp},
    )
    return Answer.model_validate(answer)


_CANDIDATES_RESPONSES: dict[int | str, dict[str, object]] = {
    204: {"description": "Taken: the candidates went to the connection"},
    **error_responses(
        401,
        errors=(
            InvalidCandidate,
            TooManyCandidates,
            RoomNotFound,
            PeerConnectionNotFound,
            ConversationGone,
        ),
    ),
}


@room_url_router.patch("/{room_name}", status_code=204, responses=_CANDIDATES_RESPONSES)
@router.patch("/{room_name}/offer", status_code=204, responses=_CANDIDATES_RESPONSES)
async def candidates(body: CandidatesPatch, conversation: LiveRoom, request: Request) -> None:
    """Send trickled ICE candidates for a connection made by an offer."""
    services: ConversationServices = request.app.state.services
    allow_loopback = services.settings.allow_loopback_candidates
    # An empty candidate is the end-of-candidates marker (RFC 8840): passed on as it is.
    usable = [
        c
        for c in body.candidates
        if not c.candidate or candidate_usable(c.candidate, allow_loopback=allow_loopback)
    ]
    if not usable:
        return
    await services.bots.candidates(
        conversation.id,
        conversation.worker_id,
        str(conversation.daily_room_id),
        {"pc_id": body.pc_id, "candidates": [c.model_dump() for c in usable]},
    )


@router.get(
    "/{room_name}/ice-servers",
    response_model=IceServers,
    responses=error_responses(401, errors=(RoomNotFound, ConversationGone)),
)
async def ice_servers(grant: LiveGrant, request: Request) -> IceServers:
    """The STUN/TURN servers the room page connects with (fresh, short-lived TURN credentials,
    while the conversation is live)."""
    services: ConversationServices = request.app.state.services
    servers = ice_servers_for(
        services.settings, services.rooms, grant.conversation.id, grant.expires_at
    )
    return IceServers(ice_servers=servers)


@router.post(
    "/{room_name}/leave",
    status_code=204,
    responses={
        204: {"description": "Left: the conversation has ended"},
        **error_responses(401, errors=(RoomNotFound, ConversationAlreadyEnded)),
    },
)
async def leave(conversation: RoomConversation, session: SessionDep, request: Request) -> None:
    """Leave the room: ends the conversation (`user_ended`), the bot stops, the room goes."""
    await session.refresh(conversation, with_for_update=True)
    await end_conversation(session, conversation, request.app.state.services)
