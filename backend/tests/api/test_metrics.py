"""/metrics: Prometheus text of the conversations' starts, ends, bots and latencies."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from src.core.settings import Settings
from tests.api.conversation_helpers import (
    eventually,
    no_bots_left,
    row,
    runner,
    start,
    user_token,
)
from tests.conftest import auth, make_settings
from tests.fakes.bots import JOIN, LEAVE, ScriptedBot

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


class TestConversationMetrics:
    async def test_a_call_is_counted_and_timed(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        before = await scrape(client)
        token = await user_token(client)
        started = await start(client, token)
        conversation_id = uuid.UUID(started.json()["conversation_id"])
        during = await scrape(client)
        bot.inbox(conversation_id).put_nowait(JOIN)
        bot.inbox(conversation_id).put_nowait(LEAVE)

        async def ended() -> None:
            assert (await row(app, conversation_id)).status == "ended"

        await eventually(ended)
        await no_bots_left(app)
        after = await scrape(client)
        started_total = "numerologist_conversations_started_total"
        assert delta(before, after, started_total, outcome="started") == 1
        ended_total = "numerologist_conversations_ended_total"
        assert delta(before, after, ended_total, reason="user_left") == 1
        for histogram in (
            "numerologist_conversation_start_seconds",
            "numerologist_bot_ready_seconds",
        ):
            assert delta(before, after, f"{histogram}_count") == 1, histogram
            assert delta(before, after, f"{histogram}_sum") > 0, histogram
        owner = runner(app).owner_id
        assert delta(before, during, "numerologist_bots_running", owner=owner) == 1
        assert delta(before, after, "numerologist_bots_running", owner=owner) == 0

    async def test_a_refused_start_is_counted_by_its_code(self, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        for _ in range(3):
            assert (await start(client, token)).status_code == 200
        before = await scrape(client)
        assert (await start(client, token)).status_code == 429
        after = await scrape(client)
        name = "numerologist_conversations_started_total"
        assert delta(before, after, name, outcome="too_many_conversations") == 1
        assert delta(before, after, name, outcome="started") == 0


class TestMetricsToken:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, metrics_token="scrape-me-" + "z" * 20)

    async def test_the_token_is_required_when_set(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, auth("wrong")):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"] == "not_authenticated"
            assert response.headers["www-authenticate"] == "Bearer"
        await scrape(client, **auth("scrape-me-" + "z" * 20))
