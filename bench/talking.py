"""Issue 20's cost of a talking conversation, and the load users both it and the ceiling use.

`talking_cost`: N load users (tests/kit/load.py) stay connected, first silent for IDLE_SECONDS
(the idle cost), then each asks one of the questions every ~15 s (EVERY +- SPREAD seconds
apart, from a random phase of its own) for `minutes`, the bot answering each. The server's
processes' CPU (read by PID: the app embedded, the workers summed) over each window, less what
they use with no conversation (the baseline), divided by the conversation-minutes in it, is the
CPU-seconds per idle and per talking conversation minute; 60 over the talking figure is the
talking conversations one core's CPU covers at that pace (the ceiling says where latency gives
out first). The answers' delays say whether the server kept up while it was measured.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import httpx

from bench.peers import hang_up
from bench.server import Server, cpu_of, cpu_share, cpu_since
from tests.kit.load import LoadUser, Phrases, Ticker

Start = Any  # run.py's `_start(client, auth)`: (seconds, wall time, start body)
End = Any  # run.py's `_end(client, auth, body)`
Joined = tuple[LoadUser, dict[str, str], dict[str, Any]]

# A question every EVERY +- SPREAD seconds per user; the idle window before the talking one.
EVERY, SPREAD, IDLE_SECONDS = 15.0, 3.0, 10.0
# Where the users' joining is not what is measured (the talking and idle parts measure the
# server once every greeting has ended), they join this many at a time: a crowd of 30 took
# 11 s one after another (2026-12-07).
JOIN_TOGETHER = 4


async def connect_load_users(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    ticker: Ticker,
    phrases: Phrases,
    n: int,
    start: Start,
    first_user: int = 0,
    together: int = 1,
    into: list[Joined] | None = None,
) -> list[Joined]:
    """N started conversations, each with a load user connected, `together` at a time (1: one
    after another, as a ceiling step's users join: its greetings are judged). Each is added to
    `into` (the caller's, which it hangs up) as it starts, so that a join that fails leaves none
    of those before it, or beside it in its batch, running; returns those of this call."""
    into = [] if into is None else into
    before = len(into)

    async def join(i: int) -> None:
        user = users[i % len(users)]
        _e, _w, started = await start(client, user)
        load_user = LoadUser(ticker, phrases)
        into.append((load_user, user, started))
        await load_user.connect(client, started["daily_room_url"], started["daily_token"])

    for first in range(first_user, first_user + n, together):
        # Every join of a batch ends before a failed one's error is raised: none runs on, after
        # the caller has hung up, to start a conversation no one ends.
        ended = await asyncio.gather(
            *(join(i) for i in range(first, min(first + together, first_user + n))),
            return_exceptions=True,
        )
        if failed := [e for e in ended if isinstance(e, BaseException)]:
            raise failed[0]
    return into[before:]


async def greeted(joined: list[Joined]) -> tuple[list[float], int]:
    """Each load user's wait from its offer to the first sound of its greeting, and how many
    heard none within 20 s; returns once every greeting heard has ended."""
    greetings: list[float] = []
    missed = 0
    for load_user, _u, _b in joined:
        heard = await load_user.speech_after(load_user.offer_sent_at, within=20)
        if heard is None:
            missed += 1
            continue
        greetings.append(heard - load_user.offer_sent_at)
        await load_user.quiet(0.5)
    return greetings, missed


async def talking_cost(
    server: Server,
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    phrases: Phrases,
    n: int,
    minutes: float,
    start: Start,
    end: End,
    seed: int = 15,
) -> dict[str, Any]:
    """The server's CPU-seconds per idle and per talking conversation minute, with N users."""
    rng = random.Random(seed)
    ticker = Ticker()
    ticker.start()
    joined: list[Joined] = []
    answers: list[float] = []
    asked = unanswered = 0
    try:
        pids = await server.bot_pids()
        # What the server's processes use with no conversation at all, per minute: taken off
        # both figures below, which are what one more conversation costs.
        baseline = 60 * await cpu_share(pids, IDLE_SECONDS)
        await connect_load_users(
            client, users, ticker, phrases, n, start, together=JOIN_TOGETHER, into=joined
        )
        greetings, missed = await greeted(joined)
        idle = (60 * await cpu_share(pids, IDLE_SECONDS) - baseline) / n
        print(f"  talking cost, {n} conversations: idle {idle:.2f} CPU s/min each", flush=True)

        before, wall = cpu_of(pids), time.monotonic()
        stop_asking = wall + minutes * 60

        async def talk(load_user: LoadUser) -> None:
            nonlocal asked, unanswered
            at = wall + rng.uniform(0, EVERY)
            while at < stop_asking:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                asked += 1
                answered = await load_user.ask(rng.randrange(len(phrases.questions)))
                if answered is None:
                    unanswered += 1
                else:
                    answers.append(answered)
                await load_user.quiet(0.5)
                at += rng.uniform(EVERY - SPREAD, EVERY + SPREAD)

        await asyncio.gather(*(talk(load_user) for load_user, _u, _b in joined))
        talked = (time.monotonic() - wall) / 60
        talking = (cpu_since(before) / talked - baseline) / n
    finally:
        await hang_up(client, joined, end)
        await ticker.close()
    row = {
        "conversations": n,
        "minutes": talked,
        "questions_per_conversation_minute": asked / (n * talked),
        "baseline_cpu_seconds_per_minute": baseline,
        "idle_cpu_seconds_per_conversation_minute": idle,
        "talking_cpu_seconds_per_conversation_minute": talking,
        "talking_conversations_per_core": 60 / talking if talking else None,
        "greeting_max_ms": max(greetings, default=0) * 1000,
        "answer_median_ms": statistics.median(answers) * 1000 if answers else None,
        "answer_max_ms": max(answers, default=0) * 1000,
        "missed": missed + unanswered,
    }
    print(
        f"  talking cost, {n} conversations, {asked} questions in {talked:.1f} min: "
        f"{talking:.2f} CPU s per conversation minute ({row['talking_conversations_per_core']:.0f}"
        f" talking conversations a core), answers p50 {row['answer_median_ms'] or 0:.0f} ms "
        f"max {row['answer_max_ms']:.0f} ms, missed {row['missed']}",
        flush=True,
    )
    return row
