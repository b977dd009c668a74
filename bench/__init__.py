"""Benchmarks (`python -m bench.run`) and fault drills (`python -m bench.drills`); README.md.

The bench drives the app in backend/ with the test kit (`tests.kit`, `tests.voice.peer`,
`tests.fakes`): backend/ goes first on the path here, so `src` and `tests` are this checkout's
whatever the caller's path or installed package says. Child processes that import `bench` get
`PYTHONPATH`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
PYTHONPATH = f"{REPO}{os.pathsep}{BACKEND}"

if str(BACKEND) not in sys.path:
    sys.path.insert(0, str(BACKEND))
