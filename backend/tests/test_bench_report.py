"""`make bench`'s report (bench/report.py): the figures it derives from a run's steps."""

from __future__ import annotations

import time
from typing import Any

import pytest

import bench.server
from bench.report import (
    _at_the_ceiling,
    _print_load_users,
    _print_scaling,
    _print_where_the_cpu_went,
)
from bench.server import machine_cpu, neighbours_since
from tests.kit.load import load_user_cost

pytestmark = pytest.mark.once


def _steps(*levels: int, per_user: float = 0.2, fixed: float = 10.0) -> dict[str, object]:
    """A mode's load-user search whose load generator costs `fixed` + `per_user` a load user."""
    return {
        "ceiling_light": {
            "steps": [
                {"conversations": n, "load_generator_percent_of_a_core": fixed + per_user * (n - 1)}
                for n in levels
            ]
        }
    }


def test_a_load_users_cost_is_read_off_both_modes_steps_where_neither_spans_enough(
    capsys: pytest.CaptureFixture[str],
) -> None:
    modes = {"embedded": _steps(30, 32, 34), "workers": _steps(45, 46, 48, 51)}
    # Each search from a good guess spans too little for a line of its own.
    for mode in modes.values():
        assert load_user_cost(mode["ceiling_light"]["steps"]) is None  # type: ignore[index]
    _print_load_users(modes)
    out = capsys.readouterr().out
    assert "embedded, workers (7 steps, 30 to 51 users)" in out
    assert "at most 0.53 % a user in a step" in out  # 30 users: (10 + 0.2 * 29) / 30
    assert "one more load user: 0.20 % of a core" in out
    assert "with none 10 %): met" in out


def test_the_one_core_scaling_runs_steps_count_too(capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-12-07, late: both modes' steps spanned 34 to 48, too little for a line; the pinned
    # worker's 26 to 30 widen it.
    modes = {"embedded": _steps(34, 36, 38), "workers": _steps(42, 45, 46, 48)}
    _print_load_users(modes)
    assert "one more load user" not in capsys.readouterr().out
    one = {"ceiling": 26, **_steps(26, 28, 30)["ceiling_light"]}  # type: ignore[dict-item]
    scaling = {"1": one, "2": {"ceiling": 45, "from_the_worker_mode": True}, "ratio": 45 / 26}
    _print_load_users(modes, scaling)
    out = capsys.readouterr().out
    assert "embedded, workers, WORKERS=1 (scaling) (10 steps, 26 to 48 users)" in out
    assert "one more load user: 0.20 % of a core" in out


def test_a_step_over_the_goal_is_reported_missed(capsys: pytest.CaptureFixture[str]) -> None:
    _print_load_users({"embedded": _steps(4, 5, fixed=5.0)})
    out = capsys.readouterr().out
    assert "at most 1.40 % a user in a step" in out  # 4 users: (5 + 0.2 * 3) / 4
    assert "fixed cost divided in): missed" in out
    assert "one more load user" not in out  # two levels a user apart: no line


def _step(n: int, service: float, load: float, others: float, machine: float) -> dict[str, Any]:
    return {
        "conversations": n,
        "greeting_max_ms": 500.0,
        "answer_median_ms": 1500.0,
        "answer_max_ms": 2500.0,
        "missed": 0,
        "ok": True,
        "canary_right": True,
        "server_percent_of_a_core": service,
        "load_generator_percent_of_a_core": load,
        "database_and_redis_percent_of_a_core": others,
        "machine_percent_of_a_core": machine,
    }


def test_the_scaling_report_says_where_the_cpu_went_at_each_ceiling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = {"ceiling": 31, "steps": [_step(31, 93, 18, 9, 125), _step(33, 93, 17, 9, 124)]}
    workers = {"ceiling": 46, "steps": [_step(46, 156, 22, 14, 196), _step(50, 158, 21, 14, 197)]}
    scaling = {
        "1": {"worker_cpus": [0], "api_cpus": [0], "bench_cpus": [1], "at_least": False, **one},
        "2": {"worker_cpus": None, "api_cpus": None, "bench_cpus": None, "ceiling": 46},
        "ratio": 46 / 31,
    }
    scaling["2"]["from_the_worker_mode"] = True
    _print_scaling(scaling, workers)
    out = capsys.readouterr().out
    assert "1.48x (goal at least 1.6x): missed" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    # The step at each ceiling, not the one above it: the service, the load, the database and
    # Redis, the machine, and the conversations a core of the service's CPU held.
    assert lines["one"][2:] == ["93", "18", "9", "125", "33.3"]
    assert lines["two"][2:] == ["156", "22", "14", "196", "29.5"]


def test_a_run_from_before_the_split_was_measured_prints_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = {"conversations": 31, "server_percent_of_a_core": 93}
    assert _at_the_ceiling({"ceiling": 31, "steps": [old]}) is None
    _print_where_the_cpu_went(None, None)
    assert capsys.readouterr().out == ""


def test_the_machines_cpu_counts_at_least_this_process() -> None:
    machine, own = machine_cpu(), time.process_time()
    while time.process_time() - own < 0.2:
        pass
    spun = time.process_time() - own
    assert machine_cpu() - machine >= spun - 0.05  # /proc/stat counts in clock ticks


def test_a_neighbour_started_since_counts_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL forks a process a connection: one opened during a step used all its CPU then.
    monkeypatch.setattr(bench.server, "neighbours_cpu", lambda: {1: 5.0, 2: 3.0})
    assert neighbours_since({1: 4.0, 3: 9.0}) == pytest.approx(1.0 + 3.0)
