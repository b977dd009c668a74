"""The Daily path: the bot's transport and pipeline are built from a Daily room (no joining).

Joining needs the internet, which this suite never uses; the rest of the Daily provider is
tested against the fake Daily API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest

from src.core.database import utcnow
from src.services.rooms import Room
from src.voice_pipeline import pipecat_bot, speech
from src.voice_pipeline.context import BotContext
from src.voice_pipeline.numerologist import BotState
from tests.conftest import make_settings

pytestmark = pytest.mark.once


class _Events:
    async def ready(self) -> None:
        return None

    async def user_joined(self) -> None:
        return None


async def test_daily_transport_and_pipeline_are_built(models: speech.SpeechModels) -> None:
    from pipecat.transports.daily.transport import DailyTransport

    room = Room(
        name="conv-x",
        url="https://example.daily.co/conv-x",
        user_token="u",
        bot_token="bot-token",
        expires_at=utcnow() + timedelta(hours=1),
        provider="daily",
    )
    ctx = BotContext(
        conversation_id=uuid.uuid4(),
        user_full_name="Ada Lovelace",
        user_first_name="Ada",
        birth_date=date(1984, 7, 5),
        room=room,
        bot_token=room.bot_token,
        settings=make_settings("sqlite+aiosqlite://"),
        events=_Events(),
        connections=asyncio.Queue(),
    )
    transport = pipecat_bot.daily_transport(ctx)
    assert isinstance(transport, DailyTransport)
    greeter = pipecat_bot._Greeter("hello")
    parts = pipecat_bot._build_parts(ctx, BotState(ctx.conversation_id), greeter)
    worker = pipecat_bot._worker(transport, parts)
    assert worker is not None
    assert transport._client._room_url == room.url  # type: ignore[attr-defined]
    assert transport._client._token == "bot-token"  # type: ignore[attr-defined]
