"""A rejoin on a Daily room, end to end: the real app and the real voice bot on pipecat's Daily
transport, with daily-python's `CallClient` and Daily's REST API faked at their boundaries
(`tests.fakes.daily_client`, `tests.fakes.daily`): the user drops out of the room, asks for a new
token, joins again and is welcomed back by the same bot; gone for good, the call ends after the
grace period."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, no_bots_left, row, start
from tests.conftest import auth, daily_settings, register
from tests.fakes.daily import FakeDaily
from tests.fakes.daily_client import FakeCallClient

pytestmark = pytest.mark.once

GRACE_SECONDS = 6.0


@pytest.fixture
def settings(clean_db: str, fake_daily: FakeDaily) -> Settings:
    # The first bot of the run loads Moonshine before it is ready: give it the time.
    return daily_settings(
        clean_db,
        fake_daily,
        daily_join_timeout_seconds=2,
        bot_ready_timeout_seconds=60,
        rejoin_grace_seconds=GRACE_SECONDS,
    )


async def _said(client: httpx.AsyncClient, token: str, conversation_id: str) -> list[str]:
    url = f"/api/v1/conversations/{conversation_id}/messages?limit=100"
    items = (await client.get(url, headers=auth(token))).json()["items"]
    return [m["text"] for m in items if m["role"] == "assistant"]


async def test_a_user_back_in_a_daily_room_is_welcomed_back_by_the_same_bot(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_daily: FakeDaily,
    call_client: type[FakeCallClient],
    models: speech.SpeechModels,
) -> None:
    token = (await register(client, full_name="Ada Lovelace"))["access_token"]
    response = await start(client, token)
    assert response.status_code == 200, response.text
    first = response.json()
    cid = first["conversation_id"]
    (daily,) = call_client.instances

    await daily.participant_joined()

    async def greeted() -> None:
        assert (await row(app, cid)).status == "active"
        assert any(text.startswith("Hello Ada") for text in await _said(client, token, cid))

    await eventually(greeted, within=30)

    # The user's app drops out of the room without a goodbye: the call waits for them.
    await daily.participant_left()
    joined = await client.post(f"/api/v1/conversations/{cid}/join", headers=auth(token))
    assert joined.status_code == 200, joined.text
    again = joined.json()
    assert again["daily_room_url"] == first["daily_room_url"]
    assert again["daily_token"] != first["daily_token"]
    assert again["status"] == "active"
    await daily.participant_joined()

    async def welcomed_back() -> None:
        said = await _said(client, token, cid)
        assert any(text.startswith("Welcome back, Ada") for text in said), said
        # The same bot, carrying on: greeted once, not a second time.
        assert sum(text.startswith("Hello Ada") for text in said) == 1, said

    await eventually(welcomed_back, within=20)
    assert (await row(app, cid)).status == "active"
    # One bot in one room all along: daily-python's client was never released meanwhile.
    assert call_client.instances == [daily]
    assert daily.in_call

    # Gone for good: the call ends as user_left once the grace period has passed.
    await daily.participant_left()

    async def ended() -> None:
        stored = await row(app, cid)
        assert (stored.status, stored.end_reason) == ("ended", "user_left")
        assert stored.room_deleted_at is not None

    await eventually(ended, within=GRACE_SECONDS + 20)
    await no_bots_left(app)
    assert fake_daily.rooms == {}
