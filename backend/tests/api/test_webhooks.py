"""Webhooks: every path that starts, activates or ends a conversation sends its event, signed,
in order, once; events written while the receiver is down survive a restart of the app."""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from src.core.settings import Settings
from src.main import create_app
from src.models.conversation import Conversation
from src.models.webhook import WebhookOutbox
from tests.api.conversation_helpers import (
    deliver,
    eventually,
    left_by_a_killed_process,
    start,
    user_token,
)
from tests.conftest import auth, daily_settings, make_settings, register
from tests.fakes.bots import JOIN, LEAVE, SAID, ScriptedBot
from tests.fakes.daily import FakeDaily
from tests.fakes.daily import Fault as DailyFault
from tests.fakes.webhooks import (
    SECRET,
    WebhookReceiver,
    webhook_settings,
)

STARTED, ACTIVE, ENDED = "conversation.started", "conversation.active", "conversation.ended"


@pytest.fixture
def settings(clean_db: str, receiver: WebhookReceiver) -> Settings:
    return make_settings(clean_db, **webhook_settings(receiver.url))


async def received(
    receiver: WebhookReceiver, conversation_id: object, types: list[str], within: float = 10
) -> list[dict[str, Any]]:
    """Wait until exactly these events of the conversation arrived, in this order."""

    def check() -> None:
        assert receiver.types(conversation_id) == types

    await eventually(check, within=within)
    return receiver.of(conversation_id)


async def outbox_rows(app: FastAPI) -> list[WebhookOutbox]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.scalars(select(WebhookOutbox).order_by(WebhookOutbox.id))).all())


async def _activations(app: FastAPI, conversation_id: str) -> int:
    """How many `conversation.active` events were written for the conversation (sent or not)."""
    written = [(r.event_type, str(r.conversation_id)) for r in await outbox_rows(app)]
    return written.count((ACTIVE, conversation_id))


def once_each(receiver: WebhookReceiver) -> None:
    assert len(receiver.ids) == len(set(receiver.ids)), receiver.ids


class TestEveryPathSendsItsEvents:
    async def test_start_join_and_the_end_endpoint(
        self, app: FastAPI, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        user = await register(client)
        token, user_id = user["access_token"], user["user"]["id"]
        conversation_id = (await start(client, token)).json()["conversation_id"]
        (started,) = await received(receiver, conversation_id, [STARTED])
        assert started["data"] == {
            "id": conversation_id,
            "user_id": user_id,
            "status": "waiting_for_user",
            "end_reason": None,
            "started_at": started["data"]["started_at"],
            "ended_at": None,
            "duration_seconds": None,
            "topics": [],
            "message_count": 0,
        }
        assert started["timestamp"].endswith("Z")
        deliver(app, conversation_id, JOIN)
        await received(receiver, conversation_id, [STARTED, ACTIVE])
        # A second connection (a rejoin) is no second activation. The bot takes its commands
        # in order: once the line said after the second join is stored, that join was handled.
        deliver(app, conversation_id, JOIN)
        deliver(app, conversation_id, (SAID, "assistant", "Welcome back!"))

        async def second_join_handled() -> None:
            lines = await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
            )
            assert lines.json()["total"] == 1

        await eventually(second_join_handled)
        assert await _activations(app, conversation_id) == 1
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200
        events = await received(receiver, conversation_id, [STARTED, ACTIVE, ENDED])
        active, end = events[1]["data"], events[2]["data"]
        assert active["status"] == "active"
        assert (end["status"], end["end_reason"]) == ("ended", "user_ended")
        stored = ended.json()
        assert end["ended_at"] is not None
        assert end["duration_seconds"] == stored["duration_seconds"]
        once_each(receiver)

    async def test_the_bot_ending_it_with_the_lines_said(
        self, app: FastAPI, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)
        deliver(app, conversation_id, (SAID, "assistant", "Hello Ada!"))
        deliver(app, conversation_id, (SAID, "user", "What is my life path number?"))

        async def stored_lines() -> None:
            lines = await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
            )
            assert lines.json()["total"] == 2

        await eventually(stored_lines)
        deliver(app, conversation_id, LEAVE)
        events = await received(receiver, conversation_id, [STARTED, ACTIVE, ENDED])
        assert events[2]["data"]["end_reason"] == "user_left"
        assert events[2]["data"]["message_count"] == 2

    async def test_account_deletion_ends_the_call_and_its_event_outlives_it(
        self, app: FastAPI, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        receiver.down = True
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)
        await eventually(lambda: _written(app, 2))
        deleted = await client.request(
            "DELETE",
            "/api/v1/users/me",
            headers=auth(token),
            json={"password": "correct horse battery"},  # user_token's
        )
        assert deleted.status_code == 204
        async with app.state.database.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
        # Written before the receiver came back: the deletion neither blocked nor took them.
        assert [r.event_type for r in await outbox_rows(app)] == [STARTED, ACTIVE, ENDED]
        receiver.down = False
        events = await received(receiver, conversation_id, [STARTED, ACTIVE, ENDED])
        assert (events[2]["data"]["status"], events[2]["data"]["end_reason"]) == (
            "ended",
            "user_ended",
        )
        once_each(receiver)


class TestFailedStarts:
    @pytest.fixture
    def bot(self) -> ScriptedBot:
        return ScriptedBot(fail_on_start=True)

    async def test_a_bot_that_cannot_start_sends_started_then_failed(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        response = await start(client, await user_token(client))
        assert response.status_code == 500
        (conversation_id,) = {e["data"]["id"] for e in await _all(receiver, 2)}
        events = await received(receiver, conversation_id, [STARTED, ENDED])
        assert (events[1]["data"]["status"], events[1]["data"]["end_reason"]) == (
            "failed",
            "bot_error",
        )


async def _all(receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    def check() -> None:
        assert len(receiver.events) == count

    await eventually(check)
    return receiver.events


class TestDailyRoomFailure:
    @pytest.fixture
    def settings(self, clean_db: str, fake_daily: FakeDaily, receiver: WebhookReceiver) -> Settings:
        return daily_settings(
            clean_db, fake_daily, daily_max_retries=1, **webhook_settings(receiver.url)
        )

    async def test_a_room_that_cannot_be_made_sends_only_failed(
        self, client: httpx.AsyncClient, fake_daily: FakeDaily, receiver: WebhookReceiver
    ) -> None:
        fake_daily.fail("POST /rooms", DailyFault(503), DailyFault(503))
        response = await start(client, await user_token(client))
        assert response.status_code == 500
        (event,) = await _all(receiver, 1)
        assert event["type"] == ENDED
        assert (event["data"]["status"], event["data"]["end_reason"]) == ("failed", "room_error")


class TestTimeouts:
    @pytest.fixture
    def settings(self, clean_db: str, receiver: WebhookReceiver) -> Settings:
        return make_settings(clean_db, join_timeout_seconds=0.3, **webhook_settings(receiver.url))

    async def test_a_user_who_never_joins(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        events = await received(receiver, conversation_id, [STARTED, ENDED])
        assert events[1]["data"]["end_reason"] == "user_never_joined"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestRestart:
    async def test_events_kept_while_the_receiver_is_down_are_sent_after_a_restart(
        self, clean_db: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = _free_port()
        receiver = WebhookReceiver()
        # Nothing listens on the port yet: every attempt is refused.
        settings = make_settings(clean_db, **webhook_settings(f"http://127.0.0.1:{port}/hooks"))
        caplog.set_level(logging.INFO)
        first = create_app(settings, run_bot=ScriptedBot())
        async with LifespanManager(first):
            transport = httpx.ASGITransport(app=first)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                token = await user_token(c)
                ended_id = (await start(c, token)).json()["conversation_id"]
                deliver(first, ended_id, JOIN)
                await eventually(lambda: _written(first, 2))
                done = await c.post(f"/api/v1/conversations/{ended_id}/end", headers=auth(token))
                assert done.status_code == 200
                # Left live: the shutdown ends it (server_shutdown).
                live_id = (await start(c, token)).json()["conversation_id"]
                await eventually(lambda: _attempted(caplog), within=10)
        rows = await outbox_rows(first)
        # Stopped cleanly: no row stays leased, so the next start sends them at once.
        assert [r.leased_until for r in rows] == [None] * 5
        assert [(r.event_type, r.delivered_at) for r in rows] == [
            (STARTED, None),
            (ACTIVE, None),
            (ENDED, None),
            (STARTED, None),
            (ENDED, None),
        ]
        failures = [r for r in caplog.records if "attempt" in r.getMessage()]
        assert failures
        for record in failures:
            message = record.getMessage()
            assert "failed (ConnectError)" in message
            assert "conversation " in message
            assert SECRET not in message
            assert '"data"' not in message
        await first.state.database.dispose()

        async with receiver.serve(port):
            second = create_app(settings, run_bot=ScriptedBot())
            async with LifespanManager(second):
                await received(receiver, ended_id, [STARTED, ACTIVE, ENDED])
                events = await received(receiver, live_id, [STARTED, ENDED])
                assert events[1]["data"]["end_reason"] == "server_shutdown"
                await eventually(lambda: _delivered(second, 5))
        once_each(receiver)
        assert len(receiver.events) == 5
        # Nothing logged the secret, in either life of the app.
        assert SECRET not in caplog.text
        assert SECRET.removeprefix("whsec_") not in caplog.text

    async def test_restart_reconciliation_sends_the_ends(
        self, clean_db: str, receiver: WebhookReceiver
    ) -> None:
        settings = make_settings(clean_db, **webhook_settings(receiver.url))
        # A row as a killed process leaves it: live, and no bot anywhere.
        (left,) = await left_by_a_killed_process(settings, {"status": "active"})
        second = create_app(settings, run_bot=ScriptedBot())
        async with LifespanManager(second):
            (event,) = await received(receiver, left.id, [ENDED])
        assert event["data"]["end_reason"] == "server_restart"


async def _written(app: FastAPI, count: int) -> None:
    assert len(await outbox_rows(app)) == count


async def _delivered(app: FastAPI, count: int) -> None:
    rows = await outbox_rows(app)
    assert sum(r.delivered_at is not None for r in rows) == count


def _attempted(caplog: pytest.LogCaptureFixture) -> None:
    assert any("attempt" in r.getMessage() for r in caplog.records)


class TestWithoutWebhooks:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db)

    async def test_nothing_is_written(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)
        await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
        assert await outbox_rows(app) == []
