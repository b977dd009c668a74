"""Every setting is listed in .env.example and in the README's settings table, and nothing else."""

from __future__ import annotations

import re

import pytest

from src.core.settings import REPO_DIR, Settings

pytestmark = pytest.mark.once

# Read from the environment by something other than Settings.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}  # prometheus_client's multiprocess mode


def _settings() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_env_example_lists_every_setting_and_only_settings() -> None:
    text = (REPO_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert _settings() - listed == set(), "missing from .env.example"
    assert listed - _settings() - NOT_SETTINGS == set(), "in .env.example but not a setting"


def test_readme_settings_table_has_a_row_for_every_setting() -> None:
    readme = (REPO_DIR / "README.md").read_text()
    table = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert _settings() - named == set(), "no row in README's settings table"
