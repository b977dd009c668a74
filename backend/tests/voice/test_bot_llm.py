"""The LLM path: an OpenAI-compatible server calls the engine's tool; the bot speaks the result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.numerology import life_path_number
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, row
from tests.conftest import make_settings
from tests.fakes.openai import API_KEY, FakeOpenAI
from tests.kit.speech import answer_to
from tests.voice.calls import new_call
from tests.voice.conftest import numbers_in, transcribe

pytestmark = pytest.mark.once
BIRTH = date(1987, 5, 6)


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(BIRTH.isoformat()).serve() as llm:
        yield llm


@pytest.fixture
def settings(clean_db: str, fake_llm: FakeOpenAI) -> Settings:
    return make_settings(
        clean_db, llm_base_url=fake_llm.url, llm_api_key=API_KEY, llm_model="fake-model"
    )


async def test_the_llm_calls_the_engine_and_the_bot_speaks_the_result(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    fake_llm: FakeOpenAI,
) -> None:
    user, body, peer = await new_call(client, full_name="Maria Lopez", birth_date=BIRTH)
    try:
        await peer.utterance(peer.offer_sent_at)
        answer = await transcribe(models, await answer_to(peer, models))
    finally:
        await peer.close()
    expected = life_path_number(BIRTH).value
    first = fake_llm.requests[0]
    assert first["model"] == "fake-model"
    assert {t["function"]["name"] for t in first["tools"]} >= {
        "life_path_number",
        "expression_number",
    }
    assert "Maria" in first["messages"][0]["content"]
    assert fake_llm.tool_results[0]["number"] == expected
    assert expected in numbers_in(answer), answer
    assert any(
        m.get("role") == "bot" and m["text"].startswith(f"Your life path number is {expected}")
        for m in peer.messages
    )
    # The kind the tool computed is the conversation's topic, stored when it ends.

    async def ended_with_topics() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.topics) == ("ended", ["life_path"])

    await eventually(ended_with_topics, within=30)
