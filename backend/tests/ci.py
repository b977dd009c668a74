"""Whether this run is CI's, and the one way a test that cannot run says so.

CI services set `CI` in several spellings (`true` on GitHub Actions and GitLab, `1` or `True`
elsewhere, `yes` by hand): any of them turns a loud skip into a failure.
"""

from __future__ import annotations

import os
import warnings
from typing import NoReturn

import pytest

CI_VALUES = frozenset({"1", "true", "yes", "on"})


def in_ci() -> bool:
    """True when the `CI` environment variable says this run is CI's (case-insensitive)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def skip_loudly(message: str) -> NoReturn:
    """Skip this test with a warning, or fail it when running in CI."""
    if in_ci():
        pytest.fail(f"{message} CI is set: failing.")
    warnings.warn(f"SKIPPED LOUDLY: {message}", stacklevel=2)
    pytest.skip(message)
