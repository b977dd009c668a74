"""Webhooks in the worker mode: the status changes a worker process records (the user joined,
the call ended) and the API's reaper records (worker_lost) are delivered by the API's sender."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from src.core.settings import Settings
from tests.api.conversation_helpers import eventually, start, user_token
from tests.conftest import make_settings
from tests.fakes.webhooks import (
    SECRET,
    WebhookReceiver,
    webhook_settings,
)
from tests.voice.peer import Peer
from tests.workers.processes import WorkerProc

pytestmark = pytest.mark.postgresql_only

STARTED, ACTIVE, ENDED = "conversation.started", "conversation.active", "conversation.ended"


@pytest.fixture
def settings(clean_db: str, redis_url: str, prefix: str, receiver: WebhookReceiver) -> Settings:
    return make_settings(
        clean_db, redis_url=redis_url, redis_prefix=prefix, **webhook_settings(receiver.url)
    )


async def _greeted(client: httpx.AsyncClient) -> tuple[str, Peer]:
    """A call whose user has heard the greeting: its id and the user's peer."""
    started = await start(client, await user_token(client))
    assert started.status_code == 200, started.text
    body = started.json()
    peer = Peer()
    peer.start_pings()
    await peer.connect(client, body["daily_room_url"], body["daily_token"])
    await peer.utterance(peer.offer_sent_at)
    return str(body["conversation_id"]), peer


async def _received(
    receiver: WebhookReceiver, conversation_id: str, types: list[str], within: float = 20
) -> list[dict[str, Any]]:
    def check() -> None:
        assert receiver.types(conversation_id) == types

    await eventually(check, within=within)
    return receiver.of(conversation_id)


async def test_a_worker_s_status_changes_are_sent_by_the_api(
    client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    ready_worker: Callable[..., Awaitable[WorkerProc]],
) -> None:
    # The worker writes its conversations' events: it has the same webhook settings.
    worker = await ready_worker(webhook_url=receiver.url, webhook_secret=SECRET)
    hung_up, peer = await _greeted(client)
    await _received(receiver, hung_up, [STARTED, ACTIVE])
    await peer.close()
    events = await _received(receiver, hung_up, [STARTED, ACTIVE, ENDED])
    assert (events[2]["data"]["status"], events[2]["data"]["end_reason"]) == ("ended", "user_left")
    assert events[2]["data"]["message_count"] >= 1  # the greeting, stored by the worker

    lost, peer = await _greeted(client)
    try:
        await _received(receiver, lost, [STARTED, ACTIVE])
        worker.signal(signal.SIGKILL)
        events = await _received(receiver, lost, [STARTED, ACTIVE, ENDED])
    finally:
        await peer.close()
    assert (events[2]["data"]["status"], events[2]["data"]["end_reason"]) == (
        "failed",
        "worker_lost",
    )
    assert len(receiver.ids) == len(set(receiver.ids)) == 6
