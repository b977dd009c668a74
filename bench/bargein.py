"""`--only bargein`: speaking over the bot (issue 23).

Three calls per variant, at the same time, each its own user: the barge-ins; the
backchannels; the paused requests (the variants too run side by side, a server each). The user
asks for the whole reading (about 12 s of speech), and 1.5 s into the answer either asks
another question over it (a barge-in) or says "Mm-hmm." (a backchannel). Timed from packet
arrivals at the peer (the bot sends nothing while silent, so no decoding is needed): from the
start of the user's speech over the bot to the last packet of the bot's audio before it went
quiet (the stop; none within 2 s: not stopped). A backchannel "was answered" when a bot line
that is not part of the reading followed it in the stored transcript (not the page's: a lossy
link delays its lines by seconds), and "stopped the bot" when it was answered (its turn
interrupted the reading) or the rest of the answer was not spoken (the answer's packets fell
short of the uninterrupted answer's, in the same call, by more than 1 s). Each variant's
server differs only in BARGE_IN.

A request said with a pause (issue 23's "one utterance, one answer"): the user says the first
part, is silent PAUSE s (long enough to end a turn), then says the rest; `PAUSED` names the
cases. The whole request must be answered once: each case's right answer heard whole (not
cut) exactly once, its first part's own answer never heard whole, the reading never spoken twice.

Under a network profile (`--barge-in-networks`, `bench.network`'s profiles that impair a link),
each call is greeted on a clean link, then the profile impairs both directions of the peer's
media for the rest of it (what it dropped each way is reported, so the impairment is seen to
work); the user lines the recogniser heard of each backchannel that was answered are kept, to
say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np

from bench.peers import Packets, until_quiet
from tests import netem
from tests.kit.speech import loud_span, synthesise
from tests.voice.peer import RATE, Peer

Connect = Any  # run.py's `_connected(client, auth)`: (Peer, start body)
End = Any  # run.py's `_end(client, auth, body)`

READING = "Give me my whole numerology reading."
OVER = "What does it mean?"
BACKCHANNEL = "Mm-hmm."
# Into the answer when the user speaks over it.
INTO_THE_ANSWER = 1.5
# No packet for this long after the user's speech began: the bot stopped.
STOP_GAP = 0.25
# A bot still speaking this long after the user began is not stopped by them.
NOT_STOPPED_MS = 2000
# An answer is over once no packet has come for this long.
ANSWER_OVER = 2.0
# A request in two parts with a pause between: (the first part, the rest, what the answer to
# the whole says, what the answer to the first part alone says).
PAUSE = 0.8
PAUSED = {
    "reading": (
        "Give me my whole numerology reading,",
        "all of my numbers, please.",
        "Your life path is 7",
        "Your life path is 7",
    ),
    "expression": (
        "What is the expression number,",
        "for John Smith?",
        "expression number is 8",
        "expression number is 9",
    ),
}


class Arrivals(Packets):
    """When each packet of the bot's audio reached the peer, read for its speech's timing."""

    def first_after(self, since: float) -> float | None:
        return next((t for t in self.times if t >= since), None)

    def stop_after(self, since: float, gap: float = STOP_GAP) -> float | None:
        """The last packet before the first gap of `gap` s after `since` (None: none came)."""
        after = [t for t in self.times if t >= since]
        for earlier, later in zip(after, after[1:], strict=False):
            if later - earlier >= gap:
                return earlier
        return after[-1] if after else None

    def count(self, start: float, end: float) -> int:
        return sum(start <= t <= end for t in self.times)


async def _answer_over(arrivals: Arrivals, within: float = 40) -> float:
    """Wait until the bot has been silent ANSWER_OVER s; when its last packet came."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        last = arrivals.times[-1] if arrivals.times else 0.0
        if time.monotonic() - last >= ANSWER_OVER:
            return last
        await asyncio.sleep(0.05)
    return arrivals.times[-1]


async def _reading(peer: Peer, arrivals: Arrivals, reading: np.ndarray) -> float:
    """Ask for the reading once the bot is silent; when its answer's first packet came."""
    await until_quiet([peer])
    asked = time.monotonic()
    peer.mic.say(reading)
    deadline = asked + 20
    while time.monotonic() < deadline:
        # The synthesised request ends in silence, into which the answer may already start.
        started = arrivals.first_after(asked + loud_span(reading)[1])
        if started is not None:
            return started
        await asyncio.sleep(0.02)
    heard = [(m.get("role"), m.get("text")) for m in peer.messages[-4:]]
    raise TimeoutError(f"the bot did not answer the reading request; last lines: {heard}")


async def _try(
    peer: Peer, arrivals: Arrivals, reading: np.ndarray, over: np.ndarray | None
) -> dict[str, Any]:
    """One reading, with `over` said INTO_THE_ANSWER s into it (None: not interrupted)."""
    started = await _reading(peer, arrivals, reading)
    row: dict[str, Any] = {}
    if over is not None:
        await asyncio.sleep(max(0.0, started + INTO_THE_ANSWER - time.monotonic()))
        said = time.monotonic()
        peer.mic.say(over)
        onset = said + loud_span(over)[0]
        await asyncio.sleep(len(over) / RATE + 0.5)
        stop = arrivals.stop_after(onset)
        row["stop_ms"] = None if stop is None else (stop - onset) * 1000
    ended = await _answer_over(arrivals)
    row["answer_packets"] = arrivals.count(started, ended)
    return row


class Stored:
    """The conversation's stored transcript (`GET .../messages`), read as its owner reads it:
    the bot's lines as said, those cut short marked `interrupted` (a line dropped before its
    first word is not stored)."""

    def __init__(self, client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]):
        self._client, self._auth = client, auth
        self._url = f"/api/v1/conversations/{body['conversation_id']}/messages"

    async def lines(self) -> list[dict[str, Any]]:
        got = await self._client.get(self._url, headers=self._auth, params={"limit": 500})
        got.raise_for_status()
        return list(got.json()["items"])

    async def since(self, before: int) -> list[dict[str, Any]]:
        """The lines stored after the first `before`, once the transcript writer has flushed
        (every 0.25 s)."""
        await asyncio.sleep(1.0)
        return (await self.lines())[before:]


def _heard(lines: list[dict[str, Any]]) -> list[str]:
    """The user's lines among stored `lines`."""
    return [line["text"] for line in lines if line["role"] == "user"]


def _said_whole(lines: list[dict[str, Any]]) -> list[str]:
    """The bot's lines among stored `lines` that were said whole (not cut)."""
    return [
        line["text"] for line in lines if line["role"] == "assistant" and not line["interrupted"]
    ]


async def _paused(
    peer: Peer,
    arrivals: Arrivals,
    stored: Stored,
    parts: tuple[np.ndarray, np.ndarray],
    whole: str,
    first: str,
) -> dict[str, Any]:
    """A request said in two parts PAUSE s apart; how often its answer and the first part's were
    said whole (stored bot lines not cut)."""
    await until_quiet([peer])
    before = len(await stored.lines())
    peer.mic.say(parts[0])
    await asyncio.sleep(len(parts[0]) / RATE + PAUSE)
    peer.mic.say(parts[1])
    await asyncio.sleep(len(parts[1]) / RATE)
    await _answer_over(arrivals)
    new = await stored.since(before)
    said = _said_whole(new)
    heard = _heard(new)
    return {
        # Two user lines: the pause ended a turn (the second joined to the first, or answered
        # on its own); one: the turn detector waited through the pause.
        "user_lines": len(heard),
        "heard": heard,
        "cut_lines": sum(line["role"] == "assistant" and line["interrupted"] for line in new),
        "whole_answers": sum(whole in line for line in said),
        "first_part_answers": sum(first in line for line in said) if first != whole else 0,
        "lines": said,
    }


@contextlib.asynccontextmanager
async def _call(
    client: httpx.AsyncClient,
    user: dict[str, str],
    connect: Connect,
    end: End,
    link: netem.Profile,
    seed: int,
) -> AsyncIterator[tuple[Peer, Arrivals, Stored, netem.Link]]:
    """A call greeted on a clean link, then through `link` (each direction) until it ends."""
    peer, body = await connect(client, user)
    arrivals = Arrivals(peer)
    network = netem.impair(peer.pc, seed=seed)
    peer.start_pings()
    try:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
        network.up.profile = network.down.profile = link
        yield peer, arrivals, Stored(client, user, body), network
    finally:
        await peer.close()
        await end(client, user, body)


async def barge_in_calls(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    models: Any,
    connect: Connect,
    end: End,
    tries: int,
    link: netem.Profile = netem.Profile(),
    seed: int = 23,
) -> dict[str, Any]:
    """Three calls at the same time, each through `link` once its bot has greeted (`users`: one
    for each): `tries` barge-ins; an uninterrupted reading, then `tries` backchannels; `tries`
    of each paused request."""
    reading, over, backchannel = (synthesise(models, t) for t in (READING, OVER, BACKCHANNEL))
    paused = {
        case: ((synthesise(models, a), synthesise(models, b)), whole, first)
        for case, (a, b, whole, first) in PAUSED.items()
    }
    dropped: list[tuple[int, int]] = []

    async def barge_ins() -> dict[str, Any]:
        async with _call(client, users[0], connect, end, link, seed) as (peer, arrivals, _s, net):
            stops: list[float] = []
            not_stopped = 0
            for _ in range(tries):
                row = await _try(peer, arrivals, reading, over)
                if row["stop_ms"] is None or row["stop_ms"] > NOT_STOPPED_MS:
                    not_stopped += 1  # the answer went on
                else:
                    stops.append(row["stop_ms"])
        dropped.append((net.up.counts.dropped, net.down.counts.dropped))
        return {"barge_in_stop_ms": [round(s) for s in stops], "barge_in_not_stopped": not_stopped}

    async def backchannels() -> dict[str, Any]:
        call = _call(client, users[1], connect, end, link, seed + 1)
        async with call as (peer, arrivals, stored, net):
            before = len(await stored.lines())
            reference = await _try(peer, arrivals, reading, None)
            reading_lines = set(_said_whole(await stored.since(before)))
            stopped = answered = 0
            heard_as: list[list[str]] = []  # what the recogniser made of each answered one
            for _ in range(tries):
                before = len(await stored.lines())
                row = await _try(peer, arrivals, reading, backchannel)
                # Read from the stored transcript: the page's lines come over the data channel,
                # which a lossy link delays by seconds (SCTP's retransmissions), past the try.
                new = await stored.since(before)
                replied = any(line not in reading_lines for line in _said_whole(new))
                answered += replied
                if replied:
                    heard_as.append(_heard(new)[1:])  # the first: the reading's request
                # Answered means interrupted (the user's turn started, cutting the reading), and
                # then the reply's packets hide the cut from a count; else 1 s short is a stop.
                if replied or row["answer_packets"] < reference["answer_packets"] - 50:
                    stopped += 1
        dropped.append((net.up.counts.dropped, net.down.counts.dropped))
        return {
            "reference_answer_packets": reference["answer_packets"],
            "backchannels": tries,
            "backchannels_stopping_the_bot": stopped,
            "backchannels_answered": answered,
            "backchannels_answered_heard_as": heard_as,
        }

    async def pauses() -> dict[str, Any]:
        call = _call(client, users[2], connect, end, link, seed + 2)
        async with call as (peer, arrivals, stored, net):
            said: dict[str, list[dict[str, Any]]] = {case: [] for case in paused}
            for _ in range(tries):
                for case, (parts, whole, first) in paused.items():
                    said[case].append(await _paused(peer, arrivals, stored, parts, whole, first))
        dropped.append((net.up.counts.dropped, net.down.counts.dropped))
        return {"paused_requests": said}

    result: dict[str, Any] = {}
    for part in await asyncio.gather(barge_ins(), backchannels(), pauses()):
        result |= part
    result["dropped_up"] = sum(up for up, _ in dropped)
    result["dropped_down"] = sum(down for _, down in dropped)
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    stops = sorted(result["barge_in_stop_ms"])
    p95 = stops[min(len(stops) - 1, int(0.95 * len(stops)))] if stops else None
    return {
        "stop_p50_ms": statistics.median(stops) if stops else None,
        "stop_p95_ms": p95,
    }


def print_barge_in(rows: dict[str, dict[str, Any]]) -> None:
    print("\nspeaking over the bot: the user's speech start to the bot's last packet at the peer")
    width = max([10, *(len(v) + 2 for v in rows)])
    print(
        f"{'BARGE_IN':<{width}}{'stop p50':>9}{'p95':>7}{'not stopped':>13}"
        f"{'backchannels: stopped':>23}{'answered':>10}  stops (ms)"
    )
    for variant, result in rows.items():
        s = summary(result)
        p50 = "-" if s["stop_p50_ms"] is None else f"{s['stop_p50_ms']:.0f}"
        p95 = "-" if s["stop_p95_ms"] is None else f"{s['stop_p95_ms']:.0f}"
        n = result["backchannels"]
        print(
            f"{variant:<{width}}{p50:>9}{p95:>7}{result['barge_in_not_stopped']:>13}"
            f"{result['backchannels_stopping_the_bot']:>19}/{n:<3}"
            f"{result['backchannels_answered']:>8}/{n:<3} {result['barge_in_stop_ms']}"
        )
        if result.get("dropped_up") or result.get("dropped_down"):
            print(
                f"{'':<{width}}  the link dropped {result['dropped_up']} packets up, "
                f"{result['dropped_down']} down"
            )
        for heard in result.get("backchannels_answered_heard_as", []):
            print(f"{'':<{width}}  an answered backchannel was heard as {heard}")
    print(f"\na request said with a {PAUSE} s pause: answered once, on the whole of it")
    print(
        f"{'BARGE_IN':<{width}}{'request':<12}{'once':>6}{'twice or more':>15}{'never':>7}"
        "  first part's  two turns  cut lines"
    )
    for variant, result in rows.items():
        for case, tries in result.get("paused_requests", {}).items():
            counts = [t["whole_answers"] for t in tries]
            wrong = sum(t["first_part_answers"] > 0 for t in tries)
            print(
                f"{variant:<{width}}{case:<12}{counts.count(1):>6}{sum(c > 1 for c in counts):>15}"
                f"{counts.count(0):>7}  {wrong:>8}/{len(tries):<4}"
                f"{sum(t.get('user_lines', 0) > 1 for t in tries):>6}/{len(tries):<4}"
                f"{sum(t.get('cut_lines', 0) for t in tries):>6}"
            )
