"""`make drills`: inject faults into the running app and check that nothing is lost or left.

The app runs as its own process (uvicorn, `bench.drill_app`) on a fresh PostgreSQL database,
which it reaches through a TCP proxy the drill can cut. First with Daily rooms (the fake Daily
API on loopback, which injects the faults), then with local rooms and the real voice bot, the
users being aiortc peers. After each scenario the drill reads the database directly and asks
the app's /health for its bots and rooms, and prints one line: what was injected, what the API
answered, and what was lost or left behind (conversations still live, rooms not deleted, bots
in the registry, rows missing). The same lines go to bench/results/drills-<date>.json.
Exits 1 if any scenario left something wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from bench.server import BACKEND, PG_URL, REPO, _drop, _pg_database  # noqa: E402
from bench.workers import Child, free_port  # noqa: E402
from src.core.security import ACCESS_AUDIENCE, ROOM_AUDIENCE, encode_token  # noqa: E402
from tests.fakes.daily import API_KEY, FakeDaily, Fault  # noqa: E402
from tests.fakes.tcp_proxy import TcpProxy  # noqa: E402
from tests.voice.peer import Peer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "drill-secret-" + "k" * 40
LIVE = ("starting", "waiting_for_user", "active")
JOIN_TIMEOUT, MAX_DURATION, PING_TIMEOUT = 4, 20, 3
# A user who drops without Leave may rejoin this long before the call ends as user_left.
REJOIN_GRACE = 2
# How long the bot may take to join a Daily room in the drills.
DAILY_JOIN = 2
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


class App(Child):
    """The app process: started, signalled, killed and started again on one database."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.drill_app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        env = {
            **os.environ,
            "PYTHONPATH": f"{REPO}{os.pathsep}{BACKEND}",
            "PUBLIC_BASE_URL": self.url,
            **env,
        }
        super().__init__(command, env, tmp / "server.log")

    async def start(self) -> None:
        self.spawn()
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                if time.monotonic() > deadline or not self.running():
                    raise RuntimeError(f"the app did not start; see {self.log}")
                await asyncio.sleep(0.2)


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
        """The next bot to start takes this fault (see bench.drill_app)."""
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


def _answer(response: httpx.Response) -> str:
    try:
        code = response.json().get("error")
    except ValueError:
        code = None
    return f"{response.status_code} {code}" if code else str(response.status_code)


async def _connected_peer(drill: Drill, body: dict[str, Any]) -> Peer:
    peer = Peer()
    await peer.connect(drill.client, body["daily_room_url"], body["daily_token"])
    peer.start_pings()
    await peer.utterance(peer.offer_sent_at, within=20, quiet=0.3)
    return peer


async def _ended(drill: Drill, conversation_id: str, within: float) -> asyncpg.Record | None:
    deadline = time.monotonic() + within
    while True:
        row = await drill.row(conversation_id)
        if row is not None and row["status"] not in LIVE:
            return row
        if time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.2)


def _reason(row: asyncpg.Record | None) -> str:
    return f"{row['status']}/{row['end_reason']}" if row is not None else "no row"


# Daily rooms ---------------------------------------------------------------------------------


ROOM_NOT_CREATED = "The voice room could not be created. Please try again."


async def daily_failure(
    drill: Drill, name: str, injected: str, endpoint: str, *faults: Fault, hint: str = ""
) -> Line:
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.daily.fail(endpoint, *faults)
    logged = drill.app.log.stat().st_size
    response = await drill.start(auth)
    line.answered = _answer(response)
    line.expect(response.status_code == 500, "expected 500 conversation_start_failed")
    # The user is told what happened; what to check (the key, the URL) is the operator's.
    line.expect(response.json().get("detail") == ROOM_NOT_CREATED, f"told the user {response.text}")
    if hint:
        with drill.app.log.open() as log:
            log.seek(logged)
            line.expect(hint in log.read(), f"the app's log does not say {hint!r}")
    await _one_failed(drill, line, auth, "room_error")
    line.problems += await drill.leftovers()
    return line


async def _one_failed(drill: Drill, line: Line, auth: dict[str, str], reason: str) -> None:
    listed = (await drill.client.get("/api/v1/conversations", headers=auth)).json()["items"]
    line.expect(
        [(c["status"], c.get("end_reason")) for c in listed] == [("failed", reason)],
        f"expected one failed/{reason} record, got {listed}",
    )


async def daily_join_fails(drill: Drill, name: str, injected: str, outcome: str) -> Line:
    """The bot's transport cannot join the room: 502, a failed/room_error record, no room."""
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.fault(f"join {outcome}")
    started = time.monotonic()
    response = await drill.start(auth)
    line.answered = f"{_answer(response)} after {time.monotonic() - started:.1f} s"
    line.expect(response.status_code == 502, "expected 502 room_join_failed")
    line.expect(response.json().get("error") == "room_join_failed", "expected room_join_failed")
    await _one_failed(drill, line, auth, "room_error")
    line.expect(drill.daily.count("DELETE /rooms") >= 1, "the room was never deleted")
    line.problems += await drill.leftovers()
    return line


async def daily_recovers(drill: Drill, name: str, injected: str, *faults: Fault) -> Line:
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.daily.fail("POST /rooms", *faults)
    started = time.monotonic()
    response = await drill.start(auth)
    line.answered = f"{_answer(response)} after {time.monotonic() - started:.1f} s"
    line.expect(response.status_code == 200, "expected 200 after the retries")
    if response.status_code == 200:
        line.expect(len(drill.daily.rooms) == 1, f"{len(drill.daily.rooms)} Daily rooms, not 1")
        ended = await drill.end(auth, response.json()["conversation_id"])
        line.expect(ended.status_code == 200, f"end answered {_answer(ended)}")
    line.problems += await drill.leftovers([response.json().get("conversation_id", "")])
    return line


async def daily_delete_fails(drill: Drill) -> Line:
    assert drill.daily is not None
    line = Line("daily: delete fails at the end", "DELETE /rooms 503 x4, then Daily is back")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    drill.daily.fail("DELETE /rooms", *[Fault(503)] * 4)
    ended = await drill.end(auth, body["conversation_id"])
    line.answered = f"end {_answer(ended)}"
    line.expect(ended.status_code == 200, "the end must not fail because the delete did")
    line.expect(len(drill.daily.rooms) == 1, "the room should still be owed at this point")
    # The sweep retries rooms of conversations ended over 30 s ago.
    line.problems += await drill.leftovers([body["conversation_id"]], within=60)
    return line


async def database_lost_while_the_room_is_made(drill: Drill) -> Line:
    assert drill.daily is not None
    line = Line("db lost mid-start (daily)", "PostgreSQL cut while Daily makes the room")
    auth, _ = await drill.user()
    drill.daily.fail("POST /rooms", Fault(200, delay=1.0))
    starting = asyncio.create_task(drill.start(auth))
    await asyncio.sleep(0.5)
    drill.proxy.cut()
    response = await starting
    drill.proxy.restore()
    line.answered = _answer(response)
    line.expect(response.status_code == 503, "expected 503 database_unavailable")
    line.expect(drill.daily.count("DELETE /rooms") >= 1, "the room made was not deleted")
    line.problems += await drill.leftovers()
    return line


# Local rooms, real bot -----------------------------------------------------------------------


async def database_down(drill: Drill) -> Line:
    line = Line("db down, then back", "PostgreSQL cut for a start, then restored")
    auth, _ = await drill.user()
    before = await drill.rows()
    drill.proxy.cut()
    down = await drill.start(auth)
    health = await drill.client.get("/health")
    drill.proxy.restore()
    again = await drill.start(auth)
    line.answered = f"{_answer(down)}, health {health.status_code}; back: {_answer(again)}"
    line.expect(down.status_code == 503, "expected 503 while the database is down")
    line.expect(again.status_code == 200, "expected 200 once it is back")
    line.expect(await drill.rows() == before + 1, "rows: only the start after restore")
    if again.status_code == 200:
        await drill.end(auth, again.json()["conversation_id"])
    line.problems += await drill.leftovers()
    return line


async def database_lost_mid_call(drill: Drill) -> Line:
    line = Line("db lost mid-call", "PostgreSQL cut, the user leaves, restored 3 s later")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    peer = await _connected_peer(drill, body)
    drill.proxy.cut()
    await peer.close()
    await asyncio.sleep(3)
    drill.proxy.restore()
    row = await _ended(drill, body["conversation_id"], within=REJOIN_GRACE + 15)
    line.answered = f"recorded {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "user_left", "end not recorded")
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def bot_crash_on_start(drill: Drill) -> Line:
    line = Line("bot crashes on start", "the bot raises before it is ready")
    auth, _ = await drill.user()
    drill.fault("crash-on-start")
    response = await drill.start(auth)
    listed = (await drill.client.get("/api/v1/conversations", headers=auth)).json()["items"]
    line.answered = f"{_answer(response)}; {[c['end_reason'] for c in listed]}"
    line.expect(response.status_code == 500, "expected 500")
    line.expect([c["end_reason"] for c in listed] == ["bot_error"], "expected one bot_error")
    line.problems += await drill.leftovers()
    return line


async def bot_crash_mid_call(drill: Drill) -> Line:
    line = Line("bot crashes mid-call", "the real bot raises 5 s after it started")
    auth, _ = await drill.user()
    drill.fault("crash-after 5")
    body = (await drill.start(auth)).json()
    await _connected_peer(drill, body)
    row = await _ended(drill, body["conversation_id"], within=REJOIN_GRACE + 15)
    line.answered = f"recorded {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "bot_error", "expected bot_error")
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def peer_vanishes(drill: Drill) -> Line:
    line = Line(
        "peer vanishes", f"the page stops pinging ({PING_TIMEOUT} s), no rejoin ({REJOIN_GRACE} s)"
    )
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    peer = await _connected_peer(drill, body)
    peer.stop_pings()
    row = await _ended(drill, body["conversation_id"], within=PING_TIMEOUT + REJOIN_GRACE + 10)
    line.answered = f"recorded {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "user_left", "expected user_left")
    await peer.close()
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def never_joins(drill: Drill) -> Line:
    line = Line("user never joins", f"no offer (join timeout {JOIN_TIMEOUT} s)")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    row = await _ended(drill, body["conversation_id"], within=JOIN_TIMEOUT + 10)
    line.answered = f"recorded {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "user_never_joined", "wrong end")
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def max_duration(drill: Drill) -> Line:
    line = Line("max duration", f"a call left running (max {MAX_DURATION} s)")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    peer = await _connected_peer(drill, body)
    row = await _ended(drill, body["conversation_id"], within=MAX_DURATION + 10)
    line.answered = f"recorded {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "max_duration", "expected max_duration")
    await peer.close()
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def load(drill: Drill) -> Line:
    line = Line("load", "200 starts, 50 users (limits: 3 each, 20 bots)")
    users = [(await drill.user())[0] for _ in range(50)]
    before = await drill.rows()
    answers = await asyncio.gather(
        *(drill.start(users[i % 50]) for i in range(200)), return_exceptions=True
    )
    codes = collections.Counter(
        a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers
    )
    line.answered = ", ".join(f"{n}x {c}" for c, n in sorted(codes.items(), key=str))
    line.expect(set(codes) <= {200, 429, 503}, "answers other than 200, 429 and 503")
    ok = [
        (users[i % 50], a.json()["conversation_id"])
        for i, a in enumerate(answers)
        if isinstance(a, httpx.Response) and a.status_code == 200
    ]
    line.expect(0 < len(ok) <= 20, f"{len(ok)} started, the limit is 20 bots")
    created = await drill.rows() - before
    line.expect(created == len(ok), f"{created} rows for {len(ok)} 200s")
    await asyncio.gather(*(drill.end(auth, cid) for auth, cid in ok))
    line.problems += await drill.leftovers([cid for _, cid in ok])
    return line


def _forge(claims: dict[str, Any], key: str = SECRET, **extra: Any) -> str:
    now = datetime.now(UTC)
    payload = {"aud": ACCESS_AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return jwt.encode({**payload, **extra}, key, algorithm="HS256")


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, default=str).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    body = {"aud": ACCESS_AUDIENCE, "iat": now, "exp": now + 300, **claims}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


async def jwt_attacks(drill: Drill) -> Line:
    line = Line("jwt attacks", "alg none, bad key, expired, tampered, sub, deleted")
    auth, user_id = await drill.user()
    _, other_id = await drill.user()
    gone_auth, gone_id = await drill.user()
    await drill.db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(gone_id))
    header, payload, signature = auth["Authorization"].split()[1].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = base64.urlsafe_b64encode(json.dumps({**claims, "sub": other_id}).encode())
    past = datetime.now(UTC) - timedelta(hours=2)
    room_token = encode_token(
        {"sub": user_id}, secret=SECRET, audience=ROOM_AUDIENCE, expires_at=past + timedelta(days=1)
    )
    attacks = {
        "alg none": (_unsigned({"sub": user_id}), {401}),
        "wrong key": (_forge({"sub": user_id}, key="not-the-key-" + "x" * 40), {401}),
        "expired": (_forge({"sub": user_id}, iat=past, exp=past + timedelta(minutes=5)), {401}),
        "tampered": (f"{header}.{tampered.rstrip(b'=').decode()}.{signature}", {401}),
        "sub not a uuid": (_forge({"sub": "1 OR 1=1"}), {400, 401}),
        "deleted user": (gone_auth["Authorization"].split()[1], {401}),
        "room token as access": (room_token, {401}),
    }
    answers = []
    for name, (token, allowed) in attacks.items():
        headers = {"Authorization": f"Bearer {token}"}
        for method, path in (
            ("GET", "/api/v1/users/me"),
            ("POST", "/api/v1/conversations/start"),
            ("GET", "/api/v1/conversations"),
        ):
            response = await drill.client.request(method, path, headers=headers)
            line.expect(
                response.status_code in allowed, f"{name}: {method} {path} {_answer(response)}"
            )
        answers.append(f"{name} {response.status_code}")
    line.answered = ", ".join(answers)
    line.problems += await drill.leftovers()
    return line


async def other_users_data(drill: Drill) -> Line:
    line = Line("other user's ids and rooms", "B gets/ends A's, A's room token on B's room")
    auth_a, _ = await drill.user()
    auth_b, _ = await drill.user()
    a = (await drill.start(auth_a)).json()
    b = (await drill.start(auth_b)).json()
    got = await drill.client.get(f"/api/v1/conversations/{a['conversation_id']}", headers=auth_b)
    ended = await drill.end(auth_b, a["conversation_id"])
    b_room = b["daily_room_url"].rsplit("/", 1)[1]
    offer = {"sdp": "v=0\r\n", "type": "offer"}
    wrong_room = await drill.client.post(
        f"/api/v1/rooms/{b_room}/offer",
        json=offer,
        headers={"Authorization": f"Bearer {a['daily_token']}"},
    )
    api_token_on_room = await drill.client.post(
        f"/api/v1/rooms/{b_room}/offer", json=offer, headers=auth_b
    )
    line.answered = (
        f"get {got.status_code}, end {ended.status_code}, other room's token "
        f"{wrong_room.status_code}, API token on a room {api_token_on_room.status_code}"
    )
    line.expect(got.status_code == 404, "B could read A's conversation")
    line.expect(ended.status_code == 404, "B could end A's conversation")
    line.expect(wrong_room.status_code == 401, "A's room token opened B's room")
    line.expect(api_token_on_room.status_code == 401, "an API token opened a room")
    row = await drill.row(a["conversation_id"])
    line.expect(row is not None and row["status"] in LIVE, "A's conversation did not survive")
    await drill.end(auth_a, a["conversation_id"])
    await drill.end(auth_b, b["conversation_id"])
    line.problems += await drill.leftovers([a["conversation_id"], b["conversation_id"]])
    return line


async def fuzz(drill: Drill, tmp: Path, examples: int, seed: int) -> Line:
    line = Line(
        "schemathesis",
        f"/openapi.json, {examples} per operation, token and none",
    )
    auth, _ = await drill.user()
    requests, failures = 0, []
    for label, headers in (
        ("signed in", ["-H", f"Authorization:{auth['Authorization']}"]),
        ("anonymous", []),
    ):
        report = tmp / f"schemathesis-{label.replace(' ', '-')}.ndjson"
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{drill.app.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
            "--max-examples",
            str(examples),
            "--seed",
            str(seed),
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
            "--generation-database",
            "none",
            "--workers",
            "2",
            *headers,
        ]
        process = await asyncio.create_subprocess_exec(
            # In the logs folder: schemathesis keeps a cache in its working directory.
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp,
        )
        output = (await process.communicate())[0].decode(errors="replace")
        (tmp / f"schemathesis-{label.replace(' ', '-')}.txt").write_text(output)  # noqa: ASYNC240
        requests += _requests_in(report)
        if process.returncode != 0:
            failures.append(f"{label}: schemathesis failed, see {tmp}/schemathesis-*.txt")
            tail = [text for text in output.splitlines() if text.strip()][-15:]
            failures.append(" | ".join(tail))
    line.answered = f"{requests} requests"
    line.expect(requests >= 1000, f"only {requests} requests were made")
    line.problems += failures
    line.problems += await drill.leftovers(within=30)
    return line


def _requests_in(report: Path) -> int:
    """How many requests a schemathesis NDJSON report records."""
    if not report.exists():
        return 0
    count = 0
    for event in report.read_text().splitlines():
        count += event.count('"response":')
    return count


async def sigterm_mid_call(drill: Drill) -> Line:
    line = Line("SIGTERM mid-call", "the server is stopped with SIGTERM during a call")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    peer = await _connected_peer(drill, body)
    stops = drill.app.log.read_text().count("src.main: stopped")  # noqa: ASYNC240
    code = await drill.app.exit_code(signal.SIGTERM, within=40)
    row = await drill.row(body["conversation_id"])
    line.answered = f"exit {code}; recorded {_reason(row)}"
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -15 is a clean exit.
    line.expect(code in (0, -signal.SIGTERM), "the server did not exit")
    graceful = drill.app.log.read_text().count("src.main: stopped") == stops + 1  # noqa: ASYNC240
    line.expect(graceful, "the app did not log its shutdown")
    line.expect(row is not None and row["end_reason"] == "server_shutdown", "not ended")
    await peer.close()
    await drill.app.start()
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


async def sigkill_and_restart(drill: Drill) -> Line:
    line = Line("SIGKILL and restart", "the server killed during a call, then started again")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    peer = await _connected_peer(drill, body)
    await drill.app.exit_code(signal.SIGKILL, within=10)
    before = await drill.row(body["conversation_id"])
    await peer.close()
    await drill.app.start()
    row = await drill.row(body["conversation_id"])
    line.answered = f"after the kill {_reason(before)}; after the restart {_reason(row)}"
    line.expect(row is not None and row["end_reason"] == "server_restart", "not reconciled")
    line.problems += await drill.leftovers([body["conversation_id"]])
    return line


# The run -------------------------------------------------------------------------------------


Scenario = tuple[str, Callable[[Drill], Awaitable[Line]]]


def daily_scenarios() -> list[Scenario]:
    """On Daily rooms (the fake Daily API injects the faults), with a stand-in bot."""
    failure, recovers = daily_failure, daily_recovers
    return [
        (
            "daily-401",
            lambda d: failure(
                d,
                "daily: 401",
                "POST /rooms 401 (bad key)",
                "POST /rooms",
                Fault(401, "authentication-error"),
                hint="check DAILY_API_KEY",
            ),
        ),
        (
            "daily-429",
            lambda d: recovers(
                d,
                "daily: 429 then success",
                "POST /rooms 429 Retry-After 1, then 200",
                Fault(429, "rate-limit-error", {"Retry-After": "1"}),
            ),
        ),
        (
            "daily-503",
            lambda d: failure(
                d,
                "daily: persistent 503",
                "POST /rooms 503 every try",
                "POST /rooms",
                *[Fault(503)] * 4,
            ),
        ),
        (
            "daily-hang",
            lambda d: recovers(
                d, "daily: 10 s hang", "POST /rooms hangs 10 s (timeout 3 s)", Fault(200, delay=10)
            ),
        ),
        (
            "daily-lost",
            lambda d: recovers(
                d,
                "daily: answer lost",
                "POST /rooms made the room, answer hangs 10 s",
                Fault(lost=True, delay=10),
            ),
        ),
        (
            "daily-token",
            lambda d: failure(
                d,
                "daily: token after room",
                "POST /meeting-tokens 400 after the room",
                "POST /meeting-tokens",
                Fault(400, "invalid-request-error"),
            ),
        ),
        (
            "daily-malformed-room",
            lambda d: failure(
                d,
                "daily: malformed room reply",
                "POST /rooms 200 without url (room made)",
                "POST /rooms",
                Fault(reply={"name": "conv-x", "privacy": "private"}),
                hint="lacks or mangles url",
            ),
        ),
        (
            "daily-malformed-token",
            lambda d: failure(
                d,
                "daily: malformed token reply",
                "POST /meeting-tokens 200 without token",
                "POST /meeting-tokens",
                Fault(reply={"room_name": "conv-x"}),
                hint="lacks or mangles token",
            ),
        ),
        (
            "daily-join-error",
            lambda d: daily_join_fails(
                d,
                "daily: join refused",
                "the bot's join completes with an error",
                "error: drill: the meeting token is not valid",
            ),
        ),
        (
            "daily-join-hang",
            lambda d: daily_join_fails(
                d, "daily: join hangs", f"the join never completes ({DAILY_JOIN} s)", "hang"
            ),
        ),
        ("daily-delete", daily_delete_fails),
        ("db-mid-start", database_lost_while_the_room_is_made),
    ]


def local_scenarios(tmp: Path, examples: int, seed: int) -> list[Scenario]:
    """On local rooms with the real voice bot and aiortc peers."""
    return [
        ("db-down", database_down),
        ("db-mid-call", database_lost_mid_call),
        ("crash-start", bot_crash_on_start),
        ("crash-mid-call", bot_crash_mid_call),
        ("vanish", peer_vanishes),
        ("never-joins", never_joins),
        ("max-duration", max_duration),
        ("load", load),
        ("jwt", jwt_attacks),
        ("other-user", other_users_data),
        ("schemathesis", lambda d: fuzz(d, tmp, examples, seed)),
        ("sigterm", sigterm_mid_call),
        ("sigkill", sigkill_and_restart),
    ]


@contextlib.asynccontextmanager
async def running(
    tmp: Path, database: str, proxy: TcpProxy, env: dict[str, str]
) -> AsyncIterator[Drill]:
    through = make_url(database).set(host="127.0.0.1", port=proxy.listen_port)
    control = tmp / "faults"
    control.write_text("")
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
    )
    db = await asyncpg.connect(
        make_url(database).set(drivername="postgresql").render_as_string(False)
    )
    await app.start()
    drill = Drill(app, db, proxy, control)
    try:
        yield drill
    finally:
        await drill.client.aclose()
        await app.stop()
        await db.close()


async def run(tmp: Path, examples: int, seed: int, only: str | None) -> list[Line]:
    database = await _pg_database()
    if database is None:
        raise SystemExit(f"the drills need PostgreSQL at {PG_URL} (TEST_DATABASE_URL)")
    subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=BACKEND,
        env={**os.environ, "DATABASE_URL": database},
        check=True,
        capture_output=True,
    )
    url = make_url(database)
    lines: list[Line] = []

    async def go(drill: Drill, scenarios: list[Scenario]) -> None:
        for key, scenario in scenarios:
            try:
                line = await scenario(drill)
            except Exception as exc:  # a drill that breaks is a failed line, not a stop
                line = Line(key, "", "", [f"the drill raised {exc!r}"])
                drill.proxy.restore()
            _print(line)
            lines.append(line)

    def chosen(scenarios: list[Scenario]) -> list[Scenario]:
        return [s for s in scenarios if only is None or only in s[0]]

    daily_ones, local_ones = chosen(daily_scenarios()), chosen(local_scenarios(tmp, examples, seed))
    from bench import worker_drills

    worker_ones = chosen(worker_drills.worker_scenarios())

    try:
        async with (
            FakeDaily().serve() as daily,
            TcpProxy(url.host or "127.0.0.1", url.port or 5432).serve() as proxy,
        ):
            print(f"{'scenario':<32}{'injected':<52}answered -> left behind")
            if daily_ones:
                async with running(
                    tmp,
                    database,
                    proxy,
                    {
                        "ROOM_PROVIDER": "daily",
                        "DAILY_API_URL": daily.url,
                        "DAILY_API_KEY": API_KEY,
                        "DAILY_TIMEOUT_SECONDS": "3",
                        "DAILY_MAX_RETRIES": "3",
                        "DAILY_RETRY_BASE_SECONDS": "0.2",
                        "DAILY_JOIN_TIMEOUT_SECONDS": str(DAILY_JOIN),
                    },
                ) as drill:
                    drill.daily = daily
                    await go(drill, daily_ones)
            if local_ones:
                async with running(
                    tmp,
                    database,
                    proxy,
                    LOCAL,
                ) as drill:
                    await go(drill, local_ones)
            if worker_ones:
                print("worker mode: the API runs no bot; two worker processes run them")
                async with (
                    worker_drills.private_redis(tmp) as redis,
                    running(
                        tmp, database, proxy, {**LOCAL, **worker_drills.worker_settings(redis)}
                    ) as drill,
                    worker_drills.workers_for(drill, tmp, redis),
                ):
                    await go(drill, worker_ones)
    finally:
        await _drop(database)
    return lines


def _print(line: Line) -> None:
    verdict = (
        "nothing lost or left" if not line.problems else "PROBLEM: " + "; ".join(line.problems)
    )
    print(f"{line.scenario:<32}{line.injected:<52}{line.answered} -> {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--examples", type=int, default=60, help="schemathesis examples per operation"
    )
    parser.add_argument("--seed", type=int, default=1, help="schemathesis' random seed")
    parser.add_argument("--only", help="run only the scenarios whose key contains this")
    args = parser.parse_args()
    # The app's log and schemathesis' output stay here for reading after the run.
    logs = RESULTS / "drills-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    lines = asyncio.run(run(logs, args.examples, args.seed, args.only))
    date = datetime.now(UTC).isoformat(timespec="seconds")
    out = RESULTS / f"drills-{date.replace(':', '')}.json"
    scenarios = [asdict(line) for line in lines]
    out.write_text(json.dumps({"date": date, "scenarios": scenarios}, indent=2))
    failed = [line for line in lines if line.problems]
    print(f"\n{len(lines) - len(failed)} of {len(lines)} scenarios clean; written to {out}")
    print(f"the app's log and schemathesis' output: {logs}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
