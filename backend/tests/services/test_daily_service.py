"""The Daily room provider against a fake Daily API, through the real HTTP client."""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from src.rooms.base import RoomProviderError, room_name_for
from src.rooms.daily.provider import DailyReplyMalformed, DailyRoomProvider
from tests.conftest import daily_settings
from tests.fakes.daily import API_KEY, FakeDaily, Fault

pytestmark = pytest.mark.once


def _provider(daily: FakeDaily, **overrides: object) -> DailyRoomProvider:
    return DailyRoomProvider(daily_settings("sqlite+aiosqlite://", daily, **overrides))


async def test_creates_a_private_expiring_room_with_two_tokens(fake_daily: FakeDaily) -> None:
    provider = _provider(fake_daily, room_ttl_seconds=3600)
    conversation_id = uuid.uuid4()
    started = time.time()
    room = await provider.create_room(conversation_id, user_name="Ada")
    await provider.close()

    assert room.name == room_name_for(conversation_id)
    assert room.url == f"https://fake.daily.co/{room.name}"
    assert room.provider == "daily"
    config = fake_daily.rooms[room.name]["config"]
    assert fake_daily.rooms[room.name]["privacy"] == "private"
    assert config["eject_at_room_exp"] is True
    assert config["max_participants"] == 2
    assert abs(config["exp"] - (started + 3600)) < 5
    user, bot = fake_daily.tokens
    assert user["room_name"] == bot["room_name"] == room.name
    assert user["is_owner"] is False
    assert bot["is_owner"] is True
    assert user["user_name"] == "Ada"
    assert user["user_id"] == str(conversation_id)
    assert user["eject_at_token_exp"] is True
    assert user["exp"] == config["exp"]
    assert room.user_token != room.bot_token


async def test_wrong_key_is_a_clear_error_without_the_key(fake_daily: FakeDaily) -> None:
    provider = DailyRoomProvider(
        daily_settings("sqlite+aiosqlite://", fake_daily).model_copy(
            update={"daily_api_key": "wrong-key-abcdef"}
        )
    )
    with pytest.raises(RoomProviderError) as caught:
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert "Daily rejected the API key (401" in caught.value.detail
    assert "check DAILY_API_KEY" in caught.value.detail
    assert "wrong-key" not in caught.value.detail
    assert API_KEY not in caught.value.detail
    assert "Invalid API key" not in caught.value.detail  # the raw body stays out
    assert fake_daily.count("POST /rooms") == 1  # 4xx is not retried


async def test_429_is_retried_after_retry_after(fake_daily: FakeDaily) -> None:
    fake_daily.fail("POST /rooms", Fault(429, "rate-limit-error", {"Retry-After": "1"}))
    provider = _provider(fake_daily)
    started = time.monotonic()
    room = await provider.create_room(uuid.uuid4(), user_name="Ada")
    elapsed = time.monotonic() - started
    await provider.close()
    assert room.name in fake_daily.rooms
    assert fake_daily.count("POST /rooms") == 2
    assert elapsed >= 0.9  # waited as Retry-After asked


async def test_persistent_5xx_gives_up_with_a_clear_error(fake_daily: FakeDaily) -> None:
    fake_daily.fail("POST /rooms", *[Fault(503, "server-error")] * 10)
    provider = _provider(fake_daily, daily_max_retries=2)
    with pytest.raises(RoomProviderError, match=r"Daily is unavailable \(503"):
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert fake_daily.count("POST /rooms") == 3
    assert fake_daily.rooms == {}


async def test_a_hanging_daily_times_out(fake_daily: FakeDaily) -> None:
    fake_daily.fail("POST /rooms", *[Fault(200, delay=2.0)] * 2)
    provider = _provider(fake_daily, daily_timeout_seconds=0.3, daily_max_retries=1)
    with pytest.raises(RoomProviderError, match="did not answer in time"):
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()


async def test_a_room_made_by_a_try_whose_answer_was_lost_is_taken(
    fake_daily: FakeDaily,
) -> None:
    fake_daily.fail("POST /rooms", Fault(lost=True, delay=1.0))
    provider = _provider(fake_daily, daily_timeout_seconds=0.3, daily_max_retries=1)
    conversation_id = uuid.uuid4()
    room = await provider.create_room(conversation_id, user_name="Ada")
    await provider.close()
    assert room.name == room_name_for(conversation_id)
    assert room.url == f"https://fake.daily.co/{room.name}"
    assert set(fake_daily.rooms) == {room.name}
    assert fake_daily.count("POST /rooms") == 2
    assert len(fake_daily.tokens) == 2


async def test_a_room_that_a_lost_try_may_have_made_is_deleted_when_all_tries_fail(
    fake_daily: FakeDaily,
) -> None:
    fake_daily.fail("POST /rooms", *[Fault(lost=True, delay=1.0)] * 2)
    provider = _provider(fake_daily, daily_timeout_seconds=0.3, daily_max_retries=1)
    with pytest.raises(RoomProviderError, match="did not answer in time"):
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert fake_daily.count("POST /rooms") == 2
    assert fake_daily.count("DELETE /rooms") == 1
    assert fake_daily.rooms == {}


async def test_token_failure_after_the_room_deletes_the_room(fake_daily: FakeDaily) -> None:
    fake_daily.fail("POST /meeting-tokens", Fault(400, "invalid-request-error"))
    provider = _provider(fake_daily)
    with pytest.raises(RoomProviderError, match="user's meeting token"):
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert fake_daily.count("POST /rooms") == 1
    assert fake_daily.count("DELETE /rooms") == 1
    assert fake_daily.rooms == {}


async def test_delete_counts_a_missing_room_as_deleted(fake_daily: FakeDaily) -> None:
    provider = _provider(fake_daily)
    room = await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.delete_room(room.name)
    await provider.delete_room(room.name)
    fake_daily.fail("DELETE /rooms", Fault(401, "authentication-error"))
    with pytest.raises(RoomProviderError, match="delete the room"):
        await provider.delete_room("another-room")
    await provider.close()
    assert fake_daily.rooms == {}


@pytest.mark.parametrize(
    ("endpoint", "reply", "field"),
    [
        ("POST /rooms", {"name": "x", "privacy": "private"}, "url"),
        ("POST /rooms", {"name": "x", "url": "not a url"}, "url"),
        ("POST /meeting-tokens", {"token": ""}, "token"),
        ("POST /meeting-tokens", ["not", "an", "object"], "token"),
    ],
)
async def test_a_malformed_200_is_a_typed_error_and_the_room_is_deleted(
    fake_daily: FakeDaily, endpoint: str, reply: object, field: str
) -> None:
    fake_daily.fail(endpoint, Fault(reply=reply))
    provider = _provider(fake_daily)
    with pytest.raises(DailyReplyMalformed) as caught:
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert f"lacks or mangles {field}" in caught.value.detail
    assert "check DAILY_API_URL" in caught.value.detail
    assert fake_daily.count("DELETE /rooms") == 1
    assert fake_daily.rooms == {}


async def test_a_delete_daily_says_it_did_not_do_is_an_error(fake_daily: FakeDaily) -> None:
    provider = _provider(fake_daily)
    room = await provider.create_room(uuid.uuid4(), user_name="Ada")
    fake_daily.fail("DELETE /rooms", Fault(status=200, reply={"deleted": False}))
    with pytest.raises(DailyReplyMalformed, match="was not deleted"):
        await provider.delete_room(room.name)
    fake_daily.fail("DELETE /rooms", Fault(reply={"name": room.name}))
    with pytest.raises(DailyReplyMalformed, match="lacks or mangles deleted"):
        await provider.delete_room(room.name)
    await provider.close()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_call_s_duration_outcome_and_retries_are_recorded(
    fake_daily: FakeDaily, caplog: pytest.LogCaptureFixture
) -> None:
    ok = {"operation": "create_room", "outcome": "ok"}
    before = {
        "ok": _sample("numerologist_daily_api_seconds_count", **ok),
        "retries": _sample("numerologist_daily_api_retries_total", operation="create_room"),
        "401": _sample(
            "numerologist_daily_api_seconds_count", operation="create_token", outcome="http_401"
        ),
        "bad": _sample(
            "numerologist_daily_api_seconds_count", operation="create_room", outcome="malformed"
        ),
    }
    fake_daily.fail("POST /rooms", Fault(503), Fault(429, "rate-limit-error"))
    provider = _provider(fake_daily)
    with caplog.at_level(logging.INFO, logger="src.rooms.daily.provider"):
        await provider.create_room(uuid.uuid4(), user_name="Ada")
    assert _sample("numerologist_daily_api_seconds_count", **ok) == before["ok"] + 1
    assert (
        _sample("numerologist_daily_api_retries_total", operation="create_room")
        == before["retries"] + 2
    )
    assert re.search(r"daily create_room: ok in \d+ ms, 3 tries", caplog.text)
    fake_daily.fail("POST /meeting-tokens", Fault(401, "authentication-error"))
    fake_daily.fail("POST /rooms", Fault(reply={"name": "x"}))
    for _ in range(2):
        with pytest.raises(RoomProviderError):
            await provider.create_room(uuid.uuid4(), user_name="Ada")
    await provider.close()
    assert (
        _sample(
            "numerologist_daily_api_seconds_count", operation="create_token", outcome="http_401"
        )
        == before["401"] + 1
    )
    assert (
        _sample(
            "numerologist_daily_api_seconds_count", operation="create_room", outcome="malformed"
        )
        == before["bad"] + 1
    )
    assert "daily create_token: http_401" in caplog.text
