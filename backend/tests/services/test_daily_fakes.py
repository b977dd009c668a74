"""The Daily fakes are as strict as Daily: what Daily's API or daily-python would refuse, they
refuse, so a test passing on them does not rest on a call Daily would not take."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.daily import API_KEY, FakeDaily
from tests.fakes.daily_client import FakeCallClient

pytestmark = pytest.mark.once


@pytest.fixture
async def daily_api() -> AsyncIterator[httpx.AsyncClient]:
    async with FakeDaily().serve() as fake:
        headers = {"authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(base_url=fake.url, headers=headers) as client:
            yield client


class TestRestApi:
    async def test_documented_room_and_token_properties_are_taken(
        self, daily_api: httpx.AsyncClient
    ) -> None:
        room = {"name": "r1", "privacy": "private", "properties": {"exp": 1, "max_participants": 2}}
        assert (await daily_api.post("/rooms", json=room)).status_code == 200
        token = {"properties": {"room_name": "r1", "exp": 1, "is_owner": False}}
        assert (await daily_api.post("/meeting-tokens", json=token)).status_code == 200

    @pytest.mark.parametrize(
        ("path", "body", "unknown"),
        [
            ("/rooms", {"properties": {"max_participant": 2}}, "property: max_participant"),
            ("/rooms", {"name": "r2", "room_name": "r2"}, "field: room_name"),
            ("/meeting-tokens", {"properties": {"room": "r1"}}, "property: room"),
            ("/meeting-tokens", {"room_name": "r1"}, "field: room_name"),
        ],
    )
    async def test_an_unknown_field_or_property_is_refused(
        self, daily_api: httpx.AsyncClient, path: str, body: dict[str, Any], unknown: str
    ) -> None:
        answer = await daily_api.post(path, json=body)
        assert answer.status_code == 400
        assert answer.json() == {"error": "invalid-request-error", "info": f"unknown {unknown}"}

    async def test_a_privacy_daily_does_not_have_is_refused(
        self, daily_api: httpx.AsyncClient
    ) -> None:
        answer = await daily_api.post("/rooms", json={"privacy": "secret"})
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid-request-error")


class TestCallClient:
    @pytest.fixture(autouse=True)
    def _forget_clients(self) -> Iterator[None]:
        yield
        FakeCallClient.reset()

    def test_a_method_daily_python_has_is_recorded(self) -> None:
        client = FakeCallClient()
        client.update_subscriptions(participant_settings={"user-1": {"media": "subscribed"}})
        client.send_app_message({"hello": 1}, None)
        assert client.calls == ["update_subscriptions", "send_app_message"]

    def test_a_method_daily_python_lacks_is_refused(self) -> None:
        with pytest.raises(AttributeError, match="no attribute 'update_subscription'"):
            FakeCallClient().update_subscription({})

    def test_arguments_daily_python_does_not_take_are_refused(self) -> None:
        client = FakeCallClient()
        with pytest.raises(TypeError):
            client.update_subscriptions(participants={})
        with pytest.raises(TypeError):
            client.join("https://fake.daily.co/r1", token="t")
        with pytest.raises(TypeError):
            client.leave(None, None)
        assert client.calls == []
