"""A webhook receiver on loopback that verifies every request as Standard Webhooks says.

Each request is checked with the `standardwebhooks` library's own verifier (signature, and a
timestamp within 5 minutes) and answered 401 when it fails. Faults make the next requests fail
(a status, with headers, or an answer slower than the sender's timeout); `down` makes every
request fail with 503 until it is cleared.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes.loopback import serve_on_loopback

SECRET = "whsec_" + base64.b64encode(b"numerologist-test-webhook-key-32b").decode()


@dataclass
class Fault:
    """One injected answer: a status (with headers), after a delay (a timeout, if longer than
    the sender waits)."""

    status: int = 503
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Attempt:
    """A request the receiver saw: its `webhook-id`, and the status it answered."""

    webhook_id: str
    status: int
    at: float = field(default_factory=time.monotonic)


class WebhookReceiver:
    """The receiver's state: verified events accepted, every attempt, faults to inject."""

    def __init__(self, secret: str = SECRET) -> None:
        self._verifier = Webhook(secret)
        self.events: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.attempts: list[Attempt] = []
        # The `webhook-id` of every request as it arrives (before any delay).
        self.seen: list[str] = []
        self.faults: list[Fault] = []
        # Faults for the events of one conversation only (by its id).
        self.faults_for: dict[str, list[Fault]] = {}
        self.down = False
        self.url = ""
        self.app = self._build()

    def fail(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, in turn."""
        self.faults.extend(faults)

    def of(self, conversation_id: object) -> list[dict[str, Any]]:
        """The accepted events about one conversation, in the order received."""
        return [e for e in self.events if e["data"]["id"] == str(conversation_id)]

    def types(self, conversation_id: object) -> list[str]:
        """Their types, in the order received."""
        return [e["type"] for e in self.of(conversation_id)]

    def _fault(self, payload: dict[str, Any]) -> Fault | None:
        mine = self.faults_for.get(payload["data"]["id"])
        if mine:
            return mine.pop(0)
        if self.faults:
            return self.faults.pop(0)
        return Fault() if self.down else None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks")
        async def receive(request: Request) -> Response:
            body = await request.body()
            webhook_id = request.headers.get("webhook-id", "")
            self.seen.append(webhook_id)
            try:
                payload = self._verifier.verify(body, dict(request.headers))
            except WebhookVerificationError:
                self.attempts.append(Attempt(webhook_id, 401))
                return Response(status_code=401)
            fault = self._fault(payload)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                self.attempts.append(Attempt(webhook_id, fault.status))
                return Response(status_code=fault.status, headers=fault.headers)
            self.attempts.append(Attempt(webhook_id, 204))
            self.events.append(payload)
            self.ids.append(webhook_id)
            return Response(status_code=204)

        return app

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[WebhookReceiver]:
        """Serve on loopback (a free port unless given) for the duration of the block."""
        async with serve_on_loopback(self.app, port) as url:
            self.url = f"{url}/hooks"
            yield self


def webhook_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """Settings that send webhooks to `url`, with quick polls and retries for tests."""
    return {
        "webhook_url": url,
        "webhook_secret": SECRET,
        "webhook_poll_interval_seconds": 0.05,
        "webhook_retry_base_seconds": 0.05,
        "webhook_retry_max_seconds": 0.2,
        "webhook_timeout_seconds": 1.0,
        **overrides,
    }


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver serving on loopback for one test (import this fixture)."""
    async with WebhookReceiver().serve() as served:
        yield served
