"""Drills on who may do what: forged and stale tokens, one user at another's conversation
and room, and schemathesis fuzzing every operation of the OpenAPI schema."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench.drills.base import SECRET, Drill, Line, answer
from src.core.security import ACCESS_AUDIENCE, ROOM_AUDIENCE, encode_token


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
                response.status_code in allowed, f"{name}: {method} {path} {answer(response)}"
            )
        answers.append(f"{name} {response.status_code}")
    line.answered = ", ".join(answers)
    return await drill.settled(line)


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
    line.live(row, "A's conversation did not survive")
    await drill.end(auth_a, a["conversation_id"])
    await drill.end(auth_b, b["conversation_id"])
    return await drill.settled(line, [a["conversation_id"], b["conversation_id"]])


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
    return await drill.settled(line, within=30)


def _requests_in(report: Path) -> int:
    """How many requests a schemathesis NDJSON report records."""
    if not report.exists():
        return 0
    count = 0
    for event in report.read_text().splitlines():
        count += event.count('"response":')
    return count


async def floods(drill: Drill) -> Line:
    """What a hostile user sends in bulk is bounded (issue 21): a 20 MB body, 12 wrong passwords
    at once, more event streams than a user may open, an offer with 40 candidates; the app
    stays responsive and keeps nothing of it."""
    line = Line("floods", "20 MB body, 12 logins at once, 8 event streams, 40 candidates")
    body_status = await _post_declared(drill.app.url, "/api/v1/auth/register", 20_000_000)
    email = f"flood-{uuid.uuid4().hex[:8]}@example.com"
    registered = await drill.client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": "drill password",
            "full_name": "Ada Lovelace",
            "birth_date": "1984-07-05",
        },
    )
    registered.raise_for_status()
    auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    wrong = {"email": email, "password": "not the password"}
    logins = await asyncio.gather(
        *(drill.client.post("/api/v1/auth/login", json=wrong) for _ in range(12))
    )
    checked = sum(r.status_code == 401 for r in logins)
    conversation = (await drill.start(auth)).json()
    streams = [
        drill.client.stream(
            "GET", f"/api/v1/conversations/{conversation['conversation_id']}/events", headers=auth
        )
        for _ in range(8)
    ]
    opened = [await s.__aenter__() for s in streams]
    stream_codes = [r.status_code for r in opened]
    for s in streams:
        await s.__aexit__(None, None, None)
    room = conversation["daily_room_url"].rsplit("/", 1)[1]
    fingerprint = "sha-256 " + ":".join(["AB"] * 32)
    sdp = "\r\n".join(
        [
            "v=0",
            "o=- 1 2 IN IP4 0.0.0.0",
            "s=-",
            "t=0 0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=ice-ufrag:abcd",
            "a=ice-pwd:abcdefghijklmnopqrstuv",
            f"a=fingerprint:{fingerprint}",
            *(f"a=candidate:1 1 udp 2122260223 10.0.0.{i} 50000 typ host" for i in range(40)),
        ]
    )
    offer = await drill.client.post(
        f"/api/v1/rooms/{room}/offer",
        json={"sdp": sdp + "\r\n", "type": "offer"},
        headers={"Authorization": f"Bearer {conversation['daily_token']}"},
    )
    started = time.monotonic()
    health = await drill.client.get("/health")
    health_ms = (time.monotonic() - started) * 1000
    line.answered = (
        f"body {body_status}, logins checked {checked} of 12, streams "
        f"{stream_codes.count(200)} opened and {stream_codes.count(429)} refused, offer "
        f"{offer.status_code}, /health {health.status_code} in {health_ms:.0f} ms"
    )
    line.expect(body_status == 413, "a 20 MB body was read")
    line.expect(checked <= 5, f"{checked} passwords checked against a limit of 5")
    line.expect(429 in stream_codes, "every event stream was opened")
    line.expect(offer.status_code == 400, "an offer with 40 candidates was taken")
    line.expect(health.status_code == 200, "the app stopped answering")
    await drill.end(auth, conversation["conversation_id"])
    return await drill.settled(line, [conversation["conversation_id"]])


async def _post_declared(base_url: str, path: str, length: int) -> int:
    """POST a body of `length` bytes as a client that starts sending it: the status the server
    answers with after the first 64 KiB (a server that reads it all answers only at the end;
    httpx, sending the rest, sees the early answer as a reset connection)."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        writer.write(head.encode() + b"{" + b" " * 65_535)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
