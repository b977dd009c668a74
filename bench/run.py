"""`make bench`: the figures of the benchmarks issue, one command, a table and a JSON file.

Everything on loopback: the app runs as its own process (PostgreSQL when reachable, else
SQLite), offline models, local rooms; the users are aiortc peers in this process that speak
Piper-synthesised questions. Which parts run in which mode, with how many samples: the default
run (about 30 minutes), `--all`, `--only` (bench/plan.py). stt, synthesis and bargein run once
first, then each mode's parts in turn, then scaling and process once:
- latency: start, bot ready, signalling, greeting, voice to voice (from the last loud sample of
  the question to the answer's first sound);
- idle: memory and CPU per idle conversation (load users, five test peers beside), new
  greetings' gaps as idle conversations grow (the stutter), a call before and right after
  (bench/idle.py);
- ceiling-light: the largest number of simultaneous conversations that still answer in time,
  load users (pre-encoded speech, nothing decoded: tests/kit/load.py) and a canary, a load
  user whose answer is checked, then decoded and transcribed once its step is measured; the
  load generator's and the server's CPU;
- ceiling (only with --only): the same with test peers only, each encoding and decoding on the
  server's cores;
- talking: the server's CPU-seconds per idle and per talking conversation minute, load users
  asking every ~15 s (bench/talking.py);
- atonce: N users asking at the same instant;
- network: calls over impaired networks, AT_ONCE at a time (bench/network.py);
- browser-network (only with --only): the room page in Chromium under loss
  (bench/browser_network.py);
- scaling (the load-user ceiling of the service on one core: one worker and the app's process
  pinned to it, the load generator on the other; beside the worker mode's with two workers on
  two cores, and their ratio); process (the same figures for a process per bot, only with
  --all or --only); stt (each offline recogniser's latency and word error rate), synthesis
  (CPU per answer's speech with and without the cache of synthesised sentences); bargein
  (speaking over the bot, each BARGE_IN on a server of its own, side by side:
  bench/bargein.py).
Each part prints its time, and the run where its time went. Prints a table and
writes the same figures as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import numpy as np

from bench.bargein import barge_in_calls
from bench.browser_network import browser_profiles, impaired_turn
from bench.idle import LEVELS as IDLE_LEVELS
from bench.idle import greeting_gap, idle_and_stutter
from bench.load import AT_ONCE_LEVELS, at_once, at_once_row, next_call
from bench.network import AT_ONCE as NETWORK_CALLS_AT_ONCE
from bench.network import PROFILES as NETWORK_PROFILES
from bench.network import buffer_replay, network_profiles, send_fec
from bench.network import choose as choose_network
from bench.network import chosen as chosen_networks
from bench.network import slug as network_slug
from bench.peers import QUIET, ask, hang_up
from bench.plan import (
    DEFAULT_IDLE_LEVELS,
    FEWER,
    PARTS,
    SCALING,
    SCALING_GUESS,
    Plan,
    Scaling,
    ceiling_guess,
    plan,
    talking_size,
    where_it_ran,
)
from bench.report import ANSWER_LIMIT, GREETING_LIMIT, report
from bench.server import (
    Server,
    client_of,
    cpu_of,
    cpu_since,
    machine_cpu,
    neighbours_cpu,
    neighbours_since,
    serve,
)
from bench.stt import normalise, stt_benchmark, word_errors
from bench.synthesis import synthesis_benchmark
from bench.talking import Joined, connect_load_users, greeted, talking_cost
from src.core.settings import get_settings
from src.voice_pipeline import speech
from tests.kit.load import (
    Canary,
    LoadUser,
    Phrases,
    Ticker,
    level_near,
    load_user_cost,
    next_level,
    unless_lost,
)
from tests.kit.processes import pinned
from tests.kit.speech import loud_span, say, synthesise, transcribe
from tests.netem import UdpRelay
from tests.voice.peer import RATE, Peer

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


async def _users(client: httpx.AsyncClient, n: int) -> list[dict[str, str]]:
    """N new users, registered side by side (each password hash takes the server a moment)."""
    return list(await asyncio.gather(*(_user(client, i) for i in range(n))))


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


class _TimedPost:
    """The client as the peer sees it, timing its one POST: the offer, answered with the SDP."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.seconds = 0.0

    async def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        response = await self._client.post(*args, **kwargs)
        self.seconds = time.perf_counter() - started
        return response


async def _connected(
    client: httpx.AsyncClient, auth: dict[str, str], offers: list[float] | None = None
) -> tuple[Peer, dict[str, Any]]:
    """A started conversation and its peer, connected; the offer's round trip goes to `offers`."""
    _e, _w, body = await _start(client, auth)
    peer = Peer(adaptive_ears=PEER_EARS[0] == "adaptive")
    timed = _TimedPost(client)
    await peer.connect(timed, body["daily_room_url"], body["daily_token"])  # type: ignore[arg-type]
    if offers is not None:
        offers.append(timed.seconds)
    return peer, body


async def greeting_latency(
    client: httpx.AsyncClient, users: list[dict[str, str]], runs: int
) -> dict[str, list[float]]:
    """The offer's round trip (signalling), and from the offer to the greeting's first sound."""
    delays: list[float] = []
    offers: list[float] = []
    for i in range(runs):
        peer, body = await _connected(client, users[i % len(users)], offers)
        # The greeting's first sound is the figure: the user hangs up there, not at its end.
        deadline = peer.offer_sent_at + 20
        while (greeted := peer.first_sound_after(peer.offer_sent_at)) is None:
            assert time.monotonic() < deadline, "no greeting within 20 s"
            await asyncio.sleep(0.02)
        delays.append(greeted - peer.offer_sent_at)
        await peer.close()
        await _end(client, users[i % len(users)], body)
    return {"signalling": offers, "greeting_first_audio": delays}


async def voice_to_voice(
    client: httpx.AsyncClient, users: list[dict[str, str]], models: speech.SpeechModels, rounds: int
) -> dict[str, Any]:
    """From the end of a spoken question (its last loud sample) to the first loud frame of the
    answer; beside it, the same from the end of the question's audio, as the bench timed it
    until 2026-12-05 (Piper's fading 0.1 to 0.25 s after the words left out), to compare with
    the tables of before."""
    delays: list[float] = []
    from_audio_end: list[float] = []
    calls: list[dict[str, Any]] = []
    for r in range(rounds):
        started = time.monotonic()
        peer, body = await _connected(client, users[r % len(users)])
        # Each utterance heard whole (QUIET: longer than Piper's pauses between sentences)
        # before the next question.
        await peer.utterance(peer.offer_sent_at, quiet=QUIET)
        greeted = peer.first_sound_after(peer.offer_sent_at)
        answers_ms: list[int] = []
        call: dict[str, Any] = {
            "start_to_offer_ms": (peer.offer_sent_at - started) * 1000,
            "greeting_ms": (greeted - peer.offer_sent_at) * 1000 if greeted is not None else None,
            # The greeting heard whole on an idle server: a stutter probe with none idle.
            "greeting_max_gap_ms": greeting_gap(peer) * 1000,
            "answers_ms": answers_ms,
        }
        for question in QUESTIONS:
            audio = synthesise(models, question)
            asked = await say(peer, audio)
            await peer.utterance(asked, quiet=QUIET)
            answered = peer.first_sound_after(asked)
            assert answered is not None  # the utterance above was heard
            delays.append(answered - asked)
            answers_ms.append(round((answered - asked) * 1000))
            fading = (len(audio) - RATE) / RATE - loud_span(audio)[1]
            from_audio_end.append(answered - asked - fading)
        calls.append(call)
        await peer.close()
        await _end(client, users[r % len(users)], body)
    return {
        "voice_to_voice": delays,
        "voice_to_voice_from_audio_end": from_audio_end,
        "calls": calls,  # each call's greeting and answers, for `Pooled` (not a summary)
    }


class Pooled:
    """What the latency part's voice-to-voice calls already measured, taken by the parts that
    would otherwise make the same call again (each a greeting and answers on an idle server,
    about 50 s and 30 s of a mode's time): the "at once" row for one user, the call on an
    idle server before the idle part, and the stutter probes with no idle conversation (a
    greeting heard whole each, about 8 s)."""

    def __init__(self, voice: dict[str, Any] | None = None) -> None:
        self._voice = voice

    def one_user_at_once(self) -> dict[str, Any] | None:
        """The at-once row for N = 1: one user asking on an idle server is a voice-to-voice
        sample (both from the question's last loud sample to the answer's first sound)."""
        if not self._voice:
            return None
        # None missed: a voice-to-voice call fails the part if an answer is missed.
        return {**at_once_row(1, self._voice["voice_to_voice"], 0), "from": "voice_to_voice"}

    def call_on_an_idle_server(self, questions: int) -> dict[str, Any] | None:
        """The idle part's `next_call` before its load: the first voice-to-voice call's
        greeting and its first `questions` answers."""
        if not self._voice or not self._voice["calls"]:
            return None
        first = self._voice["calls"][0]
        return {**first, "answers_ms": first["answers_ms"][:questions], "from": "voice_to_voice"}

    def greeting_gaps(self) -> tuple[float, ...]:
        """The stutter probes with no idle conversation: each call's greeting, heard whole, its
        longest gap between frames (seconds)."""
        calls = self._voice["calls"] if self._voice else []
        return tuple(call["greeting_max_gap_ms"] / 1000 for call in calls)


def _step_row(
    n: int, greetings: list[float], answers: list[float], missed: int, **extra: Any
) -> dict[str, Any]:
    """A ceiling step's figures; `ok` when every user heard the greeting and an answer in time."""
    ok = _in_time(greetings, answers, missed)
    return {
        "conversations": n,
        "greeting_max_ms": max(greetings, default=0) * 1000,
        "answer_median_ms": statistics.median(answers) * 1000 if answers else None,
        "answer_max_ms": max(answers, default=0) * 1000,
        "missed": missed,
        "greetings_ms": [round(g * 1000) for g in greetings],
        "answers_ms": [round(a * 1000) for a in answers],
        "ok": ok,
        **extra,
    }


async def _greeting_of(peer: Peer) -> float | None:
    """From a test peer's offer to the first sound of its greeting, once heard whole (None: no
    greeting within 20 s)."""
    try:
        await peer.utterance(peer.offer_sent_at, within=20, quiet=0.5)
    except TimeoutError:
        return None
    heard = peer.first_sound_after(peer.offer_sent_at)
    assert heard is not None
    return heard - peer.offer_sent_at


async def _ceiling_step(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[np.ndarray],
    n: int,
    rng: random.Random,
) -> dict[str, Any]:
    """N users (test peers) join one after another, then each asks one question within a 10 s
    window."""
    joined: list[tuple[Peer, dict[str, str], dict[str, Any]]] = []
    greetings: list[float] = []
    answers: list[float] = []
    missed = 0
    lost = asyncio.Event()
    try:
        for i in range(n):
            user = users[i % len(users)]
            peer, body = await _connected(client, user)
            joined.append((peer, user, body))
        for peer, _user_auth, _body in joined:
            greeted = await _greeting_of(peer)
            if greeted is None:
                missed += 1
            else:
                greetings.append(greeted)
        _judge_greetings(greetings, missed, lost)

        async def one_question(peer: Peer) -> None:
            nonlocal missed
            await asyncio.sleep(rng.uniform(0, 10))
            answered = await ask(peer, rng.choice(questions))
            if answered is None:
                missed += 1
            else:
                answers.append(answered)
            _judge_answer(answered, lost)

        await unless_lost(lost, (one_question(peer) for peer, _u, _b in joined))
    finally:
        await hang_up(client, joined, _end)
    return _step_row(n, greetings, answers, missed, stopped_early=lost.is_set())


def _in_time(greetings: list[float], answers: list[float], missed: int) -> bool:
    """The ceiling's test: nothing missed, every greeting and answer within its limit."""
    return (
        not missed
        and all(g <= GREETING_LIMIT for g in greetings)
        and all(a <= ANSWER_LIMIT for a in answers)
    )


def _judge_greetings(greetings: list[float], missed: int, lost: asyncio.Event) -> None:
    """A step whose greetings were not all heard in time has failed before its questions."""
    if not _in_time(greetings, [], missed):
        lost.set()


def _judge_answer(answered: float | None, lost: asyncio.Event) -> None:
    """An answer missed or too late fails its step there (`unless_lost`)."""
    if answered is None or not _in_time([], [answered], 0):
        lost.set()


# The shortest window a ceiling step's CPU is read over (a step stopped sooner reads none).
MEASURED_AT_LEAST = 2.0
# The canary's question, and what its answer must say.
CANARY_QUESTION, CANARY_ANSWER = 0, "life path number is"


class Light(NamedTuple):
    """What a load-user step needs beside the HTTP client: the server (its CPU), the questions
    as load users say them, and a transcriber for the canary's answer (the bench's Whisper)."""

    server: Server
    phrases: Phrases
    hear: Callable[[np.ndarray], Awaitable[str]]


def light_for(server: Server, phrases: Phrases, models: speech.SpeechModels) -> Light:
    """A `Light` whose canary is heard through `models`' Whisper."""
    return Light(server, phrases, functools.partial(transcribe, models))


async def _canary_heard(
    light: Light, canary: Canary, since: float, said: list[str]
) -> tuple[str, float]:
    """The canary's answer, decoded and transcribed (after the step's window), and its word
    errors over the words the bot's transcript says it said."""
    heard = await light.hear(canary.speech_since(since))
    reference = [w for text in said for w in normalise(text)]
    errors = word_errors(reference, normalise(heard)) / max(1, len(reference))
    return heard, errors


async def _light_ceiling_step(
    light: Light,
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    n: int,
    rng: random.Random,
) -> dict[str, Any]:
    """As `_ceiling_step`, with N - 1 load users (`tests/kit/load.py`) and a canary, a load user
    whose answer (CANARY_QUESTION) must say CANARY_ANSWER in the bot's transcript; its speech,
    decoded and transcribed once the step has been measured, is reported against what the
    transcript says (`canary_heard_errors`); the load generator's CPU and the server's, while
    the users talk."""
    ticker = Ticker()
    ticker.start()
    light_users: list[Joined] = []
    canary = Canary(ticker, light.phrases)
    joined: list[Joined] = []
    greetings: list[float] = []
    answers: list[float] = []
    right: bool | None = None  # the canary's answer, once checked
    answer: tuple[float, list[str]] | None = None  # when the canary's answer began, its text
    lost = asyncio.Event()  # set at the step's first failure: its questions stop there
    cost: dict[str, float] = {}
    split: dict[str, list[int]] = {}
    heard: dict[str, Any] = {}
    try:
        _e, _w, body = await _start(client, users[0])
        joined = [(canary, users[0], body)]
        await canary.connect(client, body["daily_room_url"], body["daily_token"])
        light_users = await connect_load_users(
            client, users, ticker, light.phrases, n - 1, _start, 1, into=joined
        )
        greetings, missed = await greeted(joined)
        _judge_greetings(greetings, missed, lost)
        # How the calls were shared between the workers (one that carries more fails first).
        if share := await light.server.bots_per_worker():
            split["bots_per_worker"] = share
        pids = await light.server.bot_pids()
        server_before, load_before, wall = cpu_of(pids), time.process_time(), time.monotonic()
        # Where the rest of the machine's CPU went (the two workers' steps share both cores).
        neighbours_before, machine_before = neighbours_cpu(), machine_cpu()
        # In the worker mode the app's process (the API) runs no bot: its CPU apart.
        api_before = cpu_of([light.server.pid] if light.server.redis is not None else [])
        ticker.measure_lateness()

        async def canary_question() -> None:
            nonlocal missed, right, answer
            await asyncio.sleep(rng.uniform(0, 10))
            lines = len(canary.lines)
            answered = await canary.ask(CANARY_QUESTION)
            _judge_answer(answered, lost)
            if answered is None:
                missed += 1
                return
            answers.append(answered)
            await canary.quiet(QUIET)
            said = canary.said_since(lines)
            right = any(CANARY_ANSWER in text for text in said)
            answer = (canary.answer_began, said)
            if not right:
                lost.set()

        async def load_question(load_user: LoadUser) -> None:
            nonlocal missed
            await asyncio.sleep(rng.uniform(0, 10))
            answered = await load_user.ask(rng.randrange(len(light.phrases.questions)))
            if answered is None:
                missed += 1
            else:
                answers.append(answered)
            _judge_answer(answered, lost)

        await unless_lost(
            lost, [canary_question(), *(load_question(u) for u, _a, _b in light_users)]
        )
        # The CPU over the question window, or the part of it before the step was stopped (the
        # load generator's cost is its users' packets, the same all through the window); none
        # when it stopped before its questions.
        elapsed = time.monotonic() - wall
        if elapsed >= MEASURED_AT_LEAST:
            cost = {
                "load_generator_percent_of_a_core": (time.process_time() - load_before)
                / elapsed
                * 100,
                "server_percent_of_a_core": cpu_since(server_before) / elapsed * 100,
                "database_and_redis_percent_of_a_core": neighbours_since(neighbours_before)
                / elapsed
                * 100,
                "machine_percent_of_a_core": (machine_cpu() - machine_before) / elapsed * 100,
                "ticker_late_max_ms": ticker.late_max * 1000,
            }
            if api_before:
                cost["api_percent_of_a_core"] = cpu_since(api_before) / elapsed * 100
    finally:
        await hang_up(client, joined, _end)
        if not joined:  # its conversation never started: its connection is closed here
            await canary.close()
        await ticker.close()
    if right and answer is not None:
        # Reported, not judged: near the ceiling the loaded bot's speech, as heard, is misheard
        # by Whisper tiny by 60 to 125 % of its words ("... truth, truth, truth ...", 2026-12-07)
        # where its transcript and its timing were right; judged, that decided the worker
        # mode's ceiling (34 where 38 answered in time). The ceiling's measure stays time.
        text, errors = await _canary_heard(light, canary, *answer)
        heard = {
            "canary_heard": text,
            "canary_heard_errors": errors,
            # Whether the load generator (its ticker late) or the bot (its packets apart while
            # the ticker kept time) broke the speech up.
            "canary_wait_max_ms": canary.longest_wait(answer[0]) * 1000,
        }
    row = _step_row(
        n,
        greetings,
        answers,
        missed,
        canary_right=right,
        stopped_early=lost.is_set(),
        **cost,
        **split,
        **heard,
    )
    row["ok"] = row["ok"] and right is True
    return row


async def no_bots_left(client: httpx.AsyncClient, within: float = 60) -> None:
    """Wait until the server runs no bot (its /health count; a worker's from its last
    heartbeat), then a second more: a step's bots end after its users hang up, and ending many
    of them (the pipelines' teardown, the lines and ends written) takes a core seconds, which
    the next step's joins would otherwise pay for."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not (await client.get("/health")).json().get("bots"):
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1)


# The ceiling search (`next_level`): levels doubled from FIRST until one fails, then bisected.
FIRST_LEVEL, MAX_LEVEL = 4, 64
# The load-user search starts higher: its ceilings were 36 embedded and 42 with two workers
# (bench/README.md), so the levels below 24 only ever held, and 64 (answers 15 s late) cost
# the most of all; from 24 by half again: 24, 36, 54, then bisected (tonight's embedded
# ceilings of 30 to 36 took a step less than from 24, 48). Where the search has a guess
# (`plan.ceiling_guess`: the default run's modes) it starts there instead.
LIGHT_FIRST_LEVEL, LIGHT_GROW = 24, 1.5
# Its largest level: two workers held 63 and 64 at 2026-12-07 noon, when 64 was the top (a
# ceiling at the top is a floor, reported as "at least"); a load user costs the bench a third
# of a percent of a core, so 96 of them cost it about a third of one.
LIGHT_MAX_LEVEL = 96
# A load-user search (but a quick one) on a machine that has not yet said the answers begins
# with a step this size that is not judged: the first calls to ask for a sentence wait for its
# first synthesis (a new pinned worker's first 16 calls: p50 2902 ms, then 17 held at 1081 ms).
# Once a part of the run has asked every question (ANSWERS_STORED), the run's store of
# synthesised sentences holds them, and every later server starts with them (bench/README.md,
# "Sentences kept on disk").
WARM_UP_LEVEL = 16
ANSWERS_STORED = [False]


async def concurrency_ceiling(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[np.ndarray],
    light: Light | None = None,
    first: int = FIRST_LEVEL,
    most: int = MAX_LEVEL,
    guess: int | None = None,
    warm_up: int = 0,
) -> dict[str, Any]:
    """The largest N at which every user hears the greeting and an answer in time, searched by
    doubling then bisecting (`next_level`), or from a `guess` (`level_near`); with `light`, N - 1
    of them load users (`questions`: QUESTIONS as the users say them), after a step of `warm_up`
    conversations that is not judged (0: none)."""
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    ok: dict[int, bool] = {}
    warm: dict[str, Any] | None = None
    if warm_up and light is not None:
        # A process's first questions cost more than the same questions later (2026-12-06: the
        # same 33 users on two new workers, four steps in a row: answers p50 2644, 1011, 697,
        # 522 ms): a search started near the ceiling on a new server failed there for that.
        await no_bots_left(client)
        fresh = await _users(client, min(warm_up, len(users)))
        warm = await _light_ceiling_step(light, client, fresh, warm_up, rng)
        print(
            f"  warm-up (not judged), {warm_up} conversations: answers p50 "
            f"{warm['answer_median_ms'] or 0:.0f} ms max {warm['answer_max_ms']:.0f} ms",
            flush=True,
        )
    grow = LIGHT_GROW if light is not None else 2
    while (
        n := next_level(ok, first, most, grow=grow)
        if guess is None
        else level_near(ok, guess, most)
    ) is not None:
        # New users for each step: a user who called before is greeted "Welcome back, ... Last
        # time we looked at ..." (sentences synthesised afresh for each set of topics), so a
        # step after another would measure other greetings than the first step (2026-12-06:
        # a pinned worker greeted 12 new users within 0.36 s, the same 12 again in up to 3.7 s).
        fresh = await _users(client, min(n, len(users)))
        await no_bots_left(client)
        if light is None:
            row = await _ceiling_step(client, fresh, questions, n, rng)
        else:
            row = await _light_ceiling_step(light, client, fresh, n, rng)
        rows.append(row)
        ok[n] = row["ok"]
        cost = (
            f", load {row['load_generator_percent_of_a_core']:.0f} % of a core"
            f" ({row['load_generator_percent_of_a_core'] / n:.2f} % a user),"
            f" server {row['server_percent_of_a_core']:.0f} %"
            + (
                f" (the app's process {row['api_percent_of_a_core']:.0f} % more)"
                if "api_percent_of_a_core" in row
                else ""
            )
            + (
                f", the database and Redis {row['database_and_redis_percent_of_a_core']:.0f} %,"
                f" the machine {row['machine_percent_of_a_core']:.0f} % of"
                f" {100 * (os.cpu_count() or 1)}"
                if "machine_percent_of_a_core" in row
                else ""
            )
            if "load_generator_percent_of_a_core" in row
            else ""
        ) + (
            f", bots per worker {'/'.join(map(str, row['bots_per_worker']))}"
            if row.get("bots_per_worker")
            else ""
        )
        verdict = "ok" if row["ok"] else "too slow"
        if row.get("canary_right") is False:
            verdict = "wrong (the canary's answer)"
        if row["stopped_early"]:
            verdict += " (stopped at its first failure)"
        print(
            f"  ceiling{' (load users)' if light else ''}, {n} conversations: {verdict}, "
            f"answers p50 {row['answer_median_ms'] or 0:.0f} ms max {row['answer_max_ms']:.0f} ms"
            f"{cost}"
            + (
                f"; the canary's answer heard {row['canary_heard_errors']:.0%} off (its "
                f"longest wait for a packet {row['canary_wait_max_ms']:.0f} ms, the ticker "
                f"{row.get('ticker_late_max_ms', 0):.0f} ms late at most): {row['canary_heard']!r}"
                if "canary_heard" in row
                else ""
            ),
            flush=True,
        )
    ceiling = max((n for n, good in ok.items() if good), default=0)
    found: dict[str, Any] = {
        "ceiling": ceiling,
        # The search's largest level held: the ceiling is at least that, not found.
        "at_least": ceiling >= most,
        "steps": sorted(rows, key=lambda r: r["conversations"]),
        **({"warm_up": warm} if warm else {}),
    }
    if found["at_least"]:
        print(f"  {most} held, the search's top: the ceiling is at least that", flush=True)
    # The warm-up's load users cost the load generator what any step's do: a point of the line
    # (`load_user_cost` leaves out a step that measured no CPU).
    measured = [*rows, *([warm] if warm else [])]
    if light is not None and (marginal := load_user_cost(measured)) is not None:
        found["load_user_percent_of_a_core"], found["load_fixed_percent_of_a_core"] = marginal
        print(
            f"  one more load user: {marginal[0]:.2f} % of a core (with none, the canary and the "
            f"bench: {marginal[1]:.0f} %)",
            flush=True,
        )
    return found


async def light_ceiling(
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    questions: list[np.ndarray],
    light: Light,
    quick: bool,
    guess: int | None = None,
) -> dict[str, Any]:
    """The `ceiling-light` search (load users and a canary), as each mode and the worker-scaling
    runs do it (`guess`: the ceiling expected, where one is known)."""
    most = 16 if quick else LIGHT_MAX_LEVEL
    found = await concurrency_ceiling(
        client,
        users,
        questions,
        light=light,
        first=2 if quick else LIGHT_FIRST_LEVEL,
        most=most,
        guess=None if guess is None else min(guess, most),
        warm_up=0 if quick or ANSWERS_STORED[0] else WARM_UP_LEVEL,
    )
    ANSWERS_STORED[0] = True  # its users asked every question
    return found


def _machine() -> str:
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, {platform.platform()}"


# How many times each network call asks the questions (`--network-rounds`).
NETWORK_ROUNDS = [1]
# How many network calls run at the same time (`--network-at-once`).
NETWORK_AT_ONCE = [NETWORK_CALLS_AT_ONCE]
# How the users' peers hear the bot (`--ears`): through aiortc's jitter buffer, or through our
# adaptive one (as a browser's NetEQ adapts); the network part runs once per choice.
EARS = ("aiortc", "adaptive")
PEER_EARS = ["aiortc"]
NETWORK_EARS: list[str] = ["aiortc"]
# The BARGE_IN settings the bargein part runs (`--barge-in`), each with a server of its own.
BARGE_IN = ("vad", "hold")
BARGE_IN_VARIANTS = list(BARGE_IN)
# The network profiles the bargein part runs each variant under (`--barge-in-networks`): those
# of the network part that impair a link (no blackout, no address change).
BARGE_IN_NETWORKS = {
    network_slug(p.name): p for p in NETWORK_PROFILES if not (p.blackout or p.address_change)
}
BARGE_IN_CHOSEN_NETWORKS = ["clean"]
MODES = ("embedded", "workers")
# The app's limits, raised for the run: the benchmark finds where the service stops keeping up.
SETTINGS = {
    "MAX_BOTS": "200",
    "MAX_ACTIVE_CONVERSATIONS_PER_USER": "1000",
    "JOIN_TIMEOUT_SECONDS": "600",
}


# How long each part took, in seconds ("embedded latency", "bargein"), printed as each ends and
# saved with the figures: what `make bench` spends its time on.
PART_SECONDS: dict[str, int] = {}
MODE = [""]  # the mode the parts now run in ("": a part that runs once, not per mode)


@contextlib.contextmanager
def timed(part: str) -> Iterator[None]:
    began = time.monotonic()
    try:
        yield
    finally:
        key = f"{MODE[0]} {part}".strip()
        PART_SECONDS[key] = round(time.monotonic() - began)
        print(f"  ({key}: {PART_SECONDS[key]} s)", flush=True)


def _idle_levels(quick: bool, few: bool, every: bool) -> tuple[int, ...]:
    """The idle table's levels: a smoke check's, FEWER's (a later mode of the default run),
    every level (`--all`, `--only`) or the default run's first mode's."""
    if quick:
        return (0, 1, 5)
    if few:
        return FEWER.idle_levels
    return IDLE_LEVELS if every else DEFAULT_IDLE_LEVELS


async def measure_mode(
    server: Server,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    parts: tuple[str, ...],
    quick: bool,
    figures: dict[str, Any],
    save: Callable[[], None],
    relay: UdpRelay | None = None,
    voice_calls: int = 3,
    guess: int | None = None,
    fewer: tuple[str, ...] = (),
    at_once_rounds: int = 4,
    every_idle_level: bool = True,
) -> None:
    """The parts chosen, against one running app (one mode), into `figures` (`relay`: the
    impairing relay before coturn the app's TURN_URLS name, for browser-network;
    `voice_calls`: the latency part's voice-to-voice calls; `guess`: where the ceiling-light
    search starts (`plan.ceiling_guess`), None: from LIGHT_FIRST_LEVEL; `fewer`: the parts run
    with FEWER samples; `at_once_rounds`: the others' atonce rounds; `every_idle_level`: the
    idle table at every level, else at DEFAULT_IDLE_LEVELS)."""
    runs = 10 if quick else 30
    users = await _users(client, 20)
    pooled = Pooled()  # the latency part's calls, once it has run
    if "latency" in parts:
        with timed("latency"):
            print(
                "  figures 1-4: start, bot ready, signalling, greeting, voice to voice", flush=True
            )
            latencies = await start_latency(client, users, runs)
            latencies |= await greeting_latency(client, users, runs // 3)
            voice = await voice_to_voice(client, users, models, voice_calls)
            ANSWERS_STORED[0] = True  # every question asked: the run's store holds the answers
            pooled = Pooled(voice)
            latencies |= {k: v for k, v in voice.items() if k != "calls"}
            figures["latency"] = {k: summary(v) for k, v in latencies.items()}
            save()
    questions = [synthesise(models, q) for q in QUESTIONS]
    phrases = Phrases(questions)  # the load users' Opus, encoded once for every part
    if "idle" in parts:
        few = "idle" in fewer
        with timed("idle"):
            print(
                "  figures 5 and 6: idle cost, idle conversations before a greeting stutters",
                flush=True,
            )
            # A call before and right after the load shows whether it left work behind.
            figures["next_call"] = pooled.call_on_an_idle_server(2) or await next_call(
                client, users[0], questions[:2], _connected, _end
            )
            figures |= await idle_and_stutter(
                server,
                client,
                users,
                phrases,
                _connected,
                _start,
                _end,
                levels=_idle_levels(quick, few, every_idle_level),
                probes=3 if quick else FEWER.idle_probes if few else 5,
                gaps_at_zero=pooled.greeting_gaps(),
                test_peers=not few or FEWER.idle_test_peers,
                probes_at_zero=FEWER.idle_probes_at_zero if few else None,
            )
            if not few or FEWER.idle_after_load:
                figures["after_load"] = await next_call(
                    client, users[0], questions[:2], _connected, _end
                )
            save()
    if "ceiling" in parts:
        with timed("ceiling"):
            print("  figure 6: concurrency ceiling (test peers)", flush=True)
            figures["ceiling"] = await concurrency_ceiling(
                client, users, questions, first=2 if quick else FIRST_LEVEL, most=8 if quick else 32
            )
            save()
    if "ceiling-light" in parts:
        with timed("ceiling-light"):
            print("  figure 6b: concurrency ceiling (load users and a canary)", flush=True)
            figures["ceiling_light"] = await light_ceiling(
                client, users, questions, light_for(server, phrases, models), quick, guess
            )
            save()
    if "talking" in parts:
        with timed("talking"):
            print("  the server's CPU per idle and per talking conversation minute", flush=True)
            n, minutes = talking_size(quick, figures.get("ceiling_light"))
            figures["talking"] = await talking_cost(
                server, client, users, phrases, n, minutes, _start, _end
            )
            save()
    if "atonce" in parts:
        with timed("atonce"):
            print("  N users ask at once", flush=True)
            few = "atonce" in fewer
            rounds = FEWER.at_once_rounds if few else at_once_rounds
            one = pooled.one_user_at_once()
            levels = FEWER.at_once_levels if few else AT_ONCE_LEVELS
            rows = await at_once(
                client,
                users,
                questions,
                _connected,
                _end,
                levels=tuple(n for n in levels if not (one and n == 1)),
                rounds=rounds,
            )
            figures["at_once"] = [one, *rows] if one else rows
            save()
    if "network" in parts:
        with timed("network"):
            print("  calls over impaired networks", flush=True)
            few = "network" in fewer
            spoken = list(zip(QUESTIONS, questions, strict=True)) * NETWORK_ROUNDS[0]
            if not few:  # offline, the same in every mode
                figures["network_buffers"] = buffer_replay()
            figures["network"] = []
            profiles = chosen_networks(FEWER.network if few else None)
            for ears in NETWORK_EARS:
                PEER_EARS[0] = ears
                rows = await network_profiles(
                    client,
                    users,
                    spoken,
                    _connected,
                    _end,
                    profiles=profiles,
                    at_once=NETWORK_AT_ONCE[0],
                )
                for row in rows:
                    row["ears"] = ears
                    if len(NETWORK_EARS) > 1:
                        row["profile"] = f"{row['profile']} ({ears} ears)"
                figures["network"] += rows
            PEER_EARS[0] = "aiortc"
            save()
    if "browser-network" in parts:
        with timed("browser-network"):
            print("  the room page in Chromium under loss", flush=True)
            assert relay is not None, "browser-network needs the impaired TURN relay"
            figures["browser_network"] = await browser_profiles(relay, client, users, questions[0])
            save()


def cpus_of(run: Scaling) -> dict[str, list[int] | None]:
    """A scaling run's cores, as its figures keep them."""
    return {
        f"{what}_cpus": sorted(cpus) if cpus is not None else None
        for what, cpus in (
            ("worker", run.worker_cpus),
            ("api", run.api_cpus),
            ("bench", run.bench_cpus),
        )
    }


async def worker_scaling(
    models: speech.SpeechModels,
    quick: bool,
    save: Callable[[], None],
    known: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Issue 20's ratio in one run: the load-user ceiling of the service on one core (one
    worker and the app's process pinned to it, the load generator on the other), then with two
    workers on the two cores (nothing pinned: the load generator shares them). `known`: a run's
    search already made in this run by the worker mode's `ceiling-light` part (WORKERS=2,
    nothing pinned: the same server and load generator), taken instead of searching again."""
    if len(os.sched_getaffinity(0)) < 2:
        print("  worker scaling needs two cores: not run", flush=True)
        return {"skipped": "fewer than two cores"}
    questions = [synthesise(models, q) for q in QUESTIONS]
    phrases = Phrases(questions)
    figures: dict[str, Any] = {}
    # The one-core search starts near the two workers' ceiling over SCALING_GUESS, when
    # that is known (it took six steps from LIGHT_FIRST_LEVEL, two or three from there). Where
    # every level below one that holds holds too, the guess decides how many steps the search
    # takes, not what it finds; near the ceiling a step can pass or fail by one answer's luck,
    # whichever search makes it.
    guesses = {1: round(known[2]["ceiling"] / SCALING_GUESS)} if known.get(2) else {}
    for run in SCALING:
        workers = run.workers
        where = where_it_ran(run.worker_cpus, run.api_cpus, run.bench_cpus)
        if workers in known and run == Scaling(workers, None, None, None):
            print(
                f"worker scaling: WORKERS={workers}, {where}: the worker mode's ceiling-light "
                "search of this run",
                flush=True,
            )
            # Its steps are the worker mode's (`modes.workers.ceiling_light`): not copied.
            figures[str(workers)] = {
                **cpus_of(run),
                "from_the_worker_mode": True,
                "ceiling": known[workers]["ceiling"],
                "at_least": known[workers].get("at_least", False),
            }
            continue
        print(f"worker scaling: WORKERS={workers}, {where}", flush=True)
        with tempfile.TemporaryDirectory() as tmp, pinned(run.bench_cpus):
            async with (
                serve(
                    Path(tmp),
                    "workers",
                    workers,
                    SETTINGS,
                    api_cpus=run.api_cpus,
                    worker_cpus=run.worker_cpus,
                ) as server,
                client_of(server.url) as client,
            ):
                users = await _users(client, 20)
                found = await light_ceiling(
                    client,
                    users,
                    questions,
                    light_for(server, phrases, models),
                    quick,
                    guesses.get(workers),
                )
        figures[str(workers)] = {**cpus_of(run), **found}
        save()
    one, two = figures["1"]["ceiling"], figures["2"]["ceiling"]
    figures["ratio"] = two / one if one else None
    # Either search may have stopped at its largest level: its ceiling, and so the ratio, a bound.
    figures["ratio_at_least"] = figures["2"]["at_least"] and not figures["1"]["at_least"]
    print(f"  two workers on two cores / the service on one: {two} / {one}", flush=True)
    return figures


async def barge_in_variant(
    models: speech.SpeechModels,
    workers: int,
    variant: str,
    tries: int,
    figures: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """The bargein part's calls for one BARGE_IN, on a server of its own, one link after
    another; the variants run side by side, so each sees the other's load."""
    # One server at a time through its set-up (its own port and database).
    await asyncio.sleep(BARGE_IN_VARIANTS.index(variant) * 2)
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            serve(Path(tmp), "embedded", workers, {**SETTINGS, "BARGE_IN": variant}) as server,
            client_of(server.url) as client,
        ):
            for network in BARGE_IN_CHOSEN_NETWORKS:
                profile = BARGE_IN_NETWORKS[network]
                key = variant if profile.link.clean else f"{variant}, {profile.name}"
                print(f"  BARGE_IN={variant}, network: {network}", flush=True)
                result = await barge_in_calls(
                    client,
                    [await _user(client, i) for i in range(3)],
                    models,
                    _connected,
                    _end,
                    tries,
                    link=profile.link,
                )
                print(f"  {key}: {result}", flush=True)
                figures["barge_in"][key] = result
                figures["database"] = server.database
                save()


async def main(run: Plan, quick: bool, workers: int) -> None:
    parts = run.parts()
    print(
        "parts: "
        + "; ".join(
            f"{mode}: "
            + ", ".join(
                f"{part} (fewer)" if part in run.fewer.get(mode, ()) else part for part in p
            )
            for mode, p in run.modes.items()
        )
        + (f"; once: {', '.join(run.once)}" if run.once else ""),
        flush=True,
    )
    models = await speech.preload_speech_models()
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        # Other people's work shares these cores: the load average says how much.
        "load_average_before": os.getloadavg(),
        "workers": workers,
        "plan": {
            "modes": run.modes,
            "fewer": run.fewer,
            "once": run.once,
            "voice_calls": run.voice_calls,
        },
        "modes": {},
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{figures['date'].replace(':', '')}.json"

    def save() -> None:
        # After every part, so a part that fails does not lose the figures before it.
        out.write_text(json.dumps(figures, indent=2))

    if "stt" in parts:
        with timed("stt"):
            print("speech recognition: offline engines, latency and word error rate", flush=True)
            figures["stt"] = await asyncio.to_thread(
                stt_benchmark, models, get_settings(), run.stt_takes
            )
            save()
    if "synthesis" in parts:
        with timed("synthesis"):
            print("speech synthesis: CPU per answer, with and without the cache", flush=True)
            figures["synthesis"] = await synthesis_benchmark(models, 4 if quick else 12)
            save()
    if "bargein" in parts:
        with timed("bargein"):
            print(
                f"speaking over the bot: BARGE_IN={' and '.join(BARGE_IN_VARIANTS)} at the same "
                "time, a server each (vad: pipecat's default)",
                flush=True,
            )
            figures["barge_in"] = {}
            await asyncio.gather(
                *(
                    barge_in_variant(models, workers, variant, run.bargein_tries, figures, save)
                    for variant in BARGE_IN_VARIANTS
                )
            )
    for mode, mode_parts in run.modes.items():
        label = f"WORKERS={workers}" if mode == "workers" else "bots in the app's process"
        print(f"{mode} mode ({label})", flush=True)
        MODE[0] = mode
        with tempfile.TemporaryDirectory() as tmp:
            async with contextlib.AsyncExitStack() as stack:
                relay: UdpRelay | None = None
                turn: dict[str, str] = {}
                if "browser-network" in mode_parts:
                    relay, turn = await stack.enter_async_context(impaired_turn(Path(tmp)))
                server = await stack.enter_async_context(
                    serve(Path(tmp), mode, workers, {**SETTINGS, **turn})
                )
                client = await stack.enter_async_context(client_of(server.url))
                figures["database"] = server.database
                figures["modes"][mode] = {}
                embedded = figures["modes"].get("embedded", {}).get("ceiling_light")
                guess = (
                    None
                    if quick
                    else ceiling_guess(mode, workers, (embedded or {}).get("ceiling") or None)
                )
                await measure_mode(
                    server,
                    client,
                    models,
                    mode_parts,
                    quick,
                    figures["modes"][mode],
                    save,
                    relay,
                    voice_calls=run.voice_calls[mode],
                    guess=guess,
                    fewer=run.fewer.get(mode, ()),
                    at_once_rounds=run.at_once_rounds,
                    every_idle_level=run.every_idle_level,
                )
    if "scaling" in parts:
        MODE[0] = ""
        with timed("scaling"):
            light = figures["modes"].get("workers", {}).get("ceiling_light")
            known = {workers: light} if light is not None else {}
            figures["scaling"] = await worker_scaling(models, quick, save, known)
            save()
    if "process" in parts:
        with timed("process"):
            print("figure 7: a process per bot", flush=True)
            from bench.process_per_bot import process_per_bot

            other = await process_per_bot(
                # Up to 10: each process holds its own models (~630 MB, 10 s to spawn two), so
                # the slope is plain by then and 20 would take 13 GB and minutes more.
                levels=(0, 1, 2) if quick else (0, 1, 5, 10),
                runs=3 if quick else 5,
            )
            figures["process_per_bot"] = {
                "latency": {
                    k: summary(other[k])
                    for k in ("bot_ready", "greeting_first_audio")
                    if k in other
                },
                "idle": other["idle"],
                "ended_early": other["ended_early"],
            }
    figures["load_average_after"] = os.getloadavg()
    figures["part_seconds"] = PART_SECONDS
    save()
    report(figures)
    print(f"\nwritten to {out}")


def _choose(parser: argparse.ArgumentParser, value: str, known: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = set(chosen) - set(known)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
    return chosen


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    parser.add_argument(
        "--only",
        help=f"comma-separated parts to run in every mode named, every sample, of: "
        f"{', '.join(PARTS)} (default: the goals' parts in every mode, the rest in the first "
        "mode, about 30 minutes: bench/plan.py)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every part in every mode, every sample (about 44 minutes): all but ceiling, "
        "whose test peers take the cores the server needs (ceiling-light is the capacity "
        "figure), and browser-network, which needs Chromium and coturn (`make chromium "
        "coturn`); name those with --only",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated modes the parts run in, of: embedded (bots in the app's "
        "process), workers (bots in worker processes through Redis) (default: both)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="WORKERS in the worker mode (default: 2)"
    )
    parser.add_argument(
        "--fec-sender",
        action="store_true",
        help="the users' peers send Opus in-band FEC, as browsers do (network part)",
    )
    parser.add_argument(
        "--network-profiles",
        help="comma-separated network profiles to run (clean always runs first), of: "
        + ", ".join(network_slug(p.name) for p in NETWORK_PROFILES)
        + " (default: all)",
    )
    parser.add_argument(
        "--network-at-once",
        type=int,
        default=NETWORK_CALLS_AT_ONCE,
        help="how many network calls run at the same time, clean among the first "
        f"(default: {NETWORK_CALLS_AT_ONCE}; 1: one after another)",
    )
    parser.add_argument(
        "--ears",
        default="aiortc",
        help="comma-separated, how the network part's peers hear the bot, of: aiortc (its "
        "jitter buffer, deep for good after a loss), adaptive (ours, as a browser's NetEQ "
        "adapts); each runs every profile (default: aiortc)",
    )
    parser.add_argument(
        "--network-rounds",
        type=int,
        default=1,
        help="the questions asked this many times in each network call (default: 1)",
    )
    parser.add_argument(
        "--barge-in",
        default=",".join(BARGE_IN),
        help="comma-separated BARGE_IN settings the bargein part runs, of: vad, hold "
        "(default: both)",
    )
    parser.add_argument(
        "--barge-in-networks",
        default="clean",
        help="comma-separated network profiles the bargein part runs each BARGE_IN under, in "
        f"order, of: {', '.join(BARGE_IN_NETWORKS)} (default: clean)",
    )
    parser.add_argument(
        "--barge-in-tries",
        type=int,
        help="barge-ins, backchannels and paused requests per bargein call (default: 4; 6 "
        "with --all or --only, 3 with --quick)",
    )
    args = parser.parse_args()
    BARGE_IN_VARIANTS[:] = _choose(parser, args.barge_in, BARGE_IN)
    BARGE_IN_CHOSEN_NETWORKS[:] = _choose(parser, args.barge_in_networks, tuple(BARGE_IN_NETWORKS))
    NETWORK_ROUNDS[0] = args.network_rounds
    NETWORK_AT_ONCE[0] = max(1, args.network_at_once)
    NETWORK_EARS[:] = _choose(parser, args.ears, EARS)
    if args.network_profiles:
        choose_network(args.network_profiles)
    if args.fec_sender:
        send_fec()
    if args.all and args.only:
        parser.error("--all and --only: choose one")
    run = plan(
        _choose(parser, args.only, PARTS) if args.only else None,
        _choose(parser, args.modes, MODES),
        quick=args.quick,
        everything=args.all,
        bargein_tries=args.barge_in_tries,
    )
    # The run's servers share one store of synthesised sentences on disk (TTS_STORE_DIR), new
    # for the run: every run starts from a machine that has said nothing, whatever an earlier
    # run or `make run` left in backend/data/synthesis; its later servers start as a machine's
    # next worker does, with what the earlier ones said.
    with tempfile.TemporaryDirectory(prefix="bench-synthesis-") as store:
        os.environ["TTS_STORE_DIR"] = store
        asyncio.run(main(run, args.quick, args.workers))
