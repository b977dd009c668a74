"""A process's startup objects frozen out of the garbage collector's full passes, once."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.once

# In a process of its own: freezing is for the life of a process (this one is the tests').
PROBE = """
import gc
from src.core.heap import freeze_startup_objects

kept = [[i] for i in range(200_000)]  # what a process loads for its life
first = freeze_startup_objects()
second = freeze_startup_objects()
new = [[i] for i in range(1_000)]  # a call's objects, made since
gc.collect()
print(first, second, gc.get_freeze_count(), len(gc.get_objects()) < 10_000)
"""


def test_startup_objects_are_frozen_once_and_later_passes_skip_them() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    first, second, frozen, few_tracked = int(out[0]), int(out[1]), int(out[2]), out[3]
    assert first >= 200_000
    assert second == 0  # once per process
    assert frozen == first
    assert few_tracked == "True"  # a pass now sees what was made since, not the 200,000
