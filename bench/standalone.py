"""One bot in its own process: the design of pipecat's examples, kept for comparison.

The service runs every bot in one process, sharing one copy of the models (see
`voice_pipeline/bot.py`). The pipecat examples instead start a new Python process per
conversation that loads its own models and serves the user's WebRTC offer itself. This module
is that design, built from the same bot (`bot.run_bot`), so `make bench` can measure both
side by side (bench/process_per_bot.py); the service never runs it. From the repository's root::

    python -m bench.standalone --port 8765 --full-name "Ada Lovelace" \\
        --birth-date 1984-07-05

It answers ``POST /api/v1/rooms/{room}/offer`` and ``PATCH`` (ICE candidates) like the
service's signalling endpoints, with the token given by ``--token`` (default: none checked);
``--port 0`` takes a free port. It prints one JSON line on stdout per event: ``listening``
(with the port), ``ready``, ``joined``, ``ended``; it exits when the bot ends or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import signal
import sys
import time
import uuid
from datetime import date, timedelta
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from src.contract.bot import BotContext, BotJob
from src.core.clock import utcnow
from src.core.enums import MessageRole, MessageSource
from src.core.logging import configure_logging
from src.core.settings import Settings
from src.rooms.local.provider import LocalRoomProvider
from src.voice_pipeline import bot as voice_bot


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "at": time.time(), **fields}), flush=True)


class _PrintedEvents:
    """The bot's lifecycle, as JSON lines on stdout (there is no database here)."""

    async def ready(self) -> None:
        _emit("ready")

    async def user_joined(self) -> None:
        _emit("joined")

    def said(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        _emit(
            "said",
            role=role.value,
            text=text,
            kinds=list(kinds),
            source=source.value,
            interrupted=interrupted,
        )


class _Offer(BaseModel):
    sdp: str = Field(max_length=100_000)
    type: Literal["offer"]
    pc_id: str | None = None
    restart_pc: bool | None = None


class _Candidate(BaseModel):
    candidate: str
    sdp_mid: str
    sdp_mline_index: int


class _Candidates(BaseModel):
    pc_id: str
    candidates: list[_Candidate]


def _app(rooms: LocalRoomProvider, name: str, token: str | None) -> FastAPI:
    """Its one room answers whatever room name the path carries (there is only one here)."""
    app = FastAPI(title="one numerologist bot")

    def check(authorization: str | None) -> None:
        given = (authorization or "").removeprefix("Bearer ")
        if token is not None and not hmac.compare_digest(given, token):
            raise HTTPException(401, "wrong room token")

    @app.post("/api/v1/rooms/{room}/offer")
    async def offer(
        room: str, body: _Offer, authorization: str | None = Header(default=None)
    ) -> dict[str, Any]:
        check(authorization)
        return await rooms.answer_offer(name, body.model_dump())

    @app.patch("/api/v1/rooms/{room}/offer", status_code=204)
    async def candidates(
        room: str, body: _Candidates, authorization: str | None = Header(default=None)
    ) -> None:
        check(authorization)
        await rooms.add_candidates(name, body.model_dump())

    return app


async def serve(
    settings: Settings, port: int, full_name: str, birth_date: date, token: str | None
) -> str:
    """Load the models, serve the offer endpoint, run the bot; the reason it ended."""
    await voice_bot.preload(settings)
    conversation_id = uuid.uuid4()
    rooms = LocalRoomProvider(settings)
    name = f"conv-{conversation_id.hex}"
    job = BotJob(
        conversation_id=conversation_id,
        provider="local",
        room_name=name,
        room_url="",
        bot_token="",
        expires_at=utcnow() + timedelta(seconds=settings.room_ttl_seconds),
        user_full_name=full_name,
        user_first_name=full_name.split()[0],
        birth_date=birth_date,
    )
    ctx = BotContext(job, rooms.bot_transport(job), _PrintedEvents(), settings.for_bot())
    server = uvicorn.Server(
        uvicorn.Config(_app(rooms, name, token), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the HTTP server stopped while starting")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    _emit("listening", port=port)
    bot = asyncio.create_task(voice_bot.run_bot(ctx))
    # Installed after uvicorn's own, so SIGTERM stops the bot first (then the server).
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, bot.cancel)
    loop.add_signal_handler(signal.SIGINT, bot.cancel)
    try:
        reason = (await bot).value
    except asyncio.CancelledError:
        reason = "server_shutdown"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
    _emit("ended", reason=reason)
    return reason


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="0 for a free one")
    parser.add_argument("--full-name", default="Ada Lovelace")
    parser.add_argument("--birth-date", type=date.fromisoformat, default=date(1984, 7, 5))
    parser.add_argument("--token", default=None, help="the bearer token offers must carry")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.pipecat_log_level, settings.log_format)
    asyncio.run(serve(settings, args.port, args.full_name, args.birth_date, args.token))
    sys.exit(0)


if __name__ == "__main__":
    main()
