"""The machine's measured load, as LiveKit Agents' `_DefaultLoadCalc`: CPU, moving average."""

from __future__ import annotations

import asyncio
from collections import deque

import psutil

SAMPLE_SECONDS = 0.5
WINDOW_SAMPLES = 5  # 2.5 s


class LoadMonitor:
    """The CPU use of the whole machine (0 to 1), averaged over the last 2.5 s."""

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=WINDOW_SAMPLES)
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def sample(self) -> None:
        """Take one sample (CPU use since the previous one)."""
        self._samples.append(psutil.cpu_percent(interval=None) / 100.0)

    def add(self, value: float) -> None:
        """Add a sample directly (0 to 1)."""
        self._samples.append(value)

    @property
    def value(self) -> float:
        """The moving average; 0 before the first sample."""
        return sum(self._samples) / len(self._samples) if self._samples else 0.0

    async def run_forever(self) -> None:
        """Sample every half second until cancelled."""
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self.sample()
