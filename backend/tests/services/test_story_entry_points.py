"""Story 3.4's entry points (`services/daily_service.py`, `voice_pipeline/pipecat_bot.py`)
delegate to the room providers and the bot."""

from __future__ import annotations

import uuid

import pytest

from src.core.settings import Settings
from src.rooms.base import room_name_for
from src.services.daily_service import create_room
from src.voice_pipeline.pipecat_bot import run_bot
from tests.conftest import daily_settings
from tests.fakes.daily import FakeDaily


@pytest.mark.once
async def test_create_room_makes_the_conversations_room_at_the_provider(
    fake_daily: FakeDaily,
) -> None:
    conversation_id = uuid.uuid4()
    settings = daily_settings("sqlite+aiosqlite://", fake_daily)

    room = await create_room(str(conversation_id), user_name="Ada", settings=settings)

    assert room["room_name"] == room_name_for(conversation_id)
    assert room["room_url"] == f"https://fake.daily.co/{room['room_name']}"
    assert room["room_name"] in fake_daily.rooms
    user, _bot = fake_daily.tokens
    assert user["user_name"] == "Ada"
    assert user["is_owner"] is False
    assert room["meeting_token"] != room["bot_token"]


async def test_run_bot_refuses_a_room_no_conversation_has(settings: Settings) -> None:
    with pytest.raises(LookupError, match="conv-nothing"):
        await run_bot("http://testserver/rooms/conv-nothing", "token", settings=settings)
