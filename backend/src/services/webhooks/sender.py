"""Delivering the outbox: signed POSTs, retried with backoff, in order per conversation.

At least once: a row is marked delivered only after the receiver's 2xx, so a crash between the
two sends it again (receivers dedupe on `webhook-id`). A conversation's next event waits until
the one before it is delivered or given up. Several processes may run a sender on one
PostgreSQL: each claims rows under `FOR UPDATE SKIP LOCKED` and leases them for longer than a
request can take, so no row is posted by two at once; SQLite has one process.

Timeouts, connection errors, 408, 429 and 5xx are retried (exponential backoff with jitter,
`Retry-After` honoured up to the longest wait) until WEBHOOK_RETRY_FOR_SECONDS after the
event; any other answer is final. Each failed attempt is logged (the status or the error's name:
no body, no secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import aliased
from standardwebhooks import Webhook

from src.core import metrics
from src.core.clock import as_utc, utcnow
from src.core.database import Database
from src.core.settings import Settings
from src.models.webhook import WebhookOutbox
from src.services.webhooks.policy import Outcome, classify

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 16
# A lease outlives any request (timeout) by this much before another sender may take the row.
LEASE_MARGIN_SECONDS = 30.0
# Delivered and abandoned rows are kept this long (to look into), then purged.
RETENTION = timedelta(days=7)
PURGE_EVERY_SECONDS = 3600.0
USER_AGENT = "numerologist-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    """A row leased for one attempt."""

    id: int
    event_id: uuid.UUID
    event_type: str
    conversation_id: uuid.UUID
    payload: dict[str, Any]
    attempts: int
    created_at: datetime

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header."""
        return f"msg_{self.event_id.hex}"


class WebhookSender:
    """Posts the outbox's events to WEBHOOK_URL; see the module docstring."""

    def __init__(self, database: Database, settings: Settings) -> None:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("the webhook sender needs WEBHOOK_URL and WEBHOOK_SECRET")
        self._database = database
        self._settings = settings
        self._url = settings.webhook_url
        self._signer = Webhook(settings.webhook_secret.get_secret_value())
        timeout = settings.webhook_timeout_seconds
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self._lease = timedelta(seconds=timeout + LEASE_MARGIN_SECONDS)
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._purged_at = -PURGE_EVERY_SECONDS  # the first pass purges
        self._stopping = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sending in the background (until `close`)."""
        self._loop = asyncio.create_task(self._run(), name="webhooks")

    async def _run(self) -> None:
        # Stopped between passes, never in one: a claim cut off mid-commit would leave its rows
        # leased (unsent) until the lease ran out.
        while not self._stopping.is_set():
            try:
                await self.run_once()
                await self._purge_now_and_then()
            except Exception as exc:
                logger.error("webhooks: outbox not read, retrying: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), self._settings.webhook_poll_interval_seconds
                )

    async def run_once(self) -> int:
        """Claim the events due now and start sending them; how many were claimed."""
        free = MAX_IN_FLIGHT - len(self._in_flight)
        if free <= 0:
            return 0
        claimed = await self._claim(free)
        for item in claimed:
            task = asyncio.create_task(self._send(item), name=f"webhook-{item.id}")
            self._in_flight[item.id] = task
            task.add_done_callback(functools.partial(self._done, item.id))
        return len(claimed)

    def _done(self, row_id: int, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(row_id, None)
        if not task.cancelled() and task.exception() is not None:
            # The lease runs out and the event is tried again.
            logger.error("webhooks: sending failed: %s", type(task.exception()).__name__)

    async def idle(self) -> None:
        """Wait for the attempts under way to finish."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop claiming, cut the attempts under way (their rows are freed at once for the next
        start or another process) and close the client."""
        self._stopping.set()
        if self._loop is not None:
            await self._loop
        cut = list(self._in_flight)
        for task in self._in_flight.values():
            task.cancel()
        await self.idle()
        if cut:
            try:
                async with self._database.sessionmaker.begin() as session:
                    await session.execute(
                        update(WebhookOutbox)
                        .where(
                            WebhookOutbox.id.in_(cut), WebhookOutbox.next_attempt_at.is_not(None)
                        )
                        .values(leased_until=None)
                    )
            except Exception as exc:
                # Their leases run out instead: sent again then.
                logger.error("webhooks: %d leases not freed: %s", len(cut), type(exc).__name__)
        await self._client.aclose()

    async def _claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        earlier = aliased(WebhookOutbox)
        # A conversation's event waits while one before it is still to be sent.
        blocked = exists().where(
            earlier.conversation_id == WebhookOutbox.conversation_id,
            earlier.id < WebhookOutbox.id,
            earlier.next_attempt_at.is_not(None),
        )
        async with self._database.sessionmaker.begin() as session:
            rows = (
                await session.scalars(
                    select(WebhookOutbox)
                    .where(
                        # Pending (NULL once delivered or given up) and due.
                        WebhookOutbox.next_attempt_at <= now,
                        or_(WebhookOutbox.leased_until.is_(None), WebhookOutbox.leased_until < now),
                        ~blocked,
                    )
                    .order_by(WebhookOutbox.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                row.leased_until = now + self._lease
            return [
                Claimed(
                    row.id,
                    row.event_id,
                    row.event_type,
                    row.conversation_id,
                    row.payload,
                    row.attempts,
                    row.created_at,
                )
                for row in rows
            ]

    async def _send(self, item: Claimed) -> None:
        outcome = await self._post(item)
        try:
            await self._record(item, outcome)
        except Exception as exc:
            # The lease runs out and the event is sent again: at least once.
            logger.error(
                "webhook %s (conversation %s): outcome not recorded, will resend: %s",
                item.webhook_id,
                item.conversation_id,
                type(exc).__name__,
            )

    async def _post(self, item: Claimed) -> Outcome:
        body = json.dumps(item.payload, separators=(",", ":"))
        # Signed at each attempt: receivers refuse timestamps more than minutes old.
        sent_at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": item.webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": self._signer.sign(item.webhook_id, sent_at, body),
        }
        try:
            # httpx's timeouts are per phase: this bounds the whole request (within the lease).
            async with asyncio.timeout(self._settings.webhook_timeout_seconds):
                response = await self._client.post(self._url, content=body, headers=headers)
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(False, "timeout", retry=True)
        except httpx.TransportError as exc:
            return Outcome(False, type(exc).__name__, retry=True)
        return classify(response)

    async def _record(self, item: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        attempts = item.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "leased_until": None}
        if outcome.delivered:
            values.update(delivered_at=now, next_attempt_at=None)
            latency = (now - as_utc(item.created_at)).total_seconds()
            metrics.webhook_attempted("delivered", max(0.0, latency))
            logger.info(
                "webhook %s %s (conversation %s): delivered (attempt %d)",
                item.webhook_id,
                item.event_type,
                item.conversation_id,
                attempts,
            )
        else:
            values["last_error"] = outcome.cause[:255]
            values.update(self._after_failure(item, outcome, attempts, now))
        async with self._database.sessionmaker.begin() as session:
            await session.execute(
                update(WebhookOutbox).where(WebhookOutbox.id == item.id).values(**values)
            )

    def _after_failure(
        self, item: Claimed, outcome: Outcome, attempts: int, now: datetime
    ) -> dict[str, Any]:
        age = (now - as_utc(item.created_at)).total_seconds()
        if outcome.retry and age < self._settings.webhook_retry_for_seconds:
            wait = self.backoff(attempts, outcome.retry_after)
            metrics.webhook_attempted("retried")
            logger.warning(
                "webhook %s %s (conversation %s): attempt %d failed (%s), retrying in %.1fs",
                item.webhook_id,
                item.event_type,
                item.conversation_id,
                attempts,
                outcome.cause,
                wait,
            )
            return {"next_attempt_at": now + timedelta(seconds=wait)}
        metrics.webhook_attempted("failed")
        logger.error(
            "webhook %s %s (conversation %s): attempt %d failed (%s), giving up (%s)",
            item.webhook_id,
            item.event_type,
            item.conversation_id,
            attempts,
            outcome.cause,
            "final answer" if not outcome.retry else f"retried for {age:.0f}s",
        )
        return {"failed_at": now, "next_attempt_at": None}

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """The wait after the n-th failed attempt: exponential, capped, with jitter (half to
        all of it, so senders that failed together do not retry together); at least the
        receiver's `Retry-After`, up to WEBHOOK_RETRY_MAX_SECONDS."""
        settings = self._settings
        ceiling = min(
            settings.webhook_retry_max_seconds,
            settings.webhook_retry_base_seconds * 2 ** min(attempts - 1, 32),
        )
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            # The receiver said how long it needs, but no longer than the schedule's longest
            # wait: `inf` or a date in the year 9999 would overflow or park the event for good.
            wait = max(wait, min(retry_after, settings.webhook_retry_max_seconds))
        return wait

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        cutoff = utcnow() - RETENTION
        async with self._database.sessionmaker.begin() as session:
            await session.execute(
                delete(WebhookOutbox).where(
                    or_(WebhookOutbox.delivered_at < cutoff, WebhookOutbox.failed_at < cutoff)
                )
            )
