"""`make bench`: start latency, bot ready, greeting and voice-to-voice latency, idle cost per bot.

Everything on loopback: the app runs as its own process (PostgreSQL when reachable, else
SQLite), offline models, local rooms; the users are aiortc peers in this process that speak
Piper-synthesised questions. Prints a table and writes the same figures as JSON to
bench/results/. Not yet measured (see bench/README.md): the concurrency ceiling, stutter under
idle load, and the process-per-bot comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from bench.server import Server, cpu_seconds, rss_mb, serve  # noqa: E402
from src.voice_pipeline import speech  # noqa: E402
from tests.voice.conftest import synthesise  # noqa: E402
from tests.voice.peer import RATE, Peer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
QUESTIONS = [
    "What is my life path number?",
    "What does it mean?",
    "What about this year?",
    "What is my soul urge number?",
]


def summary(samples: list[float]) -> dict[str, float]:
    """min / median / p95 / max and the count, in milliseconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "min": ordered[0] * 1000,
        "median": statistics.median(ordered) * 1000,
        "p95": p95 * 1000,
        "max": ordered[-1] * 1000,
    }


async def _user(client: httpx.AsyncClient, i: int) -> dict[str, str]:
    body = (
        await client.post(
            "/api/v1/auth/register",
            json={
                "email": f"bench-{i}-{time.time_ns()}@example.com",
                "password": "bench password",
                "full_name": "Ada Lovelace",
                "birth_date": "1984-07-05",
            },
        )
    ).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def _start(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> tuple[float, float, dict[str, Any]]:
    wall, started = time.time(), time.perf_counter()
    response = await client.post("/api/v1/conversations/start", headers=auth)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, wall, response.json()


async def _ready_after(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any], wall: float
) -> float:
    # The start answers once the bot is ready; bot_ready_at is written just after that.
    for _ in range(100):
        got = (
            await client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=auth)
        ).json()
        if got["bot_ready_at"]:
            return datetime.fromisoformat(got["bot_ready_at"]).timestamp() - wall
        await asyncio.sleep(0.02)
    raise RuntimeError("bot_ready_at was never recorded")


async def _end(client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]) -> None:
    await client.post(f"/api/v1/conversations/{body['conversation_id']}/end", headers=auth)


async def start_latency(
    client: httpx.AsyncClient, users: list[dict[str, str]], runs: int
) -> dict[str, list[float]]:
    """Start round trips, sequential and 20 at once, and start-to-bot-ready."""
    sequential, concurrent, ready = [], [], []
    for i in range(runs):
        elapsed, wall, body = await _start(client, users[i % len(users)])
        sequential.append(elapsed)
        ready.append(await _ready_after(client, users[i % len(users)], body, wall))
        await _end(client, users[i % len(users)], body)
    for _ in range(max(1, runs // 20)):
        answers = await asyncio.gather(*(_start(client, u) for u in users[:20]))
        concurrent += [a[0] for a in answers]
        for user, (_e, _w, body) in zip(users, answers, strict=False):
            await _end(client, user, body)
    return {"start_sequential": sequential, "start_20_concurrent": concurrent, "bot_ready": ready}


async def _connected(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> tuple[Peer, dict[str, Any]]:
    _e, _w, body = await _start(client, auth)
    peer = Peer()
    await peer.connect(client, body["daily_room_url"], body["daily_token"])
    return peer, body


async def greeting_latency(
    client: httpx.AsyncClient, users: list[dict[str, str]], runs: int
) -> list[float]:
    """From the WebRTC offer to the first non-silent frame of the greeting."""
    delays = []
    for i in range(runs):
        peer, body = await _connected(client, users[i % len(users)])
        await peer.utterance(peer.offer_sent_at, quiet=0.3)
        delays.append(peer.first_sound_after(peer.offer_sent_at) - peer.offer_sent_at)
        await peer.close()
        await _end(client, users[i % len(users)], body)
    return delays


async def voice_to_voice(
    client: httpx.AsyncClient, users: list[dict[str, str]], models: speech.SpeechModels, rounds: int
) -> list[float]:
    """From the end of a spoken question to the first non-silent frame of the answer."""
    delays = []
    for r in range(rounds):
        peer, body = await _connected(client, users[r % len(users)])
        await peer.utterance(peer.offer_sent_at)
        for question in QUESTIONS:
            audio = synthesise(models, question)
            peer.mic.say(audio)
            await asyncio.sleep((len(audio) - RATE) / RATE)
            asked = time.monotonic()
            await peer.utterance(asked)
            delays.append(peer.first_sound_after(asked) - asked)
        await peer.close()
        await _end(client, users[r % len(users)], body)
    return delays


async def idle_cost(
    server: Server, client: httpx.AsyncClient, users: list[dict[str, str]]
) -> list[dict[str, float]]:
    """Server RSS and CPU with 0, 1, 5, 10 and 20 connected, silent conversations."""
    peers: list[tuple[Peer, dict[str, str], dict[str, Any]]] = []
    rows = []
    for level in (0, 1, 5, 10, 20):
        while len(peers) < level:
            user = users[len(peers) % len(users)]
            peer, body = await _connected(client, user)
            await peer.utterance(peer.offer_sent_at)
            peers.append((peer, user, body))
        await asyncio.sleep(3)
        cpu, wall = cpu_seconds(server.pid), time.monotonic()
        await asyncio.sleep(10)
        share = (cpu_seconds(server.pid) - cpu) / (time.monotonic() - wall)
        rows.append(
            {
                "conversations": level,
                "rss_mb": rss_mb(server.pid),
                "cpu_percent_of_one_core": share * 100,
            }
        )
    for peer, user, body in peers:
        await peer.close()
        await _end(client, user, body)
    return rows


def _print(figures: dict[str, Any]) -> None:
    print(f"\nmachine: {figures['machine']}; database: {figures['database']}")
    print(f"{'figure':<26}{'n':>4}{'min':>9}{'median':>9}{'p95':>9}{'max':>9}  (ms)")
    for name, stats in figures["latency"].items():
        if stats.get("n"):
            print(
                f"{name:<26}{stats['n']:>4}{stats['min']:>9.0f}{stats['median']:>9.0f}"
                f"{stats['p95']:>9.0f}{stats['max']:>9.0f}"
            )
    print(f"\n{'idle conversations':<20}{'RSS MB':>9}{'CPU % of a core':>17}")
    for row in figures["idle"]:
        print(
            f"{row['conversations']:<20}{row['rss_mb']:>9.0f}"
            f"{row['cpu_percent_of_one_core']:>17.1f}"
        )
    for name, value in figures["per_extra_idle_conversation"].items():
        print(f"per extra idle conversation (0 to 5): {name} {value:.1f}")
    if any(row["cpu_percent_of_one_core"] > 80 for row in figures["idle"]):
        print("note: the server used over 80 % of a core at some level: it was saturated there")


def _machine() -> str:
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, {platform.platform()}"


async def main(quick: bool) -> None:
    runs = 10 if quick else 30
    models = await speech.preload_speech_models()
    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "MAX_BOTS": "200",
            "MAX_ACTIVE_CONVERSATIONS_PER_USER": "1000",
            "JOIN_TIMEOUT_SECONDS": "600",
        }
        async with (
            serve(Path(tmp), **settings) as server,
            httpx.AsyncClient(base_url=server.url, timeout=60) as client,
        ):
            users = [await _user(client, i) for i in range(20)]
            latencies = await start_latency(client, users, runs)
            latencies["greeting_first_audio"] = await greeting_latency(client, users, runs // 3)
            latencies["voice_to_voice"] = await voice_to_voice(
                client, users, models, 1 if quick else 3
            )
            idle = await idle_cost(server, client, users)
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "database": server.database,
        "latency": {k: summary(v) for k, v in latencies.items()},
        "idle": idle,
        # From 0 to 5: above that the two cores are saturated and the slope means nothing.
        "per_extra_idle_conversation": {
            "MB": (idle[2]["rss_mb"] - idle[0]["rss_mb"]) / 5,
            "CPU % of a core": (
                idle[2]["cpu_percent_of_one_core"] - idle[0]["cpu_percent_of_one_core"]
            )
            / 5,
        },
    }
    _print(figures)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{figures['date'].replace(':', '')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    asyncio.run(main(parser.parse_args().quick))
