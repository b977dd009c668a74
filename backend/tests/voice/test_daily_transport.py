"""The Daily path: the bot's transport and pipeline are built from a Daily room (no joining).

Joining needs the internet, which this suite never uses; the rest of the Daily provider is
tested against the fake Daily API.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from src.core.clock import utcnow
from src.models.message import MessageRole
from src.services.daily_service import DailyBotTransport
from src.voice_pipeline import pipecat_bot, speech
from src.voice_pipeline.job import BotContext, BotJob, ProviderName
from src.voice_pipeline.numerologist import BotState
from tests.conftest import make_settings

pytestmark = pytest.mark.once


class _Events:
    async def ready(self) -> None:
        return None

    async def user_joined(self) -> None:
        return None

    def said(self, role: MessageRole, text: str, kinds: tuple[str, ...] = ()) -> None:
        return None


def _job(provider: ProviderName, room_url: str) -> BotJob:
    return BotJob(
        conversation_id=uuid.uuid4(),
        provider=provider,
        room_name=room_url.rsplit("/", 1)[1],
        room_url=room_url,
        bot_token="bot-token",
        expires_at=utcnow() + timedelta(hours=1),
        user_full_name="Ada Lovelace",
        user_first_name="Ada",
        birth_date=date(1984, 7, 5),
    )


async def test_daily_transport_and_pipeline_are_built(models: speech.SpeechModels) -> None:
    from pipecat.transports.daily.transport import DailyTransport

    job = _job("daily", "https://example.daily.co/conv-x")
    ctx = BotContext(job, DailyBotTransport(job), _Events(), make_settings("sqlite+aiosqlite://"))
    transport = await ctx.transport.open()
    assert isinstance(transport, DailyTransport)
    greeter = pipecat_bot._Greeter("hello")
    parts = pipecat_bot._build_parts(ctx, BotState(ctx.conversation_id), greeter)
    worker = pipecat_bot._worker(transport, parts)
    assert worker is not None
    assert transport._client._room_url == job.room_url  # type: ignore[attr-defined]
    assert transport._client._token == "bot-token"  # type: ignore[attr-defined]


def test_a_job_survives_json() -> None:
    job = _job("local", "http://127.0.0.1:8000/rooms/conv-y")
    assert BotJob.from_json(job.to_json()) == job
    with pytest.raises(ValueError, match="not a bot job"):
        BotJob.from_json('{"conversation_id": "x"}')
