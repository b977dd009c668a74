"""What one `python -m bench.run` measures: the parts in each mode, the parts run once, and the
samples of those whose samples are not one of issue 20's goals.

Three runs, from the same parts:
- `--all`: every part but those that need something the bench does not start (`ceiling`,
  `browser-network`) in every mode named, every sample (about 44 minutes on 2 cores: 41.3
  without the process part on 2026-12-07);
- the default (`make bench`, about 28 minutes on 2 cores): every part in every mode named.
  Those behind issue 20's goals (latency's starts, signalling and greetings, ceiling-light,
  talking: the idle and talking cost per conversation) with all their samples in every mode,
  the scaling ratio and synthesis; the parts whose figures are not goals (idle's table, stutter
  and next call, atonce, network: the same media path, alike in both modes on 2026-12-05) with
  all their samples in the first mode named and fewer in the others (FEWER), the voice-to-
  voice calls of the other modes one instead of three, fewer bargein tries, stt takes and
  atonce rounds; the
  process part (a design the service does not run) only with `--all` or `--only`;
- `--only`: the parts named, in every mode named, every sample;
and `--quick` as a smoke check: fewer samples everywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

PARTS = (
    "latency",
    "idle",
    "ceiling",
    "ceiling-light",
    "talking",
    "scaling",
    "atonce",
    "process",
    "stt",
    "synthesis",
    "network",
    "browser-network",
    "bargein",
)
# The parts measured against one running app, once per mode; the others run once.
PER_MODE = (
    "latency",
    "idle",
    "ceiling",
    "ceiling-light",
    "talking",
    "atonce",
    "network",
    "browser-network",
)
# Parts run only when named (`--only`): browser-network needs Chromium and coturn; ceiling's
# test peers (each encodes and decodes) take the cores the server needs, so it measures the
# bench, and ceiling-light is the capacity figure (bench/README.md).
ONLY_WHEN_NAMED = ("browser-network", "ceiling")
# Not in the default run, in `--all`: a process per bot, the pipecat examples' design, which
# the service does not run (its figures have not moved since 2026-11-23).
ONLY_WITH_ALL = ("process",)
# The default run's parts with every sample in every mode: their figures are issue 20's goals
# per mode (latency: the dispatch's cost in starts, bot ready and signalling; the ceiling; the
# idle and talking cost per conversation). The other per-mode parts have every sample in the
# first mode named and fewer in the others.
IN_EVERY_MODE = ("latency", "ceiling-light", "talking")


class Fewer(NamedTuple):
    """The samples of the parts whose figures are not goals, in the default run's modes after
    the first: the same measures, fewer points (about 3 minutes instead of 7.5)."""

    idle_levels: tuple[int, ...] = (0, 5, 30)  # the table's ends, and 5 for the slope's
    idle_probes: int = 3  # new greetings heard for the stutter at each level probed
    # With no idle conversation: those the latency part heard (its one voice-to-voice call).
    idle_probes_at_zero: int = 1
    idle_test_peers: bool = False  # the test peers' row: the load users' cost beside theirs
    idle_after_load: bool = False  # a call right after the idle part: did it leave work behind
    at_once_levels: tuple[int, ...] = (5,)
    at_once_rounds: int = 2
    # The network profiles (bench/network.py's slugs; clean is always first): the two loss
    # goals of issue 19, a blackout the client rides out and a network change.
    network: tuple[str, ...] = (
        "3-loss-40-15-ms",
        "10-loss-60-30-ms",
        "5-s-blackout",
        "address-change",
    )


FEWER = Fewer()
# The idle table's levels in the default run's first mode (every level, 0 1 5 10 20 30, with
# `--all` and `--only`): its ends, 5 for the slope's, and 20; the levels 1 and 10 took 21 s
# each (2026-12-08), the table is a line through them (0.4, 4.8, 9.6, 16.9, 24.9, 34.8 % of a
# core that night), and the default run is kept under 30 minutes.
DEFAULT_IDLE_LEVELS = (0, 5, 20, 30)


@dataclass(frozen=True)
class Plan:
    """The parts in each mode (in the order named), the parts run once, and the samples."""

    modes: dict[str, tuple[str, ...]]
    # Per mode, the parts of `modes` run with FEWER samples (the default run's later modes).
    fewer: dict[str, tuple[str, ...]]
    once: tuple[str, ...]
    voice_calls: dict[str, int]  # the latency part's voice-to-voice calls, per mode
    bargein_tries: int
    stt_takes: int
    at_once_rounds: int  # the atonce part's questions at each level (FEWER's in later modes)
    every_idle_level: bool  # the idle table at every level (else DEFAULT_IDLE_LEVELS)

    def parts(self) -> tuple[str, ...]:
        """Every part that runs, in PARTS' order."""
        chosen = set(self.once).union(*self.modes.values())
        return tuple(p for p in PARTS if p in chosen)


def plan(
    only: tuple[str, ...] | None,
    modes: tuple[str, ...],
    *,
    quick: bool = False,
    everything: bool = False,
    bargein_tries: int | None = None,
) -> Plan:
    """The run asked for: `only` the parts named (None: the default run, or with `everything`
    `--all`), in `modes`; `bargein_tries` as `--barge-in-tries` says (None: the run's own)."""
    full = everything or only is not None  # every part named runs everywhere, every sample
    if only is None:
        skipped = ONLY_WHEN_NAMED + (() if everything else ONLY_WITH_ALL)
        only = tuple(p for p in PARTS if p not in skipped)
    only = tuple(p for p in PARTS if p in only)  # the order they run in
    per_mode: dict[str, tuple[str, ...]] = {}
    fewer: dict[str, tuple[str, ...]] = {}
    calls: dict[str, int] = {}
    for i, mode in enumerate(modes):
        first = i == 0
        per_mode[mode] = tuple(p for p in only if p in PER_MODE)
        fewer[mode] = tuple(
            p for p in per_mode[mode] if not (full or first or quick or p in IN_EVERY_MODE)
        )
        calls[mode] = 1 if quick else 3 if full or first else 1
    if quick:
        tries, takes, rounds = 3, 1, 2
    else:
        tries, takes, rounds = (6, 5, 4) if full else (4, 3, 3)
    return Plan(
        modes={mode: parts for mode, parts in per_mode.items() if parts},
        fewer={mode: parts for mode, parts in fewer.items() if parts},
        once=tuple(p for p in only if p not in PER_MODE),
        voice_calls=calls,
        bargein_tries=bargein_tries or tries,
        stt_takes=takes,
        at_once_rounds=rounds,
        every_idle_level=full,
    )


class Scaling(NamedTuple):
    """One of the worker-scaling part's runs: how many workers, and the CPU cores each process
    may run on (None: any core)."""

    workers: int
    worker_cpus: set[int] | None
    api_cpus: set[int] | None  # the app's process: the API, part of the service measured
    bench_cpus: set[int] | None  # this process: the load generator and its canary


# The worker-scaling part's two runs: the service (the app's process and its worker) on one
# core, the load generator on the other; then the service on both cores (two workers), sharing
# them with the load generator. Until 2026-12-07 the one-worker run had the app's process on the
# load generator's core, outside the one core measured, where the two workers' run has it on
# theirs. The app's process takes about 1 % of a core while load users ask; interleaved runs
# gave the same one-core ceilings either way within their noise (bench/README.md "The service
# on one core"): the change is what is measured, not the figure.
SCALING: tuple[Scaling, ...] = (
    Scaling(1, worker_cpus={0}, api_cpus={0}, bench_cpus={1}),
    Scaling(2, worker_cpus=None, api_cpus=None, bench_cpus=None),
)


# Where a mode's load-user ceiling search starts (`tests/kit/load.level_near`: the guess, then
# away from it until the ceiling is bracketed, then bisected). The embedded mode's: near what
# these 2-core machines held on 2026-12-07 (30 to 38 in 13 of 16 runs, 24 to 45 in all; 32 to
# 34 in the three runs from the guess): from there a search took three or four steps where
# doubling by half from 24 took five or six (40 s each); a machine far from it takes more steps,
# not another ceiling. The worker mode's (WORKERS=2): the embedded
# ceiling of the same run times WORKERS_GUESS (its ceiling over the embedded one with the
# workers warm: 38 / 27 to 50 / 36 on 2026-12-07), or EMBEDDED_GUESS's when the run has no
# embedded ceiling.
EMBEDDED_GUESS, WORKERS_GUESS = 34, 1.4
# The worker mode's guess kept within this share of EMBEDDED_GUESS x WORKERS_GUESS (48): one
# run's embedded ceiling is one search's, and one search moves by a third within the hour
# (bench/README.md "The service on one core"). On 2026-12-07, night, the embedded mode held 22
# where two workers then held 47: 1.4 x 22 made the worker search start at 31 and take eight
# steps (33.6 minutes in all); from 38 it takes five. Two workers held 28 to 65 on 2026-12-07
# (38 to 55 in most runs): the bounds keep what the embedded ceiling says of the machine's
# hour, not its outliers.
WORKERS_GUESS_WITHIN = (0.8, 1.25)
# Two workers' ceiling over the one-core service's, as measured on warm processes (44 / 32 and
# 48 / 28 on 2026-12-07 morning, 58 to 65 against 33 to 47 at noon: bench/README.md; the goal
# 1.6): where the scaling part's one-core search starts, from the worker mode's ceiling.
SCALING_GUESS = 1.5


def ceiling_guess(mode: str, workers: int, embedded: int | None = None) -> int | None:
    """Where `mode`'s load-user ceiling search starts, given the embedded mode's ceiling in
    this run (None: not measured; the worker mode's guess from it within WORKERS_GUESS_WITHIN);
    None: no guess (a worker mode of other than two workers), the search doubles by half from
    its first level."""
    if mode == "embedded":
        return EMBEDDED_GUESS
    if workers != 2:
        return None
    usual = EMBEDDED_GUESS * WORKERS_GUESS
    low, high = (usual * share for share in WORKERS_GUESS_WITHIN)
    return round(min(max((embedded or EMBEDDED_GUESS) * WORKERS_GUESS, low), high))


def where_it_ran(
    worker_cpus: Collection[int] | None,
    api_cpus: Collection[int] | None,
    bench_cpus: Collection[int] | None,
) -> str:
    """Where a worker-scaling run's processes ran: the cores each was pinned to."""
    named = [
        (what, cpus)
        for what, cpus in (
            ("the workers", worker_cpus),
            ("the app's process", api_cpus),
            ("the load generator", bench_cpus),
        )
        if cpus is not None
    ]
    if not named:
        return "nothing pinned"
    return ", ".join(f"{what} on core {','.join(map(str, sorted(cpus)))}" for what, cpus in named)


# The talking part's conversation-minutes (16 users for 2 minutes, until 2026-12-06), spread
# over more users for less time when the ceiling says the server holds them: as many questions
# and as much of the server's CPU to divide, in less of the bench's time. TALKING_SHARE of the
# ceiling (half until 2026-12-07, late): a user asks every ~15 s, where a ceiling step's users
# each ask within 10 s, so two thirds of the ceiling ask at under half a step's pace.
TALKING_CONVERSATION_MINUTES, TALKING_USERS, TALKING_SHARE = 32, (16, 32), 2 / 3


def talking_size(quick: bool, ceiling: dict[str, Any] | None) -> tuple[int, float]:
    """The talking part's users and minutes: TALKING_SHARE of this mode's load-user ceiling
    (users asking every ~15 s, not all at once as in its steps), within TALKING_USERS, for
    TALKING_CONVERSATION_MINUTES in all."""
    if quick:
        return 8, 1.0
    fewest, most = TALKING_USERS
    n = min(most, max(fewest, int((ceiling or {}).get("ceiling", 0) * TALKING_SHARE)))
    return n, TALKING_CONVERSATION_MINUTES / n
