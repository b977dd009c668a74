"""A fake Daily REST API honouring the documented contract, served on loopback.

Endpoints: POST /rooms, GET /rooms/{name}, POST /meeting-tokens, DELETE /rooms/{name}; Bearer
API-key auth (401 otherwise); errors as {"error": code, "info": text}. Faults are injected per
endpoint. As Daily does, a body with a field or property Daily does not know is refused with
400 `invalid-request-error` (the properties are those of Daily's REST reference: "Room
configuration" and "Meeting token configuration").
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.loopback import serve_on_loopback

API_KEY = "fake-daily-key-0123456789"

ROOM_FIELDS = frozenset({"name", "privacy", "properties"})
ROOM_PROPERTIES = frozenset(
    {
        "nbf", "exp", "max_participants", "enable_people_ui", "enable_pip_ui",
        "enable_emoji_reactions", "enable_hand_raising", "enable_prejoin_ui",
        "enable_live_captions_ui", "enable_network_ui", "enable_noise_cancellation_ui",
        "enable_breakout_rooms", "enable_knocking", "enable_screenshare",
        "enable_video_processing_ui", "enable_chat", "enable_shared_chat_history",
        "start_video_off", "start_audio_off", "owner_only_broadcast", "enable_recording",
        "eject_at_room_exp", "eject_after_elapsed", "enable_advanced_chat",
        "enable_hidden_participants", "enable_mesh_sfu", "sfu_switchover",
        "enable_adaptive_simulcast", "enable_multiparty_adaptive_simulcast",
        "enforce_unique_user_ids", "experimental_optimize_large_calls", "lang",
        "meeting_join_hook", "geo", "rtmp_geo", "disable_rtmp_geo_fallback",
        "recordings_bucket", "enable_terse_logging", "auto_transcription_settings",
        "enable_transcription_storage", "transcription_bucket", "recordings_template",
        "enable_dialout", "dialout_config", "streaming_endpoints", "permissions", "sip",
        "sip_uri",
    }
)  # fmt: skip
TOKEN_FIELDS = frozenset({"properties"})
TOKEN_PROPERTIES = frozenset(
    {
        "room_name", "eject_at_token_exp", "eject_after_elapsed", "nbf", "exp", "is_owner",
        "user_name", "user_id", "enable_screenshare", "start_video_off", "start_audio_off",
        "enable_recording", "enable_prejoin_ui", "enable_live_captions_ui",
        "enable_recording_ui", "close_tab_on_exit", "redirect_on_meeting_exit", "lang",
        "start_cloud_recording", "start_cloud_recording_opts", "auto_start_transcription",
        "permissions",
    }
)  # fmt: skip


@dataclass
class Fault:
    """One injected answer: a status with Daily's error body, or a delay before answering.

    With `lost=True` the request is carried out and its answer then delayed by `delay` (a
    client that gives up first never learns that the room was made). With `reply` it is carried
    out and answered 200 with that body instead (a malformed answer: a field missing).
    """

    status: int = 500
    error: str = "server-error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    lost: bool = False
    reply: Any = None


class FakeDaily:
    """The fake's state: rooms, tokens, requests seen and faults to inject."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, Any]] = {}
        self.tokens: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.url = ""
        self.app = self._build()

    def fail(self, endpoint: str, *faults: Fault) -> None:
        """Answer the next requests to `endpoint` ("POST /rooms", ...) with these faults."""
        self.faults.setdefault(endpoint, []).extend(faults)

    def count(self, endpoint: str) -> int:
        """How many requests reached the endpoint."""
        return sum(1 for r in self.requests if f"{r[0]} {r[1]}" == endpoint)

    def _next_fault(self, endpoint: str) -> Fault | None:
        queue = self.faults.get(endpoint)
        return queue.pop(0) if queue else None

    async def _fault(self, fault: Fault | None) -> JSONResponse | None:
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
            if fault.status == 200:
                return None
        return _error(fault.status, fault.error, "injected fault", fault.headers)

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def check_key(request: Request, call_next: Any) -> Any:
            endpoint = (
                f"{request.method} /rooms"
                if request.method in ("DELETE", "GET")
                else (f"{request.method} {request.url.path}")
            )
            self.requests.append((request.method, endpoint.split(" ", 1)[1]))
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                return _error(401, "authentication-error", "Invalid API key")
            fault = self._next_fault(endpoint)
            if fault is not None and fault.reply is not None:
                await call_next(request)
                return JSONResponse(fault.reply)
            if fault is not None and fault.lost:
                answer = await call_next(request)
                await asyncio.sleep(fault.delay)
                return answer
            return await self._fault(fault) or await call_next(request)

        @app.post("/rooms")
        async def create_room(body: dict[str, Any]) -> Any:
            refused = _unknown(body, ROOM_FIELDS, ROOM_PROPERTIES)
            if refused is not None:
                return refused
            if body.get("privacy", "public") not in ("public", "private"):
                return _error(400, "invalid-request-error", "privacy must be public or private")
            name = body.get("name") or uuid.uuid4().hex
            if name in self.rooms:
                return _error(400, "invalid-request-error", f"a room named {name} already exists")
            room = {
                "id": str(uuid.uuid4()),
                "name": name,
                "api_created": True,
                "privacy": body.get("privacy", "public"),
                "url": f"https://fake.daily.co/{name}",
                "created_at": "2026-11-22T10:00:00.000Z",
                "config": body.get("properties", {}),
            }
            self.rooms[name] = room
            return room

        @app.get("/rooms/{name}")
        async def get_room(name: str) -> Any:
            if name not in self.rooms:
                return _error(404, "not-found", f"room {name} was not found")
            return self.rooms[name]

        @app.post("/meeting-tokens")
        async def create_token(body: dict[str, Any]) -> Any:
            refused = _unknown(body, TOKEN_FIELDS, TOKEN_PROPERTIES)
            if refused is not None:
                return refused
            properties = body.get("properties", {})
            self.tokens.append(properties)
            return {"token": f"daily-token-{uuid.uuid4().hex}"}

        @app.delete("/rooms/{name}")
        async def delete_room(name: str) -> Any:
            if self.rooms.pop(name, None) is None:
                return _error(404, "not-found", f"room {name} was not found")
            return {"deleted": True, "name": name}

        return app

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeDaily]:
        """Serve on a free loopback port for the duration of the block."""
        async with serve_on_loopback(self.app) as url:
            self.url = url + ""
            yield self


def _error(
    status: int, code: str, info: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "info": info}, status_code=status, headers=headers)


def _unknown(
    body: dict[str, Any], fields: frozenset[str], properties: frozenset[str]
) -> JSONResponse | None:
    """Daily's 400 for the first field or property it does not know, if any."""
    unknown = sorted(set(body) - fields)
    if unknown:
        return _error(400, "invalid-request-error", f"unknown field: {unknown[0]}")
    given = body.get("properties", {})
    if not isinstance(given, dict):
        return _error(400, "invalid-request-error", "properties must be an object")
    unknown = sorted(set(given) - properties)
    if unknown:
        return _error(400, "invalid-request-error", f"unknown property: {unknown[0]}")
    return None
