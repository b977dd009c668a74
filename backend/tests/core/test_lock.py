"""The lock files (`make lock`) hold every install: each of pyproject's pins at its version,
every package with hashes, and nothing of this machine's (index URLs, paths)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

BACKEND = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((BACKEND / "pyproject.toml").read_text())
LOCKS = {
    "requirements.lock": PYPROJECT["project"]["dependencies"],
    "requirements-test.lock": [
        *PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"]["test"],
    ],
}
# One entry: `name==version \` then its `--hash=sha256:...` lines, then `# via` comments.
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:\w+)*)", re.M)


def entries(lock: str) -> dict[str, tuple[str, int]]:
    """Each locked package: its version and how many hashes it has."""
    text = (BACKEND / lock).read_text()
    return {
        canonicalize_name(name): (version, hashes.count("--hash=sha256:"))
        for name, version, hashes in _ENTRY.findall(text)
    }


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_of_pyproject_is_locked_at_its_version(lock: str) -> None:
    locked = entries(lock)
    for line in LOCKS[lock]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # pyproject pins each one: name==version
        assert specifier.operator == "=="
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in {lock}: run make lock"
        assert locked[name][0] == specifier.version, f"{name} differs in {lock}: run make lock"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_package_has_hashes_and_no_machine_s_paths(lock: str) -> None:
    locked = entries(lock)
    text = (BACKEND / lock).read_text()
    pins = re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", text, re.M)
    assert len(pins) == len(locked) > 100
    assert all(hashes for _, hashes in locked.values()), "a package without --hash"
    # The project's build backend is locked too (it is built without isolation).
    assert "setuptools" in locked
    for option in ("--index-url", "--extra-index-url", "--find-links", "file://", "-e "):
        assert option not in text


def test_the_test_lock_agrees_with_the_runtime_lock() -> None:
    runtime, test = entries("requirements.lock"), entries("requirements-test.lock")
    assert {name: runtime[name][0] for name in runtime} == {name: test[name][0] for name in runtime}
