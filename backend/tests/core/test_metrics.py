"""Metrics across processes: with PROMETHEUS_MULTIPROC_DIR a scrape adds up every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from src.core import metrics

BACKEND = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
RECORD = """
import os
from src.core import metrics
metrics.conversation_started("started", 0.4)
metrics.bot_running("worker-" + str(os.getpid()), +1)
metrics.greeting_first_audio(0.3)
metrics.voice_to_voice(0.8)
metrics.recognition(0.25)
metrics.synthesis(0.125)
"""
RENDER = "import sys; from src.core import metrics; sys.stdout.write(metrics.render()[0].decode())"


SPEECH = {"greeting_first_audio": 0.3, "voice_to_voice": 0.8, "stt": 0.25, "tts": 0.125}


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
    for name, seconds in SPEECH.items():
        assert samples[(f"numerologist_{name}_seconds_count", ())] == 2, name
        assert samples[(f"numerologist_{name}_seconds_sum", ())] == 2 * seconds, name
    assert _bots(samples) == [2]
    # A worker that died: the supervisor forgets its bots.
    forget = f"from src.core import metrics; metrics.process_exited({recorders[0].pid})"
    assert _python(forget, tmp_path).wait(60) == 0
    assert _bots(_scrape(tmp_path)) == [1]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.once
@pytest.mark.parametrize(
    ("record", "name"),
    [
        (metrics.greeting_first_audio, "greeting_first_audio"),
        (metrics.voice_to_voice, "voice_to_voice"),
        (metrics.recognition, "stt"),
        (metrics.synthesis, "tts"),
    ],
)
def test_each_speech_timing_goes_to_its_histogram(record: Any, name: str) -> None:
    histogram = f"numerologist_{name}_seconds"
    others = [f"numerologist_{n}_seconds_count" for n in SPEECH if n != name]
    before = {key: _sample(key) for key in [f"{histogram}_count", f"{histogram}_sum", *others]}
    record(0.4)
    record(1.2)
    assert _sample(f"{histogram}_count") - before[f"{histogram}_count"] == 2
    assert _sample(f"{histogram}_sum") - before[f"{histogram}_sum"] == pytest.approx(1.6)
    # A value counts in the buckets at or above it only; no other histogram moved.
    buckets = {le: _sample(f"{histogram}_bucket", le=le) for le in ("0.3", "0.5")}
    record(0.45)
    assert _sample(f"{histogram}_bucket", le="0.5") == buckets["0.5"] + 1
    assert _sample(f"{histogram}_bucket", le="0.3") == buckets["0.3"]
    assert all(_sample(key) == before[key] for key in others)
