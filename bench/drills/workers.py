"""`make drills` in the worker mode: the API runs no bot, two worker processes run them.

A private redis-server (which the Redis drill stops and starts again), the API process and two
`python -m src.worker.process` workers (the test kit's processes), each its own process the
drills kill or drain. After each scenario the common checks run, plus the workers' heartbeats:
no live conversation whose worker is not alive, no worker running more bots than it owns live
conversations.
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

from bench.drills.base import (
    LIVE,
    Drill,
    Line,
    Scenario,
    Storm,
    answer,
    call,
    end_if_started,
    ended,
    reason,
    storm,
)
from bench.peers import ask
from tests.kit.processes import PrivateRedis, WorkerProc, heartbeats, new_prefix, wait_for_workers
from tests.voice.peer import Peer

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
        self.children: list[WorkerProc] = []

    async def add(self, netns: str | None = None) -> WorkerProc:
        """One more worker (in the network namespace `netns`, if given), once its heartbeat is
        seen."""
        log = self.logs / f"worker-{len(self.children) + 1}.log"
        child = WorkerProc(self.env, log, netns=netns)
        self.children.append(child)
        await child.alive(self.redis, self.prefix, within=120)
        return child

    async def reconnect(self) -> None:
        """A new client, for a Redis that was stopped and started again."""
        await self.redis.aclose()
        self.redis = Redis.from_url(self.redis_server.url)

    async def owner(self, db: asyncpg.Connection, conversation_id: str) -> WorkerProc:
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
        await asyncio.gather(*(c.stop(grace=60) for c in self.children))
        await self.redis.aclose()


def _workers(drill: Drill) -> Workers:
    assert isinstance(drill.workers, Workers)
    return drill.workers


_QUESTION: list[Any] = []


async def _load_question() -> None:
    """Piper's question, synthesised once before the scenarios (it takes seconds)."""
    from src.voice_pipeline import speech
    from tests.kit.speech import synthesise

    models = await speech.preload_speech_models()
    _QUESTION.append(synthesise(models, "What is my life path number?"))


async def _answered(line: Line, peer: Peer, problem: str) -> bool:
    """The peer asks a question and hears an answer: a bot still serves it (else `problem`)."""
    heard = await ask(peer, _QUESTION[0]) is not None
    line.expect(heard, problem)
    return heard


async def worker_sigkill(drill: Drill) -> Line:
    line = Line("worker SIGKILL mid-call", "the worker running a call is killed")
    workers = _workers(drill)
    auth, body, peer = await call(drill)
    owner = await workers.owner(drill.db, body["conversation_id"])
    killed = time.monotonic()
    await owner.exit_code(signal.SIGKILL, within=10)
    row = await ended(drill, body["conversation_id"], within=WORKER_LOST_WITHIN + 5)
    took = time.monotonic() - killed
    await peer.close()
    again = await drill.start(auth)
    line.answered = f"recorded {reason(row)} after {took:.1f} s; next start {answer(again)}"
    line.ended_as(row, "worker_lost")
    line.expect(took <= WORKER_LOST_WITHIN, f"ended after {took:.1f} s, not within 10 s")
    line.expect(again.status_code == 200, "the other worker did not take the next call")
    await end_if_started(drill, auth, again)
    await workers.add()
    return await drill.settled(line, [body["conversation_id"]])


async def worker_sigterm(drill: Drill) -> Line:
    line = Line("worker SIGTERM drain", "SIGTERM to the worker running a call")
    workers = _workers(drill)
    auth, body, peer = await call(drill)
    owner = await workers.owner(drill.db, body["conversation_id"])
    owner.signal(signal.SIGTERM)
    await asyncio.sleep(2)
    other_auth, _ = await drill.user()
    other = await drill.start(other_auth)
    other_owner = (
        await workers.owner(drill.db, other.json()["conversation_id"])
        if other.status_code == 200
        else None
    )
    during = await drill.row(body["conversation_id"])
    line.live(during, "the call did not go on")
    heard = await _answered(line, peer, "the draining worker's bot did not answer")
    ending = await drill.end(auth, body["conversation_id"])
    code = await owner.exit_code(signal.SIGTERM, within=30)
    row = await drill.row(body["conversation_id"])
    await peer.close()
    line.answered = (
        f"during the drain {reason(during)}, answered {heard}, a new start "
        f"{answer(other)}; end {answer(ending)} -> {reason(row)}, worker exit {code}"
    )
    line.expect(other.status_code == 200, "the other worker did not take a new call")
    line.expect(other_owner is not owner, "the draining worker took a new call")
    line.expect(code == 0, f"the drained worker exited {code}, not 0")
    line.ended_as(row, "user_ended")
    await end_if_started(drill, other_auth, other)
    await workers.add()
    return await drill.settled(line, [body["conversation_id"]])


async def api_sigkill(drill: Drill) -> Line:
    line = Line("API SIGKILL mid-call", "the API killed during a call, then started again")
    auth, body, peer = await call(drill)
    await drill.app.exit_code(signal.SIGKILL, within=10)
    await asyncio.sleep(2)
    during = await drill.row(body["conversation_id"])
    line.live(during, "the kill ended the call")
    await drill.app.start()
    heard = await _answered(line, peer, "the peer was not answered after the restart")
    got = await drill.client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=auth)
    ending, row = await _user_ends(drill, line, auth, body, peer)
    line.answered = (
        f"while down {reason(during)}; after the restart answered {heard}, get "
        f"{got.status_code}, end {answer(ending)} -> {reason(row)}"
    )
    line.expect(got.status_code == 200, "get failed after the restart")
    return await drill.settled(line, [body["conversation_id"]])


async def redis_down(drill: Drill) -> Line:
    line = Line("Redis down mid-call", "redis-server stopped during a call, then started")
    workers = _workers(drill)
    auth, body, peer = await call(drill)
    await workers.redis_server.exit_code(signal.SIGTERM, within=10)
    down = await drill.start(auth)
    heard = await _answered(line, peer, "the call did not go on without Redis")
    during = await drill.row(body["conversation_id"])
    line.live(during, "the call ended")
    workers.redis_server.spawn()
    await workers.redis_server.ready()
    await workers.reconnect()
    # The workers beat again, and the API's next start finds one.
    await wait_for_workers(workers.redis, workers.prefix, None, 2, within=30)
    back = await _start_when_back(drill, auth)
    ending, row = await _user_ends(drill, line, auth, body, peer)
    line.answered = (
        f"start {answer(down)}, the call {reason(during)}, answered {heard}; back: start "
        f"{answer(back)}, end {answer(ending)} -> {reason(row)}"
    )
    line.expect(down.status_code == 503, "expected 503 while Redis is down")
    line.expect(back.status_code == 200, "no start succeeded within 30 s of Redis' return")
    await end_if_started(drill, auth, back)
    return await drill.settled(line, [body["conversation_id"]])


async def _user_ends(
    drill: Drill, line: Line, auth: dict[str, str], body: dict[str, Any], peer: Peer
) -> tuple[httpx.Response, asyncpg.Record | None]:
    """The user ends the call: the end answers 200 and the call ends as user_ended."""
    ending = await drill.end(auth, body["conversation_id"])
    row = await ended(drill, body["conversation_id"], within=10)
    await peer.close()
    line.expect(ending.status_code == 200, f"the end answered {answer(ending)}")
    line.ended_as(row, "user_ended")
    return ending, row


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
    stop = asyncio.Event()
    peak = asyncio.create_task(_peak_bots(_workers(drill), stop))
    starts: Storm = await storm(drill)
    stop.set()
    most = await peak
    line.answered = f"{starts.summary()} in {starts.took:.1f} s; at most {most} bots at once"
    line.expect(starts.only({200, 429, 503}), "answers other than 200, 429, 503")
    started = len(starts.started)
    # Bots whose user never joins end after JOIN_TIMEOUT_SECONDS, so more than 20 may start in
    # all; the heartbeats say whether the workers ever ran more than their 2 x 10 at once.
    line.expect(
        started > 0 and most <= 20, f"{started} started, {most} at once, the workers hold 20"
    )
    # A start a worker did not take leaves its conversation closed (a row with a reason).
    codes = starts.codes
    closed = codes["503 no_bot_capacity"] + codes["500 conversation_start_failed"]
    line.expect(
        starts.rows == started + closed, f"{starts.rows} rows for {started} 200s + {closed}"
    )
    return await drill.settled(line, await starts.end(drill), within=30)


def scenarios() -> list[Scenario]:
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
    try:
        await redis.ready()
        yield redis
    finally:
        await redis.stop(grace=10)


def settings(redis: PrivateRedis) -> dict[str, str]:
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
