"""The CI guard: any usual spelling of CI turns a loud skip into a failure, in the tests and in
the scripts `make test` runs first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ci import in_ci, skip_loudly

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

IN_CI = ["1", "true", "True", "TRUE", "yes", "Yes", "on"]
NOT_CI = ["", "0", "false", "False", "no"]
IN_CI_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "in-ci"


@pytest.mark.parametrize("value", IN_CI)
def test_ci_set_fails_instead_of_skipping(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="CI is set: failing"):
        skip_loudly("the tool is missing")


@pytest.mark.parametrize("value", NOT_CI)
def test_outside_ci_it_skips_with_a_warning(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.warns(UserWarning, match="SKIPPED LOUDLY"), pytest.raises(pytest.skip.Exception):
        skip_loudly("the tool is missing")


@pytest.mark.parametrize("value", IN_CI + NOT_CI)
def test_the_scripts_read_ci_as_the_tests_do(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    done = subprocess.run([str(IN_CI_SCRIPT)], check=False)
    assert (done.returncode == 0) == in_ci()
