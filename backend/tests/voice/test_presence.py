"""The user's comings and goings as a Daily room reports them (its events, fired by hand: the
Daily transport itself needs the internet): greeted once, welcomed back, gone after the grace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from src.contract.bot import BotContext, BotJob
from src.core.clock import utcnow
from src.rooms.daily.transport import DailyBotTransport
from src.voice_pipeline import presence
from src.voice_pipeline.presence import Presence
from tests.conftest import make_settings

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once


class _PipecatTransport:
    """Stands for pipecat's transport: handlers registered by event name, fired by the test."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[..., Any]]] = {}

    def event_handler(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers.setdefault(name, []).append(handler)
            return handler

        return register

    async def fire(self, name: str, *args: Any) -> None:
        for handler in self.handlers.get(name, []):
            await handler(self, *args)


def _presence(grace: float) -> tuple[Presence, _PipecatTransport, list[str]]:
    job = BotJob(
        conversation_id=uuid.uuid4(),
        provider="daily",
        room_name="conv-x",
        room_url="https://fake.daily.co/conv-x",
        bot_token="bot-token",
        expires_at=utcnow() + timedelta(hours=1),
        user_full_name="Ada Lovelace",
        user_first_name="Ada",
        birth_date=date(1984, 7, 5),
    )
    settings = make_settings("sqlite+aiosqlite://", rejoin_grace_seconds=grace)
    ctx = BotContext(job, DailyBotTransport(job, join_timeout=5), events=None, settings=settings)  # type: ignore[arg-type]
    calls: list[str] = []

    def record(what: str) -> Callable[[], Any]:
        async def call() -> None:
            calls.append(what)

        return call

    transport = _PipecatTransport()
    found = Presence(
        ctx, transport, first=record("first"), back=record("back"), gone=record("gone")
    )
    return found, transport, calls


@pytest.fixture(autouse=True)
def _no_welcome_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presence, "WELCOME_BACK_DELAY_SECONDS", 0.0)


async def test_a_participant_who_rejoins_is_welcomed_back_not_greeted_again() -> None:
    found, transport, calls = _presence(grace=5)
    found.start()
    try:
        # Daily reports the first join twice: first participant, then participant.
        await transport.fire("on_first_participant_joined", {"id": "a"})
        await transport.fire("on_participant_joined", {"id": "a"})
        await transport.fire("on_participant_left", {"id": "a"}, "hidden")
        await transport.fire("on_participant_joined", {"id": "b"})
        await asyncio.sleep(0.1)
        assert calls == ["first", "back"]
    finally:
        await found.close()


async def test_a_participant_who_does_not_come_back_is_gone_after_the_grace() -> None:
    found, transport, calls = _presence(grace=0.2)
    found.start()
    try:
        await transport.fire("on_first_participant_joined", {"id": "a"})
        await transport.fire("on_participant_left", {"id": "a"}, "leftCall")
        await asyncio.sleep(0.05)
        assert calls == ["first"]  # still within the grace
        await asyncio.sleep(0.4)
        assert calls == ["first", "gone"]
    finally:
        await found.close()


async def test_no_grace_ends_at_once() -> None:
    found, transport, calls = _presence(grace=0)
    found.start()
    try:
        await transport.fire("on_first_participant_joined", {"id": "a"})
        await transport.fire("on_participant_left", {"id": "a"}, "leftCall")
        await asyncio.sleep(0.05)
        assert calls == ["first", "gone"]
    finally:
        await found.close()
