"""`make bench BENCH_ARGS="--only network"`: calls over impaired networks (issue 19).

One call per profile, beside a clean one in the same run, at most AT_ONCE at a time (each
starts as one ends, the longest first after the clean one). The user's
aiortc peer is behind the user-space impairment harness (`backend/tests/netem.py`), both
directions, from the end of the greeting; it asks the QUESTIONS one after another. Per profile:
- what the bot heard: the word error rate of the user's lines the bot sent back (its
  transcript, as stored) against the questions spoken, and how many it heard word for word;
- voice to voice: the end of each question to the first sound of its answer, p50 and p95;
- what the user heard: the share of the bot's RTP packets that reached the peer;
- whether the call survived (every question answered, the conversation still active).
`--fec-sender` makes the peers send Opus in-band FEC, as a browser does when our SDP asks for
it (aiortc's own encoder sends none).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import re
import statistics
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.rtp import RtpPacket

from bench.peers import Packets, ask, until_quiet
from bench.stt import normalise, word_errors
from src.rooms.local.jitter import JitterBuffer, Played
from tests import netem
from tests.voice.peer import Peer

Connect = Any  # run.py's `_connected(client, auth)`: (Peer, start body)
End = Any  # run.py's `_end(client, auth, body)`

_BURSTY = netem.GilbertElliott.bursts(loss=0.05, burst=3)


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    link: netem.Profile  # each direction
    blackout: float = 0.0  # seconds, after the first answer
    address_change: bool = False  # after the first answer
    old_path_dead: bool = False  # the address change leaves the old connection cut both ways


PROFILES = (
    NetworkProfile("clean", netem.Profile()),
    NetworkProfile("1 % loss", netem.Profile(loss=0.01)),
    NetworkProfile("3 % loss, 40 +- 15 ms", netem.Profile(loss=0.03, delay=0.04, jitter=0.015)),
    NetworkProfile("5 % bursty loss", netem.Profile(bursty=_BURSTY)),
    NetworkProfile("10 % loss, 60 +- 30 ms", netem.Profile(loss=0.1, delay=0.06, jitter=0.03)),
    NetworkProfile("150 ms RTT", netem.Profile(delay=0.075)),
    NetworkProfile("5 s blackout", netem.Profile(), blackout=5.0),
    NetworkProfile("30 s blackout", netem.Profile(), blackout=30.0),
    NetworkProfile("address change", netem.Profile(), address_change=True),
    NetworkProfile(
        "address change, old path dead", netem.Profile(), address_change=True, old_path_dead=True
    ),
)


def slug(name: str) -> str:
    """A profile's key: "3 % loss, 40 +- 15 ms" -> "3-loss-40-15-ms"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def choose(keys: str) -> None:
    """Run only these profiles (comma-separated keys, `slug`), clean always first."""
    global CHOSEN
    wanted = {key.strip() for key in keys.split(",") if key.strip()}
    known = {slug(p.name) for p in PROFILES}
    if wanted - known:
        raise SystemExit(f"unknown network profiles: {sorted(wanted - known)} (known: {known})")
    CHOSEN = tuple(p for p in PROFILES if p.name == "clean" or slug(p.name) in wanted)


CHOSEN = PROFILES


def chosen(keys: Collection[str] | None = None) -> tuple[NetworkProfile, ...]:
    """The profiles chosen (`choose`), of those only the ones whose key (`slug`) is in `keys`
    when given; clean always first."""
    return tuple(p for p in CHOSEN if keys is None or p.name == "clean" or slug(p.name) in keys)


def _arrived(due: list[tuple[float, int]], clock: list[float], sequence: int) -> None:
    due.append((clock[0], sequence))


def send_fec(expected_loss: int = 10) -> None:
    """Have aiortc's Opus encoder (the peers') send in-band FEC, as browsers do."""
    from aiortc.codecs import opus

    opus.OpusEncoder.__init__ = netem.opus_encoder_with_fec(expected_loss)  # type: ignore[method-assign,assignment]


async def _call(
    client: httpx.AsyncClient,
    user: dict[str, str],
    profile: NetworkProfile,
    questions: list[tuple[str, np.ndarray]],
    connect: Connect,
    end: End,
    seed: int,
) -> dict[str, Any]:
    peer, body = await connect(client, user)
    packets = Packets(peer)
    link = netem.impair(peer.pc, seed=seed)
    peer.start_pings()  # as the room page does: the bot's keep-alive, and the peer's
    token = user["Authorization"].split()[-1]
    peer.rejoin_by_itself(client, body["conversation_id"], token, network=link)
    answers: list[float | None] = []
    replies: list[str | None] = []  # the bot's first line after each question
    recovery: dict[str, Any] = {}
    try:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
        await until_quiet([peer])
        link.up.profile = link.down.profile = profile.link
        mark, heard_before = len(packets.sequences), len(peer.messages)
        for i, (_text, audio) in enumerate(questions):
            if i == 1 and (profile.blackout or profile.address_change):
                # Between two questions: the call goes on after it.
                recovery = await disrupt(peer, link, profile)
            said = len(peer.messages)
            answers.append(await ask(peer, audio))
            replies.append(_first_bot_line(peer.messages[said:]))
        status = (
            await client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=user)
        ).json()["status"]
    finally:
        await peer.close()
        await end(client, user, body)
    heard = [m["text"] for m in peer.messages[heard_before:] if m.get("role") == "user"]
    spoken = [text for text, _ in questions]
    reference = [w for text in spoken for w in normalise(text)]
    errors = word_errors(reference, [w for text in heard for w in normalise(text)])
    times = sorted(a for a in answers if a is not None)
    return {
        "profile": profile.name,
        "heard": heard,
        "word_error_rate": errors / len(reference),
        "heard_right": sum(normalise(h) in [normalise(s) for s in spoken] for h in heard),
        "questions": len(spoken),
        "replies": replies,
        "voice_to_voice_p50_ms": statistics.median(times) * 1000 if times else None,
        "voice_to_voice_p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] * 1000
        if times
        else None,
        "bot_packets_received": packets.received_share(mark),
        "dropped_up": link.up.counts.dropped,
        "dropped_down": link.down.counts.dropped,
        "answered": sum(a is not None for a in answers),
        "survived": status == "active" and all(a is not None for a in answers),
        **recovery,
    }


def _first_bot_line(messages: list[dict[str, Any]]) -> str | None:
    return next((m["text"] for m in messages if m.get("role") == "bot"), None)


def _answered_right(row: dict[str, Any], clean: dict[str, Any]) -> int:
    """How many questions got the answer they got on the clean link (the rule brain says the
    same to the same question in the same place of the call): understood, whatever the words
    the recogniser wrote."""
    return sum(
        r is not None and r == c for r, c in zip(row["replies"], clean["replies"], strict=True)
    )


async def disrupt(peer: Peer, link: netem.Link, profile: NetworkProfile) -> dict[str, Any]:
    """A blackout or an address change; how the peer came back: whether it rejoined (a new
    connection: the 30 s blackout and the address change) or rode it out (5 s), and the
    seconds from the network's return (the blackout's end, the change) to the rejoin's
    connection and to the first sound heard from the bot after it."""
    rejoins = len(peer.recoveries)
    if profile.blackout:
        link.blackout(profile.blackout)
        await asyncio.sleep(profile.blackout)
    else:
        await link.change_address(old_path_dead=profile.old_path_dead)
    back = time.monotonic()
    deadline = back + 20
    while time.monotonic() < deadline:
        started = peer.recoveries[rejoins:]
        if not started and time.monotonic() > back + 1.0:
            break  # no rejoin under way a second after: the connection rode it out
        if started and (started[-1].connected_at is not None or started[-1].gave_up):
            break
        await asyncio.sleep(0.05)
    rejoined = [r.connected_at for r in peer.recoveries[rejoins:] if r.connected_at is not None]
    heard = None
    if rejoined:
        with contextlib.suppress(TimeoutError):
            await peer.utterance(back, within=15, quiet=0.5)  # the welcome back
        heard = peer.first_sound_after(back)
    await until_quiet([peer])
    return {
        "rejoins": len(peer.recoveries) - rejoins,
        "why": [r.why for r in peer.recoveries[rejoins:]],
        "connected_after_s": rejoined[-1] - back if rejoined else None,
        "heard_after_s": heard - back if heard is not None else None,
    }


# How many profiles' calls run at the same time at most (`--network-at-once`), each joining
# STAGGER s after the one before (no join burst).
AT_ONCE, STAGGER = 5, 2.0


def call_order(profiles: tuple[NetworkProfile, ...]) -> list[int]:
    """The order the profiles' calls start in: clean first, then the longest (a blackout adds
    its length to a call), so that the pool's last calls are short ones and the part ends
    with the longest call, not after it."""
    return sorted(
        range(len(profiles)), key=lambda i: (profiles[i].name != "clean", -profiles[i].blackout)
    )


async def network_profiles(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[tuple[str, np.ndarray]],
    connect: Connect,
    end: End,
    profiles: tuple[NetworkProfile, ...] | None = None,
    at_once: int = AT_ONCE,
) -> list[dict[str, Any]]:
    """One call per profile (those chosen: `choose`), clean first, never more than `at_once`
    at a time: each call starts once one ends (and STAGGER s after the one before), so the
    clean call shares the server with impaired ones, as they with each other. Rows in the
    profiles' order."""
    profiles = chosen() if profiles is None else profiles
    rows: dict[int, dict[str, Any]] = {}
    slots = asyncio.Semaphore(at_once)
    started = asyncio.Lock()  # held STAGGER s after each start: joins never come together
    order = call_order(profiles)
    # The first call's row (clean), that each call's answers are compared with.
    reference: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def call(i: int) -> None:
        async with slots:
            async with started:
                task = asyncio.create_task(
                    _call(
                        client, users[i % len(users)], profiles[i], questions, connect, end, seed=i
                    )
                )
                await asyncio.sleep(STAGGER)
            try:
                row = await task
            except BaseException as exc:
                if i == order[0]:
                    reference.set_exception(exc)
                raise
        if i == order[0]:
            reference.set_result(row)
        row["answered_right"] = _answered_right(row, await reference)
        rows[i] = row
        print(
            f"  network, {row['profile']}: heard {row['heard_right']}/{row['questions']} "
            f"right (WER {row['word_error_rate']:.0%}), answered {row['answered_right']} "
            f"right, voice to voice p50 {row['voice_to_voice_p50_ms'] or 0:.0f} ms; "
            f"{row['heard']}",
            flush=True,
        )

    tasks = []
    for i in order:
        tasks.append(asyncio.create_task(call(i)))
        await asyncio.sleep(0)  # each takes its turn at the pool in this order
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)  # the calls' bots finish ending
    return [rows[i] for i in range(len(profiles))]


def print_network(rows: list[dict[str, Any]]) -> None:
    print("\ncalls over impaired networks (both directions, from the greeting's end)")
    width = max([24, *(len(row["profile"]) + 1 for row in rows)])
    print(
        f"{'profile':<{width}}{'heard right':>12}{'WER':>6}{'answered':>9}{'v2v p50':>9}{'p95':>7}"
        f"{'bot pkts':>10}{'survived':>10}{'rejoins':>9}{'back: connected/heard (s)':>27}"
    )
    for row in rows:
        share = row["bot_packets_received"]
        p50, p95 = row["voice_to_voice_p50_ms"], row["voice_to_voice_p95_ms"]
        received = "-" if share is None else f"{share:.1%}"
        survived = "yes" if row["survived"] else "no"
        print(
            f"{row['profile']:<{width}}{row['heard_right']:>8}/{row['questions']:<3}"
            f"{row['word_error_rate']:>6.0%}{row.get('answered_right', '-'):>9}"
            f"{p50 or 0:>9.0f}{p95 or 0:>7.0f}"
            f"{received:>10}{survived:>10}{_recovery(row)}"
        )


def _recovery(row: dict[str, Any]) -> str:
    """A disrupted call's rejoins and seconds from the network's return to the rejoin's
    connection and the bot's first sound after it."""
    if "rejoins" not in row:
        return ""
    connected, heard = row["connected_after_s"], row["heard_after_s"]
    back = "-" if connected is None else f"{connected:.1f}"
    back += "/" + ("-" if heard is None else f"{heard:.1f}")
    return f"{row['rejoins']:>9}{back:>27}"


def _arrivals(profile: netem.Profile, count: int, seed: int) -> list[tuple[float, int]]:
    """(arrival, sequence number) of `count` 20 ms packets sent through a profile."""
    due: list[tuple[float, int]] = []
    later: list[tuple[float, Callable[[], None]]] = []
    clock = [0.0]
    direction = netem.Direction(
        profile,
        random.Random(seed),
        lambda: clock[0],
        lambda wait, call: later.append((clock[0] + wait, call)),
    )
    for sequence in range(count):
        clock[0] = sequence * 0.02
        direction.send(100, functools.partial(_arrived, due, clock, sequence))
    for at, call in sorted(later, key=lambda d: d[0]):
        clock[0] = at
        call()
    return sorted(due)


def _replay_ours(arrivals: list[tuple[float, int]]) -> tuple[int, int, list[float]]:
    """Our buffer: (received packets not played, places concealed, each played packet's hold)."""
    clock = [0.0]
    buffer = JitterBuffer(lambda: clock[0])
    arrived: dict[int, float] = {}
    holds: list[float] = []
    played = concealed = 0

    def take(places: list[Played]) -> None:
        nonlocal played, concealed
        for place in places:
            if place.lost:
                concealed += 1
            else:
                played += 1
                holds.append(clock[0] - arrived[place.sequence])

    for at, sequence in arrivals:
        while (deadline := buffer.deadline) is not None and deadline <= at:
            clock[0] = deadline
            take(buffer.poll())
        clock[0] = at
        arrived.setdefault(sequence, at)
        take(buffer.push(sequence, sequence * 960, b"x"))
    return len(arrived) - played, concealed, holds


def _replay_aiortc(arrivals: list[tuple[float, int]]) -> tuple[int, list[float]]:
    """aiortc 1.16's audio buffer: (received packets not played, each played packet's hold)."""
    buffer = AiortcJitterBuffer(capacity=16, prefetch=4)
    arrived: dict[int, float] = {}
    holds: list[float] = []
    for at, sequence in arrivals:
        arrived.setdefault(sequence, at)
        packet = RtpPacket(sequence_number=sequence & 0xFFFF, timestamp=sequence * 960)
        packet._data = b"x"  # type: ignore[attr-defined]
        _, frame = buffer.add(packet)
        if frame is not None:
            holds.append(at - arrived[frame.timestamp // 960])
    return len(arrived) - len(holds), holds


def buffer_replay(count: int = 3000) -> list[dict[str, Any]]:
    """Each profile's packet sequence (one way, 60 s) through aiortc's audio jitter buffer and
    ours, offline: the share of received packets thrown away, the share concealed, and how
    long a played packet was held (the input latency the buffer adds), median and p95."""
    rows = []
    for i, profile in enumerate(p for p in PROFILES if not (p.blackout or p.address_change)):
        arrivals = _arrivals(profile.link, count, seed=i)
        received = len({s for _, s in arrivals})
        theirs_lost, theirs = _replay_aiortc(arrivals)
        ours_lost, concealed, ours = _replay_ours(arrivals)
        rows.append(
            {
                "profile": profile.name,
                "received": received / count,
                "aiortc_discarded": theirs_lost / received,
                "aiortc_hold_ms": _percentiles(theirs),
                "ours_discarded": ours_lost / received,
                "ours_concealed": concealed / count,
                "ours_hold_ms": _percentiles(ours),
            }
        )
    return rows


def _percentiles(holds: list[float]) -> tuple[float, float]:
    ordered = sorted(holds) or [0.0]
    return (
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
    )


def print_buffer_replay(rows: list[dict[str, Any]]) -> None:
    print("\nthe user's packets through aiortc's jitter buffer and ours (offline, 60 s each)")
    print(
        f"{'profile':<24}{'received':>9}{'aiortc: thrown':>16}{'held p50/p95':>14}"
        f"{'ours: thrown':>14}{'concealed':>11}{'held p50/p95':>14}"
    )
    for row in rows:
        theirs, ours = row["aiortc_hold_ms"], row["ours_hold_ms"]
        print(
            f"{row['profile']:<24}{row['received']:>9.1%}{row['aiortc_discarded']:>16.1%}"
            f"{theirs[0]:>8.0f}/{theirs[1]:<5.0f}{row['ours_discarded']:>14.1%}"
            f"{row['ours_concealed']:>11.1%}{ours[0]:>8.0f}/{ours[1]:<5.0f}"
        )
