"""What every drill uses: the app as its own process, its database, the users and the checks
of what a scenario left behind."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import PYTHONPATH
from tests.fakes.daily import FakeDaily
from tests.fakes.tcp_proxy import TcpProxy
from tests.kit.processes import ApiProc
from tests.voice.peer import Peer

SECRET = "drill-secret-" + "k" * 40
LIVE = ("starting", "waiting_for_user", "active")
JOIN_TIMEOUT, MAX_DURATION, PING_TIMEOUT = 4, 20, 3
# A user who drops without Leave may rejoin this long before the call ends as user_left.
REJOIN_GRACE = 2
# Local rooms with the real voice bot, its deadlines short enough for a drill.
LOCAL = {
    "JOIN_TIMEOUT_SECONDS": str(JOIN_TIMEOUT),
    "MAX_DURATION_SECONDS": str(MAX_DURATION),
    "BOT_IDLE_TIMEOUT_SECONDS": str(PING_TIMEOUT),
    "REJOIN_GRACE_SECONDS": str(REJOIN_GRACE),
}


@dataclass
class Line:
    """One scenario's outcome."""

    scenario: str
    injected: str
    answered: str = ""
    problems: list[str] = field(default_factory=list)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def live(self, row: asyncpg.Record | None, problem: str) -> None:
        """The conversation's row must say it is still live."""
        self.expect(row is not None and row["status"] in LIVE, problem)

    def ended_as(self, row: asyncpg.Record | None, expected: str) -> None:
        """The conversation's row must say it ended for the reason `expected`."""
        self.expect(row is not None and row["end_reason"] == expected, f"expected {expected}")


class App(ApiProc):
    """The app process (`bench.drills.app`): signalled, killed and started again on one
    database; on loopback, or at `host` in the network namespace `netns` (its log then
    `{netns}.log`)."""

    def __init__(
        self, tmp: Path, env: dict[str, str], host: str = "127.0.0.1", netns: str | None = None
    ) -> None:
        env = {**os.environ, "PYTHONPATH": PYTHONPATH, **env}
        log = tmp / f"{netns or 'server'}.log"
        app = "bench.drills.app:create_app"
        super().__init__(env, log, app=app, host=host, netns=netns)

    async def start(self) -> None:
        """Start it again (after a kill or a stop) and wait until it answers."""
        if not self.running():
            self.spawn()
        await self.ready(within=120)


class Drill:
    """What every scenario uses: the app, its database, the fake Daily, the cut-able line."""

    def __init__(self, app: App, db: asyncpg.Connection, proxy: TcpProxy, control: Path) -> None:
        self.app = app
        self.db = db
        self.proxy = proxy
        self.control = control
        self.daily: FakeDaily | None = None
        # In the worker mode: the worker processes, whose heartbeats say which bots run.
        self.workers: Any = None
        self.client = httpx.AsyncClient(base_url=app.url, timeout=60)
        self._users = 0

    async def user(self) -> tuple[dict[str, str], str]:
        """A new user: their auth header and id."""
        self._users += 1
        response = await self.client.post(
            "/api/v1/auth/register",
            json={
                "email": f"drill-{self._users}-{uuid.uuid4().hex[:6]}@example.com",
                "password": "drill password",
                "full_name": "Ada Lovelace",
                "birth_date": "1984-07-05",
            },
        )
        response.raise_for_status()
        body = response.json()
        return {"Authorization": f"Bearer {body['access_token']}"}, body["user"]["id"]

    async def start(self, auth: dict[str, str]) -> httpx.Response:
        return await self.client.post("/api/v1/conversations/start", headers=auth)

    async def end(self, auth: dict[str, str], conversation_id: str) -> httpx.Response:
        return await self.client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth)

    def fault(self, line: str) -> None:
        """The next bot to start takes this fault (see bench.drills.app)."""
        with self.control.open("a") as control:
            control.write(line + "\n")

    async def row(self, conversation_id: str) -> asyncpg.Record | None:
        return await self.db.fetchrow(
            "SELECT status, end_reason, room_deleted_at FROM conversations WHERE id = $1",
            uuid.UUID(conversation_id),
        )

    async def rows(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM conversations"))

    async def leftovers(self, ids: list[str] = (), within: float = 20.0) -> list[str]:  # type: ignore[assignment]
        """What is left behind, once things have had `within` seconds to settle."""
        deadline = time.monotonic() + within
        while True:
            problems = await self._leftovers(ids)
            if not problems or time.monotonic() > deadline:
                return problems
            await asyncio.sleep(0.5)

    async def settled(self, line: Line, ids: list[str] = (), within: float = 20.0) -> Line:  # type: ignore[assignment]
        """The scenario's line, with what it left behind (`leftovers`) among its problems."""
        line.problems += await self.leftovers(ids, within)
        return line

    async def _leftovers(self, ids: list[str]) -> list[str]:
        rows = await self.db.fetch(
            "SELECT id, status, end_reason, worker_id, daily_room_id, room_deleted_at "
            "FROM conversations"
        )
        problems = []
        live = [r for r in rows if r["status"] in LIVE]
        if live:
            problems.append(f"{len(live)} conversations still live")
        unexplained = [r for r in rows if r["status"] not in LIVE and r["end_reason"] is None]
        if unexplained:
            problems.append(f"{len(unexplained)} conversations ended without a reason")
        if self.workers is not None:
            problems += await self.workers.leftovers(rows)
        undeleted = [
            r
            for r in rows
            if r["status"] not in LIVE and r["daily_room_id"] and r["room_deleted_at"] is None
        ]
        if undeleted:
            problems.append(f"{len(undeleted)} ended conversations whose room is not deleted")
        known = {str(r["id"]) for r in rows}
        missing = [i for i in ids if i not in known]
        if missing:
            problems.append(f"{len(missing)} conversations answered 200 but have no row")
        try:
            health = (await self.client.get("/health")).json()
        except httpx.TransportError:
            return [*problems, "the app does not answer"]
        if health.get("bots"):
            problems.append(f"{health['bots']} bots still in the registry")
        if health.get("rooms"):
            problems.append(f"{health['rooms']} local rooms still open")
        if self.daily is not None and self.daily.rooms:
            problems.append(f"{len(self.daily.rooms)} Daily rooms left")
        return problems


def answer(response: httpx.Response) -> str:
    try:
        code = response.json().get("error")
    except ValueError:
        code = None
    return f"{response.status_code} {code}" if code else str(response.status_code)


async def connected_peer(client: httpx.AsyncClient, body: dict[str, Any]) -> Peer:
    """The user's peer of the call `body` (a start's answer), connected through `client` and
    greeted."""
    peer = Peer()
    await peer.connect(client, body["daily_room_url"], body["daily_token"])
    peer.start_pings()
    await peer.utterance(peer.offer_sent_at, within=20, quiet=0.3)
    return peer


async def ended(drill: Drill, conversation_id: str, within: float) -> asyncpg.Record | None:
    deadline = time.monotonic() + within
    while True:
        row = await drill.row(conversation_id)
        if row is not None and row["status"] not in LIVE:
            return row
        if time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.2)


def reason(row: asyncpg.Record | None) -> str:
    return f"{row['status']}/{row['end_reason']}" if row is not None else "no row"


async def call(drill: Drill) -> tuple[dict[str, str], dict[str, Any], Peer]:
    """A new user in a call: their auth, the start's body and their peer, greeted."""
    auth, _ = await drill.user()
    response = await drill.start(auth)
    response.raise_for_status()
    body = response.json()
    return auth, body, await connected_peer(drill.client, body)


async def end_if_started(drill: Drill, auth: dict[str, str], start: httpx.Response) -> None:
    if start.status_code == 200:
        await drill.end(auth, start.json()["conversation_id"])


Scenario = tuple[str, Callable[[Drill], Awaitable[Line]]]


@contextlib.asynccontextmanager
async def running(
    tmp: Path, database: str, proxy: TcpProxy, env: dict[str, str], **where: Any
) -> AsyncIterator[Drill]:
    """The app on `database` through `proxy`, with `env` on top of the drills' settings
    (`where`: the app's `host` and `netns`, see `App`)."""
    through = make_url(database).set(host=proxy.listen_host, port=proxy.listen_port)
    control = tmp / "faults"
    control.write_text("")
    db = await asyncpg.connect(
        make_url(database).set(drivername="postgresql").render_as_string(False)
    )
    app = App(
        tmp,
        {
            "DATABASE_URL": through.render_as_string(hide_password=False),
            "DRILL_CONTROL": str(control),
            "JWT_SECRET": SECRET,
            "LOG_LEVEL": "INFO",
            "ROOM_SWEEP_INTERVAL_SECONDS": "1",
            # Every drill user registers from loopback: the per-address limit is not under test.
            "REGISTRATIONS_PER_ADDRESS": "100000/hour",
            **env,
        },
        **where,
    )
    drill = Drill(app, db, proxy, control)
    try:
        await app.start()
        yield drill
    finally:
        await drill.client.aclose()
        await app.stop(grace=60)
        await db.close()


async def ends_as(
    drill: Drill, line: Line, body: dict[str, Any], expected: str, within: float
) -> Line:
    """Wait up to `within` s for the call of `body` to end; its reason must be `expected`."""
    row = await ended(drill, body["conversation_id"], within=within)
    line.answered = f"recorded {reason(row)}"
    line.ended_as(row, expected)
    return line


async def call_ends_as(
    drill: Drill,
    line: Line,
    expected: str,
    within: float,
    then: Callable[[Peer], object] | None = None,
) -> Line:
    """A user's call (`then` done to its peer once greeted) must end for the reason `expected`
    within `within` s, leaving nothing behind."""
    _, body, peer = await call(drill)
    if then is not None:
        then(peer)
    await ends_as(drill, line, body, expected, within)
    await peer.close()
    return await drill.settled(line, [body["conversation_id"]])


@dataclass
class Storm:
    """Many starts at once by a few users: what each was answered, and the rows made."""

    users: list[dict[str, str]]
    answers: list[httpx.Response | BaseException]
    took: float
    rows: int

    @property
    def codes(self) -> collections.Counter[str]:
        return collections.Counter(
            answer(a) if isinstance(a, httpx.Response) else type(a).__name__ for a in self.answers
        )

    def only(self, allowed: set[int]) -> bool:
        """Whether every start was answered, each with one of `allowed`."""
        codes = [a.status_code for a in self.answers if isinstance(a, httpx.Response)]
        return len(codes) == len(self.answers) and set(codes) <= allowed

    @property
    def started(self) -> list[tuple[dict[str, str], str]]:
        """Each call started: its user's auth and its conversation id."""
        return [
            (self.users[i % len(self.users)], a.json()["conversation_id"])
            for i, a in enumerate(self.answers)
            if isinstance(a, httpx.Response) and a.status_code == 200
        ]

    def summary(self) -> str:
        return ", ".join(f"{n}x {c}" for c, n in sorted(self.codes.items()))

    async def end(self, drill: Drill) -> list[str]:
        """End every call started; their conversation ids."""
        started = self.started
        await asyncio.gather(*(drill.end(auth, cid) for auth, cid in started))
        return [cid for _, cid in started]


async def storm(drill: Drill, users: int = 50, starts: int = 200) -> Storm:
    """`starts` starts at once, spread over `users` new users."""
    auths = [(await drill.user())[0] for _ in range(users)]
    before = await drill.rows()
    began = time.monotonic()
    answers = await asyncio.gather(
        *(drill.start(auths[i % users]) for i in range(starts)), return_exceptions=True
    )
    took = time.monotonic() - began
    return Storm(auths, answers, took, await drill.rows() - before)
