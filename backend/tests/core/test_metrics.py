"""Metrics across processes: with PROMETHEUS_MULTIPROC_DIR a scrape adds up every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

BACKEND = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
RECORD = """
import os
from src.core import metrics
metrics.conversation_started("started", 0.4)
metrics.bot_running("worker-" + str(os.getpid()), +1)
"""
RENDER = "import sys; from src.core import metrics; sys.stdout.write(metrics.render()[0].decode())"


def _python(code: str, directory: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(BACKEND)}
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, cwd=BACKEND, text=True, stdout=subprocess.PIPE
    )


def _scrape(directory: Path) -> Samples:
    out, _ = _python(RENDER, directory).communicate(timeout=60)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(out)
        for sample in family.samples
    }


def _bots(samples: Samples) -> list[float]:
    running = "numerologist_bots_running"
    return sorted(value for (name, _), value in samples.items() if name == running)


@pytest.mark.once
def test_a_scrape_adds_up_every_process(tmp_path: Path) -> None:
    recorders = [_python(RECORD, tmp_path) for _ in range(2)]
    for recorder in recorders:
        assert recorder.wait(60) == 0
    samples = _scrape(tmp_path)
    assert samples[("numerologist_conversations_started_total", (("outcome", "started"),))] == 2
    assert samples[("numerologist_conversation_start_seconds_count", ())] == 2
    assert _bots(samples) == [1, 1]
    # A worker that died: the supervisor forgets its bots.
    forget = f"from src.core import metrics; metrics.process_exited({recorders[0].pid})"
    assert _python(forget, tmp_path).wait(60) == 0
    assert _bots(_scrape(tmp_path)) == [1]
