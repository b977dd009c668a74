"""Issue 12's load figures: N users asking at the same instant, and a call right after a load.

`at_once`: N connected users say a question at the same instant; for each N, the p50 and max
of the time from the end of the question to the first sound of each answer.
`next_call`: one call's greeting and answers on an idle server; `after_load` runs the same
call right after a load (the idle part's conversations) has ended: the two should match.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import numpy as np

from bench.peers import ask, hang_up, until_quiet
from tests.voice.peer import Peer

Connect = Any  # run.py's `_connected(client, auth)`: (Peer, start body)
End = Any  # run.py's `_end(client, auth, body)`

# The at-once part's numbers of users (the first, one user, is taken from the latency part's
# voice-to-voice calls when they ran: bench/run.py `Pooled`).
AT_ONCE_LEVELS = (1, 3, 5)


async def greeted_peers(
    client: httpx.AsyncClient, users: list[dict[str, str]], n: int, connect: Connect
) -> list[tuple[Peer, dict[str, str], dict[str, Any]]]:
    """N conversations, joined one after another, then greeted (each greeting heard whole)."""
    joined = []
    for i in range(n):
        user = users[i % len(users)]
        peer, body = await connect(client, user)
        joined.append((peer, user, body))
    for peer, _u, _b in joined:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
    return joined


async def at_once(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[np.ndarray],
    connect: Connect,
    end: End,
    levels: tuple[int, ...] = AT_ONCE_LEVELS,
    rounds: int = 2,
) -> list[dict[str, Any]]:
    """For each N: N connected users ask the same question at the same instant, `rounds` times."""
    rows = []
    for n in levels:
        joined = await greeted_peers(client, users, n, connect)
        answers: list[float] = []
        missed = 0
        try:
            for r in range(rounds):
                await asyncio.sleep(1)
                # Every bot silent first, so the N questions still start at the same instant.
                await until_quiet([peer for peer, _u, _b in joined])
                question = questions[r % len(questions)]
                heard = await asyncio.gather(*(ask(peer, question) for peer, _u, _b in joined))
                answers += [h for h in heard if h is not None]
                missed += sum(h is None for h in heard)
        finally:
            await hang_up(client, joined, end)
        rows.append(at_once_row(n, answers, missed))
        print(f"  at once, {n} users: {rows[-1]['answers_ms']} ms", flush=True)
        await asyncio.sleep(2)  # the step's bots finish ending
    return rows


def at_once_row(users: int, answers: list[float], missed: int) -> dict[str, Any]:
    """An at-once row: N users' answers (seconds from the question's end), and those missed."""
    return {
        "users": users,
        "answer_median_ms": statistics.median(answers) * 1000 if answers else None,
        "answer_max_ms": max(answers, default=0) * 1000,
        "answers_ms": [round(a * 1000) for a in answers],
        "missed": missed,
    }


async def next_call(
    client: httpx.AsyncClient,
    user: dict[str, str],
    questions: list[np.ndarray],
    connect: Connect,
    end: End,
) -> dict[str, Any]:
    """One call: its greeting after the offer, then each question's answer (ms)."""
    started = time.monotonic()
    peer, body = await connect(client, user)
    answers: list[float | None] = []
    try:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
        heard = peer.first_sound_after(peer.offer_sent_at)
        greeting = (heard - peer.offer_sent_at) if heard is not None else None
        for question in questions:
            answers.append(await ask(peer, question))
    finally:
        await peer.close()
        await end(client, user, body)
    return {
        "start_to_offer_ms": (peer.offer_sent_at - started) * 1000,
        "greeting_ms": greeting * 1000 if greeting is not None else None,
        "answers_ms": [round(a * 1000) if a is not None else None for a in answers],
    }


def ms(value: float | None) -> float:
    """A figure for a table's cell: nan where none was measured."""
    return value if value is not None else float("nan")


def print_load(figures: dict[str, Any]) -> None:
    """The at-once table and the next-call rows, where measured."""
    if "at_once" in figures:
        print("\nN users ask at the same instant: end of the question to the answer's first sound")
        print(f"{'N':<6}{'answer p50':>12}{'answer max':>12}{'missed':>8}  each (ms)")
        for row in figures["at_once"]:
            print(
                f"{row['users']:<6}{ms(row['answer_median_ms']):>12.0f}"
                f"{row['answer_max_ms']:>12.0f}{row['missed']:>8}  {row['answers_ms']}"
                + ("  (the latency part's voice-to-voice calls)" if row.get("from") else "")
            )
    if "next_call" in figures:
        print("\none call on an idle server, and the same right after the idle part's ended")
        for label, key in (("idle server", "next_call"), ("after the load", "after_load")):
            call = figures.get(key)
            if call:
                greeting = call["greeting_ms"]
                print(
                    f"  {label:<16} greeting {greeting if greeting is None else round(greeting)}"
                    f" ms, answers {call['answers_ms']} ms"
                    + (
                        " (the latency part's first voice-to-voice call)"
                        if call.get("from")
                        else ""
                    )
                )
    idle = figures.get("idle", [])
    if len(idle) >= 2 and idle[-1]["conversations"] > 5:
        span = idle[-1]["conversations"] - idle[0]["conversations"]
        per = (idle[-1]["rss_mb"] - idle[0]["rss_mb"]) / span
        print(
            f"per extra idle conversation (0 to {idle[-1]['conversations']}): MB {per:.1f}"
            f" ({idle[-1].get('alive', '?')} of {idle[-1]['conversations']} alive at the end)"
        )
