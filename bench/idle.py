"""The idle part: what connected, silent conversations cost, and when a new greeting stutters.

One crowd of idle conversations grows through LEVELS. Its users are load users
(tests/kit/load.py: pre-encoded silence at 50 packets a second, as a browser sends, nothing
decoded), so the crowd costs the bench little and joins in seconds; the server does the same
work for them as for any peer. At each level: the bots' processes' RSS and CPU (read by PID),
with none connected and then at the top level, `probes` new test peers, one after another,
are greeted and the longest gap in each greeting's audio is kept: the greeting stutters at a
level when the median of those gaps is over STUTTER_GAP (one late frame alone is noise). Only
if the top level stutters are levels between probed, bisected (the crowd shrinks or grows to
each) to within STUTTER_RESOLUTION.

Before the crowd, TEST_PEERS test peers (each encodes its silence and decodes the bot's, as
the tests' peer) are measured the same way for a moment and hung up: the idle cost per
conversation of a test peer and of a load user, side by side in one run.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import httpx

from bench.load import greeted_peers
from bench.peers import hang_up
from bench.report import STUTTER_GAP
from bench.server import Server, cpu_of, cpu_share, rss_mb
from bench.talking import JOIN_TOGETHER, Joined, connect_load_users, greeted
from tests.kit.load import Phrases, Ticker, next_level
from tests.voice.peer import Peer, rms

Connect = Any  # run.py's `_connected(client, auth)`: (Peer, start body)
Start = Any  # run.py's `_start(client, auth)`: (seconds, wall time, start body)
End = Any  # run.py's `_end(client, auth, body)`

LEVELS = (0, 1, 5, 10, 20, 30)
# The stutter's bisection stops once the largest smooth level is known to within this.
STUTTER_RESOLUTION = 5
TEST_PEERS = 5
# After a level is reached, the bots settle this long, then their CPU is read over WINDOW.
SETTLE, WINDOW = 3.0, 10.0


async def _row(server: Server, client: httpx.AsyncClient, level: int) -> dict[str, Any]:
    await asyncio.sleep(SETTLE)
    pids = await server.bot_pids()
    share = await cpu_share(pids, WINDOW)
    health = (await client.get("/health")).json()
    rss = [rss_mb(pid) for pid in cpu_of(pids)]  # those still running
    return {
        "conversations": level,
        # Bots still running: a dropped peer connection would end one as user_left.
        "alive": health["bots"],
        "rss_mb": sum(rss),
        "rss_mb_per_process": rss,
        "cpu_percent_of_one_core": share * 100,
    }


def _max_gap(peer: Peer, start: float, end: float) -> float:
    """The longest wait between two received audio frames from `start` to `end`, in seconds."""
    times = [at for at, _ in peer.received if start <= at <= end]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def greeting_gap(peer: Peer) -> float:
    """The longest gap between the received frames of the greeting `peer` has just heard whole
    (from its first sound to its last loud frame), in seconds."""
    start = peer.first_sound_after(peer.offer_sent_at)
    assert start is not None
    loud = [at for at, s in peer.received if at >= start and rms(s) > 500]
    return _max_gap(peer, start, loud[-1])


async def _probe_gap(
    client: httpx.AsyncClient, user: dict[str, str], connect: Connect, end: End
) -> float:
    """A new user's greeting: the longest gap between its received frames, in seconds."""
    probe, body = await connect(client, user)
    try:
        await probe.utterance(probe.offer_sent_at, quiet=0.5)
        return greeting_gap(probe)
    finally:
        await probe.close()
        await end(client, user, body)


async def _test_peers_row(
    server: Server,
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    connect: Connect,
    end: End,
) -> dict[str, Any]:
    """TEST_PEERS test peers connected and greeted, measured as a level, then hung up."""
    peers = await greeted_peers(client, users, TEST_PEERS, connect)
    try:
        return await _row(server, client, TEST_PEERS)
    finally:
        await hang_up(client, peers, end)


def per_conversation(rows: list[dict[str, Any]], upto: int, key: str) -> float:
    """One more conversation's cost, from the level 0 row to the `upto` row."""
    base = next(r for r in rows if r["conversations"] == 0)
    top = next(r for r in rows if r["conversations"] == upto)
    return float((top[key] - base[key]) / upto)


async def idle_and_stutter(
    server: Server,
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    phrases: Phrases,
    connect: Connect,
    start: Start,
    end: End,
    levels: tuple[int, ...] = LEVELS,
    probes: int = 5,
    gaps_at_zero: tuple[float, ...] = (),
    test_peers: bool = True,
    probes_at_zero: int | None = None,
) -> dict[str, Any]:
    """The idle rows (load users), the test peers' row beside, and the stutter steps: new
    greetings probed with no idle conversation, then at the top level, and only if it stutters
    at levels between, bisected to within STUTTER_RESOLUTION (`next_level`). `gaps_at_zero`:
    greetings already heard whole on this idle server (the latency part's voice-to-voice
    calls), taken as that many of the probes with no idle conversation."""
    ticker = Ticker()
    ticker.start()
    crowd: list[Joined] = []
    rows: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    smooth: dict[int, bool] = {}
    peers_row: dict[str, Any] | None = None

    async def resize(level: int) -> None:
        """Load users joined, or hung up, until `level` conversations are connected."""
        nonlocal crowd
        if level < len(crowd):
            await hang_up(client, crowd[level:], end)
            crowd = crowd[:level]
            await asyncio.sleep(SETTLE)  # their bots finish ending
            return
        joining = await connect_load_users(
            client,
            users,
            ticker,
            phrases,
            level - len(crowd),
            start,
            len(crowd),
            JOIN_TOGETHER,
            into=crowd,
        )
        _greetings, missed = await greeted(joining)
        if missed:
            print(f"  idle, {level}: {missed} load users heard no greeting", flush=True)

    async def probe(level: int) -> None:
        count = probes if level or probes_at_zero is None else probes_at_zero
        known = list(gaps_at_zero[:count]) if level == 0 else []
        gaps = known + [
            await _probe_gap(client, users[(level + i) % len(users)], connect, end)
            for i in range(count - len(known))
        ]
        median = statistics.median(gaps)
        steps.append(
            {
                "idle_conversations": level,
                "median_max_gap_ms": median * 1000,
                "max_gaps_ms": [round(g * 1000) for g in gaps],
                **({"from_voice_to_voice": len(known)} if known else {}),
            }
        )
        print(f"  stutter, {level} idle: longest gaps {steps[-1]['max_gaps_ms']} ms", flush=True)
        smooth[level] = median <= STUTTER_GAP

    async def measure(level: int) -> None:
        rows.append(await _row(server, client, level))
        print(
            f"  idle, {level} conversations (load users): "
            f"{rows[-1]['cpu_percent_of_one_core']:.1f} % of a core, {rows[-1]['rss_mb']:.0f} MB",
            flush=True,
        )

    try:
        await asyncio.sleep(SETTLE)  # the previous part's conversations finish ending
        await measure(0)
        if test_peers:
            peers_row = await _test_peers_row(server, client, users, connect, end)
            print(
                f"  idle, {TEST_PEERS} test peers: {peers_row['cpu_percent_of_one_core']:.1f} % "
                "of a core",
                flush=True,
            )
        await probe(0)
        for level in levels:
            if level:
                await resize(level)
                await measure(level)
        top = max(levels)
        above: dict[int, bool] = {}  # the levels probed after 0
        while smooth[0] and (n := next_level(above, top, top, STUTTER_RESOLUTION)):
            await resize(n)
            await probe(n)
            above[n] = smooth[n]
    finally:
        await hang_up(client, crowd, end)
        await ticker.close()
    largest_smooth = max((n for n, good in smooth.items() if good), default=None)
    upto = 5 if 5 in levels else max(levels)
    # From 0 to 5: the slope above that means little once the cores fill up.
    per_extra = {
        "MB": per_conversation(rows, upto, "rss_mb"),
        "CPU % of a core": per_conversation(rows, upto, "cpu_percent_of_one_core"),
    }
    if peers_row is not None:
        per_extra["CPU % of a core, test peers"] = per_conversation(
            [rows[0], peers_row], TEST_PEERS, "cpu_percent_of_one_core"
        )
    return {
        "idle": rows,
        **({"idle_test_peers": peers_row} if peers_row is not None else {}),
        "per_extra_idle_conversation": per_extra,
        "stutter": {
            "largest_idle_without_stutter": largest_smooth,
            "steps": sorted(steps, key=lambda step: step["idle_conversations"]),
        },
    }
