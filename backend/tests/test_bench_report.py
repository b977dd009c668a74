"""`make bench`'s report (bench/report.py): the figures it derives from a run's steps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.report import _print_load_users  # noqa: E402  (bench/ is beside backend/)

from tests.kit.load import load_user_cost  # noqa: E402

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
    assert "embedded and workers (7 steps, 30 to 51 users)" in out
    assert "at most 0.53 % a user in a step" in out  # 30 users: (10 + 0.2 * 29) / 30
    assert "one more load user: 0.20 % of a core" in out
    assert "with none 10 %): met" in out


def test_a_step_over_the_goal_is_reported_missed(capsys: pytest.CaptureFixture[str]) -> None:
    _print_load_users({"embedded": _steps(4, 5, fixed=5.0)})
    out = capsys.readouterr().out
    assert "at most 1.40 % a user in a step" in out  # 4 users: (5 + 0.2 * 3) / 4
    assert "fixed cost divided in): missed" in out
    assert "one more load user" not in out  # two levels a user apart: no line
