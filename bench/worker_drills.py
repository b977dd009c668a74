"""`make drills` in the worker mode: the API runs no bot, two worker processes run them.

A private redis-server (which the Redis drill stops and starts again), the API process and two
`python -m src.worker.process` workers, each its own process the drills kill or drain. After
each scenario the common checks run, plus the workers' heartbeats: no live conversation whose
worker is not alive, no worker running more bots than it owns live conversations.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.drills import LIVE, Drill, Line, _answer, _connected_peer, _ended, _reason
from bench.peers import ask
from bench.workers import WORKER, Child, PrivateRedis, heartbeats, new_prefix, wait_for_workers

# The promise: a dead worker's calls end within 10 s.
WORKER_LOST_WITHIN = 10.0


class Workers:
    """The worker processes of the drill, and what their heartbeats say."""

    def __init__(self, env: dict[str, str], logs: Path, redis: PrivateRedis) -> None:
        self.env = env
        self.logs = logs
        self.redis_server = redis
        self.prefix = env["REDIS_PREFIX"]
        self.redis = Redis.from_url(redis.url)
        self.children: list[Child] = []

    async def add(self) -> Child:
        """One more worker, once its heartbeat is seen."""
        child = Child(WORKER, self.env, self.logs / f"worker-{len(self.children) + 1}.log")
        child.spawn()
        self.children.append(child)
        await wait_for_workers(self.redis, self.prefix, {child.pid}, 1)
        return child

    async def reconnect(self) -> None:
        """A new client, for a Redis that was stopped and started again."""
        await self.redis.aclose()
        self.redis = Redis.from_url(self.redis_server.url)

    async def owner(self, db: asyncpg.Connection, conversation_id: str) -> Child:
        """The worker process that runs this conversation's bot."""
        worker_id = await db.fetchval(
            "SELECT worker_id FROM conversations WHERE id = $1", uuid.UUID(conversation_id)
        )
        for beat in await heartbeats(self.redis, self.prefix):
            if beat["id"] == worker_id:
                return next(c for c in self.children if c.pid == beat["pid"])
        raise RuntimeError(f"no live worker owns {conversation_id} (worker_id {worker_id})")

    async def leftovers(self, rows: list[asyncpg.Record]) -> list[str]:
        """Live conversations no alive worker runs, and bots that outlive their conversation."""
        try:
            beats = await heartbeats(self.redis, self.prefix)
        except RedisError:
            return ["Redis does not answer"]
        owned = collections.Counter(r["worker_id"] for r in rows if r["status"] in LIVE)
        alive = {beat["id"] for beat in beats}
        problems = []
        orphans = sum(n for worker, n in owned.items() if worker not in alive)
        if orphans:
            problems.append(f"{orphans} live conversations without a bot (no live worker)")
        extra = sum(max(0, beat["bots"] - owned[beat["id"]]) for beat in beats)
        if extra:
            problems.append(f"{extra} bots still running for ended conversations")
        gone = [c.pid for c in self.children if not c.running()]
        self.children = [c for c in self.children if c.running()]
        if len(self.children) < 2:
            problems.append(f"only {len(self.children)} workers running (pids gone: {gone})")
        return problems

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.children))
        await self.redis.aclose()


def _workers(drill: Drill) -> Workers:
    assert isinstance(drill.workers, Workers)
    return drill.workers


async def _call(drill: Drill) -> tuple[dict[str, str], dict[str, Any], Any]:
    """A user in a call: their auth, the start's body and their connected peer."""
    auth, _ = await drill.user()
    response = await drill.start(auth)
    response.raise_for_status()
    body = response.json()
    return auth, body, await _connected_peer(drill, body)


_QUESTION: list[Any] = []


async def _load_question() -> None:
    """Piper's question, synthesised once before the scenarios (it takes seconds)."""
    from src.voice_pipeline import speech
    from tests.voice.conftest import synthesise

    models = await speech.preload_speech_models()
    _QUESTION.append(synthesise(models, "What is my life path number?"))


async def _answered(peer: Any) -> bool:
    """The peer asks a question and hears an answer: a bot still serves it."""
    return await ask(peer, _QUESTION[0]) is not None


async def _end_if_started(drill: Drill, auth: dict[str, str], start: httpx.Response) -> None:
    if start.status_code == 200:
        await drill.end(auth, start.json()["conversation_id"])


async def worker_sigkill(drill: Drill) -> Line:
    line = Line("worker SIGKILL mid-call", "the worker running a call is killed")
    workers = _workers(drill)
    auth, body, peer = await _call(drill)
    owner = await workers.owner(drill.db, body["conversation_id"])
    killed = time.monotonic()
    await owner.exit_code(signal.SIGKILL, within=10)
    row = await _ended(drill, body["conversation_id"], within=WORKER_LOST_WITHIN + 5)
    took = time.monotonic() - killed
    await peer.close()
    again = await drill.start(auth)
    line.answered = f"recorded {_reason(row)} after {took:.1f} s; next start {_answer(again)}"
    line.expect(row is not None and row["end_reason"] == "worker_lost", "expected worker_lost")
    line.expect(took <= WORKER_LOST_WITHIN, f"ended after {took:.1f} s, not within 10 s")
    line.expect(again.status_code == 200, "the other worker did not take the next call")
    await _end_if_started(drill, auth, again)
    await workers.add()
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def worker_sigterm(drill: Drill) -> Line:
    line = Line("worker SIGTERM drain", "SIGTERM to the worker running a call")
    workers = _workers(drill)
    auth, body, peer = await _call(drill)
    owner = await workers.owner(drill.db, body["conversation_id"])
    owner.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    await asyncio.sleep(2)
    other_auth, _ = await drill.user()
    other = await drill.start(other_auth)
    other_owner = (
        await workers.owner(drill.db, other.json()["conversation_id"])
        if other.status_code == 200
        else None
    )
    during = await drill.row(body["conversation_id"])
    heard = await _answered(peer)
    ended = await drill.end(auth, body["conversation_id"])
    code = await owner.exit_code(signal.SIGTERM, within=30)
    row = await drill.row(body["conversation_id"])
    await peer.close()
    line.answered = (
        f"during the drain {_reason(during)}, answered {heard}, a new start "
        f"{_answer(other)}; end {_answer(ended)} -> {_reason(row)}, worker exit {code}"
    )
    line.expect(during is not None and during["status"] in LIVE, "the call did not go on")
    line.expect(heard, "the draining worker's bot did not answer")
    line.expect(other.status_code == 200, "the other worker did not take a new call")
    line.expect(other_owner is not owner, "the draining worker took a new call")
    line.expect(code == 0, f"the drained worker exited {code}, not 0")
    line.expect(row is not None and row["end_reason"] == "user_ended", "expected user_ended")
    await _end_if_started(drill, other_auth, other)
    await workers.add()
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def api_sigkill(drill: Drill) -> Line:
    line = Line("API SIGKILL mid-call", "the API killed during a call, then started again")
    auth, body, peer = await _call(drill)
    await drill.app.exit_code(signal.SIGKILL, within=10)
    await asyncio.sleep(2)
    during = await drill.row(body["conversation_id"])
    await drill.app.start()
    heard = await _answered(peer)
    got = await drill.client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=auth)
    ended = await drill.end(auth, body["conversation_id"])
    row = await _ended(drill, body["conversation_id"], within=10)
    await peer.close()
    line.answered = (
        f"while down {_reason(during)}; after the restart answered {heard}, get "
        f"{got.status_code}, end {_answer(ended)} -> {_reason(row)}"
    )
    line.expect(during is not None and during["status"] in LIVE, "the kill ended the call")
    line.expect(heard, "the peer was not answered after the restart")
    line.expect(got.status_code == 200, "get failed after the restart")
    line.expect(ended.status_code == 200, "end failed after the restart")
    line.expect(row is not None and row["end_reason"] == "user_ended", "expected user_ended")
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def redis_down(drill: Drill) -> Line:
    line = Line("Redis down mid-call", "redis-server stopped during a call, then started")
    workers = _workers(drill)
    auth, body, peer = await _call(drill)
    await workers.redis_server.exit_code(signal.SIGTERM, within=10)
    down = await drill.start(auth)
    heard = await _answered(peer)
    during = await drill.row(body["conversation_id"])
    await workers.redis_server.start()
    await workers.reconnect()
    # The workers beat again, and the API's next start finds one.
    await wait_for_workers(workers.redis, workers.prefix, None, 2, within=30)
    back = await _start_when_back(drill, auth)
    ended = await drill.end(auth, body["conversation_id"])
    row = await _ended(drill, body["conversation_id"], within=10)
    await peer.close()
    line.answered = (
        f"start {_answer(down)}, the call {_reason(during)}, answered {heard}; back: start "
        f"{_answer(back)}, end {_answer(ended)} -> {_reason(row)}"
    )
    line.expect(down.status_code == 503, "expected 503 while Redis is down")
    line.expect(heard, "the call did not go on without Redis")
    line.expect(during is not None and during["status"] in LIVE, "the call ended")
    line.expect(back.status_code == 200, "no start succeeded within 30 s of Redis' return")
    line.expect(row is not None and row["end_reason"] == "user_ended", "expected user_ended")
    await _end_if_started(drill, auth, back)
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def _start_when_back(drill: Drill, auth: dict[str, str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        response = await drill.start(auth)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(1)


async def _peak_bots(workers: Workers, stop: asyncio.Event) -> int:
    """The most bots the workers' heartbeats reported at once, until `stop`."""
    peak = 0
    while not stop.is_set():
        with contextlib.suppress(RedisError):
            beats = await heartbeats(workers.redis, workers.prefix)
            peak = max(peak, sum(int(beat["bots"]) for beat in beats))
        await asyncio.sleep(0.2)
    return peak


async def worker_load(drill: Drill) -> Line:
    line = Line("load, 2 workers", "200 starts, 50 users (3 each, 2 workers x 10 bots)")
    users = [(await drill.user())[0] for _ in range(50)]
    before = await drill.rows()
    stop = asyncio.Event()
    peak = asyncio.create_task(_peak_bots(_workers(drill), stop))
    started = time.monotonic()
    answers = await asyncio.gather(
        *(drill.start(users[i % 50]) for i in range(200)), return_exceptions=True
    )
    took = time.monotonic() - started
    stop.set()
    most = await peak
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    codes = collections.Counter(
        _answer(a) if isinstance(a, httpx.Response) else type(a).__name__ for a in answers
    )
    line.answered = (
        ", ".join(f"{n}x {c}" for c, n in sorted(codes.items()))
        + f" in {took:.1f} s; at most {most} bots at once"
    )
    allowed = {r.status_code for r in responses} <= {200, 429, 503}
    line.expect(len(responses) == len(answers) and allowed, "answers other than 200, 429, 503")
    ok = [
        (users[i % 50], a.json()["conversation_id"])
        for i, a in enumerate(answers)
        if isinstance(a, httpx.Response) and a.status_code == 200
    ]
    # Bots whose user never joins end after JOIN_TIMEOUT_SECONDS, so more than 20 may start in
    # all; the heartbeats say whether the workers ever ran more than their 2 x 10 at once.
    line.expect(bool(ok) and most <= 20, f"{len(ok)} started, {most} at once, the workers hold 20")
    # A start a worker did not take leaves its conversation closed (a row with a reason).
    closed = codes["503 no_bot_capacity"] + codes["500 conversation_start_failed"]
    created = await drill.rows() - before
    line.expect(created == len(ok) + closed, f"{created} rows for {len(ok)} 200s + {closed}")
    await asyncio.gather(*(drill.end(auth, cid) for auth, cid in ok))
    line.problems += await drill.leftovers([cid for _, cid in ok], within=30)
    return line


def worker_scenarios() -> list[tuple[str, Any]]:
    """The worker mode's failures and deploys."""
    return [
        ("workers-sigkill", worker_sigkill),
        ("workers-sigterm", worker_sigterm),
        ("workers-api-sigkill", api_sigkill),
        ("workers-redis-down", redis_down),
        ("workers-load", worker_load),
    ]


@contextlib.asynccontextmanager
async def private_redis(tmp: Path) -> AsyncIterator[PrivateRedis]:
    """A redis-server of the drills' own, which the Redis drill may stop."""
    redis = PrivateRedis(tmp / "redis.log")
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


def worker_settings(redis: PrivateRedis) -> dict[str, str]:
    """The API's and the workers' settings for the worker mode, on `redis`."""
    return {
        "REDIS_URL": redis.url,
        "REDIS_PREFIX": new_prefix("drills"),
        # The drills' own peers share the two cores: never refuse a call for load.
        "WORKER_LOAD_THRESHOLD": "1",
        "DRAIN_TIMEOUT_SECONDS": "60",
        # Calls here last through a kill, a restart and a question: longer than the 20 s above.
        "MAX_DURATION_SECONDS": "120",
    }


@contextlib.asynccontextmanager
async def workers_for(drill: Drill, tmp: Path, redis: PrivateRedis) -> AsyncIterator[Workers]:
    """Two workers with the app's own settings, checked after each scenario."""
    workers = Workers(drill.app.env, tmp, redis)
    drill.workers = workers
    try:
        await asyncio.gather(workers.add(), workers.add(), _load_question())
        yield workers
    finally:
        await workers.stop()
