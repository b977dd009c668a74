"""`make bench`'s plan (bench/plan.py): which parts run in which mode, and with how many
samples, in the default run, with `--all`, with `--only` and with `--quick`."""

from __future__ import annotations

import pytest

from bench.idle import LEVELS as IDLE_LEVELS
from bench.load import AT_ONCE_LEVELS
from bench.network import PROFILES, chosen, slug
from bench.plan import (
    DEFAULT_IDLE_LEVELS,
    EMBEDDED_GUESS,
    FEWER,
    IN_EVERY_MODE,
    ONLY_WHEN_NAMED,
    PER_MODE,
    SCALING,
    TALKING_CONVERSATION_MINUTES,
    WORKERS_GUESS,
    WORKERS_GUESS_WITHIN,
    ceiling_guess,
    plan,
    talking_size,
    where_it_ran,
)
from tests.kit.load import level_near, next_level

pytestmark = pytest.mark.once

BOTH = ("embedded", "workers")


def test_the_default_run_measures_every_part_in_every_mode_the_goals_with_every_sample() -> None:
    run = plan(None, BOTH)
    every = ("latency", "idle", "ceiling-light", "talking", "atonce", "network")
    assert run.modes == {"embedded": every, "workers": every}
    # The parts whose figures are not goals take fewer samples after the first mode; the goals'
    # parts take every sample in every mode.
    assert run.fewer == {"workers": ("idle", "atonce", "network")}
    assert not set(run.fewer["workers"]) & set(IN_EVERY_MODE)
    assert run.once == ("scaling", "stt", "synthesis", "bargein")
    # The first mode's voice-to-voice calls are the clean-call figures: all three.
    assert run.voice_calls == {"embedded": 3, "workers": 1}
    assert (run.bargein_tries, run.stt_takes, run.at_once_rounds) == (4, 3, 3)
    assert not set(run.parts()) & {"process", *ONLY_WHEN_NAMED}


def test_the_first_mode_named_is_the_one_with_every_sample() -> None:
    run = plan(None, ("workers", "embedded"))
    assert "network" in run.modes["workers"]
    assert "workers" not in run.fewer
    assert run.fewer["embedded"] == ("idle", "atonce", "network")
    assert run.voice_calls == {"workers": 3, "embedded": 1}


def test_the_default_run_s_idle_table_keeps_its_ends_and_the_slope_s_level() -> None:
    assert set(DEFAULT_IDLE_LEVELS) < set(IDLE_LEVELS)
    assert {0, 5, max(IDLE_LEVELS)} <= set(DEFAULT_IDLE_LEVELS)
    assert set(FEWER.idle_levels) <= set(DEFAULT_IDLE_LEVELS)
    assert not plan(None, BOTH).every_idle_level
    assert plan(None, BOTH, everything=True).every_idle_level
    assert plan(("idle",), BOTH).every_idle_level


def test_fewer_samples_are_fewer_and_name_known_network_profiles() -> None:
    assert set(FEWER.idle_levels) < set(IDLE_LEVELS)
    assert {0, 5, max(IDLE_LEVELS)} <= set(FEWER.idle_levels)  # the table's ends, the slope's 5
    assert FEWER.idle_probes < 5
    assert set(FEWER.at_once_levels) < set(AT_ONCE_LEVELS)
    assert FEWER.at_once_rounds < plan(None, BOTH).at_once_rounds
    keys = {slug(p.name) for p in PROFILES}
    assert set(FEWER.network) < keys
    assert [p.name for p in chosen(FEWER.network)][0] == "clean"
    assert len(chosen(FEWER.network)) == len(FEWER.network) + 1


def test_all_runs_every_part_in_every_mode_with_every_sample() -> None:
    run = plan(None, BOTH, everything=True)
    every = tuple(p for p in PER_MODE if p not in ONLY_WHEN_NAMED)
    assert run.modes == {"embedded": every, "workers": every}
    assert run.fewer == {}
    assert "process" in run.once
    assert run.voice_calls == {"embedded": 3, "workers": 3}
    assert (run.bargein_tries, run.stt_takes, run.at_once_rounds) == (6, 5, 4)


def test_parts_named_run_in_every_mode_named_with_every_sample() -> None:
    run = plan(("network", "ceiling", "stt"), BOTH)
    assert run.modes == {"embedded": ("ceiling", "network"), "workers": ("ceiling", "network")}
    assert run.fewer == {}
    assert run.once == ("stt",)
    assert run.stt_takes == 5
    assert plan(("stt",), BOTH).modes == {}  # no server is started for a part run once
    assert plan(("bargein",), BOTH, bargein_tries=2).bargein_tries == 2


def test_quick_takes_fewer_samples_everywhere() -> None:
    run = plan(None, BOTH, quick=True)
    assert run.voice_calls == {"embedded": 1, "workers": 1}
    assert (run.bargein_tries, run.stt_takes, run.at_once_rounds) == (3, 1, 2)
    assert run.fewer == {}  # every part is already quick


def test_the_one_core_scaling_run_puts_the_whole_service_on_one_core_and_the_load_elsewhere() -> (
    None
):
    one, two = SCALING
    assert (one.workers, two.workers) == (1, 2)
    # The app's process is part of the service: on the worker's core, not beside the load.
    assert one.worker_cpus is not None
    assert len(one.worker_cpus) == 1
    assert one.api_cpus == one.worker_cpus
    assert one.bench_cpus is not None
    assert not one.bench_cpus & one.worker_cpus
    # Two workers on both cores, sharing them with everything else.
    assert (two.worker_cpus, two.api_cpus, two.bench_cpus) == (None, None, None)


def test_where_a_scaling_run_ran_names_each_pinned_process() -> None:
    assert where_it_ran({0}, [0], {1}) == (
        "the workers on core 0, the app's process on core 0, the load generator on core 1"
    )
    assert where_it_ran([1, 0], None, None) == "the workers on core 0,1"
    assert where_it_ran(None, None, None) == "nothing pinned"


def test_each_default_mode_searches_its_ceiling_from_a_guess() -> None:
    assert ceiling_guess("embedded", 2) == EMBEDDED_GUESS
    # The worker mode from the embedded ceiling of the same run, or from the embedded guess.
    assert ceiling_guess("workers", 2, 36) == round(36 * WORKERS_GUESS) == 50
    assert ceiling_guess("workers", 2) == round(EMBEDDED_GUESS * WORKERS_GUESS)
    assert ceiling_guess("workers", 3, 36) is None  # no ceiling known for other than two


@pytest.mark.parametrize(("embedded", "workers"), [(22, 47), (30, 42), (45, 65)])
def test_an_embedded_ceiling_far_from_the_usual_moves_the_worker_guess_within_bounds(
    embedded: int, workers: int
) -> None:
    usual = EMBEDDED_GUESS * WORKERS_GUESS
    low, high = (round(usual * share) for share in WORKERS_GUESS_WITHIN)
    guess = ceiling_guess("workers", 2, embedded)
    assert guess is not None
    assert low <= guess <= high
    assert guess == max(low, min(round(embedded * WORKERS_GUESS), high))
    # 2026-12-07's runs (the embedded and the two workers' ceilings of one run): the bounded
    # guess takes no more steps than 1.4 x the embedded ceiling, and finds the same ceiling.
    bounded, unbounded = _steps(workers, guess), _steps(workers, round(embedded * WORKERS_GUESS))
    assert bounded[0] <= unbounded[0]
    assert bounded[0] <= 5
    assert workers - bounded[1] <= 1


def _steps(ceiling: int, guess: int | None) -> tuple[int, int]:
    """How many steps a load-user search takes to a server that holds `ceiling`, and what it
    finds: from `guess` (`level_near`), or doubling by half from 24 (`next_level`)."""
    ok: dict[int, bool] = {}
    while (
        n := next_level(ok, 24, 96, grow=1.5) if guess is None else level_near(ok, guess, 96)
    ) is not None:
        ok[n] = n <= ceiling
    return len(ok), max((n for n, good in ok.items() if good), default=0)


@pytest.mark.parametrize("ceiling", [27, 30, 34, 36, 38, 40])
def test_the_embedded_guess_saves_steps_on_this_machine_and_finds_the_same_ceiling(
    ceiling: int,
) -> None:
    # 2026-12-07's embedded ceilings: 30 to 38.
    guessed, doubled = _steps(ceiling, EMBEDDED_GUESS), _steps(ceiling, None)
    assert guessed[0] <= 4 < doubled[0]
    assert abs(guessed[1] - doubled[1]) <= 1
    assert ceiling - guessed[1] <= 1


@pytest.mark.parametrize(("ceiling", "users"), [(None, 16), (20, 16), (36, 24), (49, 32), (96, 32)])
def test_the_talking_part_spreads_the_same_minutes_over_two_thirds_of_the_ceiling(
    ceiling: int | None, users: int
) -> None:
    n, minutes = talking_size(False, None if ceiling is None else {"ceiling": ceiling})
    assert n == users
    assert n * minutes == pytest.approx(TALKING_CONVERSATION_MINUTES)
    assert talking_size(True, {"ceiling": 36}) == (8, 1.0)
