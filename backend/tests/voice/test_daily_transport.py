"""The Daily path end to end: the real app and the real voice bot on pipecat's Daily transport.

Only what lies outside this machine is replaced: Daily's REST API (the fake on loopback) and
daily-python's network client, `CallClient` (`tests.fakes.daily_client`), which completes the
join and sends the participant events and the user's audio the way daily-python does. pipecat's
`DailyTransportClient` and `DailyTransport` and their event handlers are the real ones.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import numpy as np
import pytest
import soxr
from fastapi import FastAPI

from src.contract.bot import BotJob
from src.core.clock import utcnow
from src.core.settings import Settings
from src.rooms.base import ProviderName
from src.voice_pipeline import speech
from tests.api.conversation_helpers import all_rows, eventually, no_bots_left, row, start
from tests.conftest import auth, daily_settings, register
from tests.fakes.daily import FakeDaily
from tests.fakes.daily_client import JOIN_ERROR, FakeCallClient
from tests.voice.conftest import synthesise

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str, fake_daily: FakeDaily) -> Settings:
    # The first bot of the run loads Moonshine before it is ready: give it the time.
    return daily_settings(
        clean_db, fake_daily, daily_join_timeout_seconds=2, bot_ready_timeout_seconds=60
    )


def _pcm16k(models: speech.SpeechModels, text: str) -> bytes:
    speech48 = synthesise(models, text).astype(np.float32) / 32768
    return (soxr.resample(speech48, 48_000, 16_000) * 32767).astype(np.int16).tobytes()


async def _lines(client: httpx.AsyncClient, token: str, conversation_id: str) -> list[dict]:
    url = f"/api/v1/conversations/{conversation_id}/messages?limit=100"
    return list((await client.get(url, headers=auth(token))).json()["items"])


async def test_a_call_on_daily_joins_hears_answers_and_leaves_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_daily: FakeDaily,
    call_client: type[FakeCallClient],
    models: speech.SpeechModels,
) -> None:
    user = await register(client, full_name="Ada Lovelace")
    token = user["access_token"]
    response = await start(client, token)
    assert response.status_code == 200, response.text
    body = response.json()
    cid = body["conversation_id"]
    # Ready means joined: by the answer the bot is in the room, with its own token.
    (daily,) = call_client.instances
    assert daily.in_call
    assert daily.joined_url == body["daily_room_url"]
    assert daily.joined_token not in (None, body["daily_token"])
    assert (await row(app, cid)).bot_ready_at is not None

    await daily.participant_joined()

    async def active() -> None:
        assert (await row(app, cid)).status == "active"

    await eventually(active, within=10)
    await daily.speak(_pcm16k(models, "What is my life path number?"))

    async def answered() -> None:
        lines = await _lines(client, token, cid)
        heard = [m["text"].lower() for m in lines if m["role"] == "user"]
        said = [m["text"].lower() for m in lines if m["role"] == "assistant"]
        assert any("life path" in text for text in heard), lines
        # The greeting, then the answer to the question heard through Daily's audio.
        assert len(said) >= 2, lines
        assert "life path" in said[-1], lines

    await eventually(answered, within=40)

    await daily.participant_left()

    async def ended() -> None:
        stored = await row(app, cid)
        assert (stored.status, stored.end_reason) == ("ended", "user_left")
        assert stored.room_deleted_at is not None

    await eventually(ended, within=20)
    await no_bots_left(app)
    # The bot left the room once and released daily-python's client once; no room is left.
    assert (daily.left, daily.released) == (1, 1)
    assert not daily.in_call
    assert fake_daily.rooms == {}


async def test_a_refused_join_stops_the_real_bot_and_leaves_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_daily: FakeDaily,
    call_client: type[FakeCallClient],
) -> None:
    call_client.script(JOIN_ERROR + "the meeting token is not valid for this room")
    response = await start(client, (await register(client))["access_token"])
    assert response.status_code == 502
    assert response.json()["error"] == "room_join_failed"
    assert "token" not in response.json()["detail"]
    (stored,) = await all_rows(app)
    assert (stored.status, stored.end_reason) == ("failed", "room_error")
    assert stored.room_deleted_at is not None
    await no_bots_left(app)
    (daily,) = call_client.instances
    assert (daily.left, daily.released, daily.in_call) == (0, 1, False)
    assert fake_daily.rooms == {}


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


def test_a_job_survives_json() -> None:
    job = _job("local", "http://127.0.0.1:8000/rooms/conv-y")
    assert BotJob.from_json(job.to_json()) == job
    with pytest.raises(ValueError, match="not a bot job"):
        BotJob.from_json('{"conversation_id": "x"}')
