"""/metrics: Prometheus text of the conversations' starts, ends, bots and latencies."""

from __future__ import annotations

import os
import socket
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
    start,
    user_token,
)
from tests.conftest import auth, make_settings
from tests.fakes.bots import JOIN, LEAVE, ScriptedBot

TOKEN = "scrape-me-" + "z" * 20
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
        assert delta(before, during, "numerologist_bots_running", mode="embedded") == 1
        assert delta(before, after, "numerologist_bots_running", mode="embedded") == 0

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

    async def test_no_label_names_the_host_or_the_process(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        await start(client, await user_token(client))  # a bot running, so its gauge has a value
        response = await client.get("/metrics")
        values = {
            value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            for value in sample.labels.values()
        }
        assert values, "the scrape has labels"
        revealing = [v for v in values if socket.gethostname() in v or str(os.getpid()) in v]
        assert revealing == []


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


class TestMetricsInProduction:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, environment="production")

    async def test_without_a_token_they_are_off(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert "METRICS_TOKEN" in response.json()["detail"]
        assert "numerologist_" not in response.text

    async def test_docs_and_the_schema_are_off(self, client: httpx.AsyncClient) -> None:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404, path


class TestMetricsInProductionWithAToken:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, environment="production", metrics_token=TOKEN, api_docs=True)

    async def test_the_token_opens_them(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 401
        await scrape(client, **auth(TOKEN))

    async def test_api_docs_turns_the_docs_on(self, client: httpx.AsyncClient) -> None:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path
