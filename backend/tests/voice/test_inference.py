"""Bounded inference: a model never runs more often at once than its gate allows.

Counted, not timed: each gate counts the runs inside it (`active`, `peak`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import TranscriptionFrame

from src.core.settings import Settings
from src.voice_pipeline import inference, moonshine, piper_tts, speech
from tests.api.conversation_helpers import eventually
from tests.voice.test_moonshine import QUESTION, _spoken, assert_heard_as

pytestmark = pytest.mark.once


def _at_least(value: int, minimum: int) -> None:
    assert value >= minimum


def _held(
    limit: int,
) -> tuple[inference.InferenceGate, threading.Event, list[Any], Callable[[Any], Any]]:
    """A gate of `limit` slots, and work for it that records its argument as it starts, holds
    its slot until the event is set, then returns the argument."""
    gate = inference.InferenceGate("test", limit)
    release = threading.Event()
    started: list[Any] = []

    def work(name: Any) -> Any:
        started.append(name)
        release.wait(10)
        return name

    return gate, release, started, work


class TestGate:
    async def test_runs_beyond_the_limit_wait_for_a_slot(self) -> None:
        gate, release, started, work = _held(2)
        runs = [asyncio.ensure_future(gate.run(work, i)) for i in range(5)]
        await eventually(lambda: _at_least(gate.active, 2))
        await asyncio.sleep(0.1)  # room for a third run to start, if the gate let it
        assert (gate.active, len(started)) == (2, 2)
        release.set()
        assert sorted(await asyncio.gather(*runs)) == [0, 1, 2, 3, 4]
        assert (gate.active, gate.peak) == (0, 2)

    async def test_a_run_cancelled_while_it_waits_never_runs(self) -> None:
        gate, release, ran, work = _held(1)
        first = asyncio.ensure_future(gate.run(work, "first"))
        await eventually(lambda: _at_least(gate.active, 1))
        second = asyncio.ensure_future(gate.run(work, "second"))
        await asyncio.sleep(0.05)
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second
        release.set()
        await first
        await asyncio.sleep(0.1)
        assert ran == ["first"]

    async def test_waiting_runs_are_taken_earliest_deadline_first(self) -> None:
        gate, release, ran, work = _held(1)
        busy = asyncio.ensure_future(gate.run(work, "busy"))
        await eventually(lambda: _at_least(gate.active, 1))
        soon = time.monotonic()
        waiting = [
            asyncio.ensure_future(gate.run(work, name, deadline=soon + due))
            for name, due in (("in 3 s", 3), ("in 1 s", 1), ("in 2 s", 2), ("in 1 s, later", 1))
        ]
        waiting.append(asyncio.ensure_future(gate.run(work, "now")))  # no deadline: now
        await asyncio.sleep(0.05)  # every run handed to the gate while the first holds it
        release.set()
        await asyncio.gather(busy, *waiting)
        assert ran == ["busy", "now", "in 1 s", "in 1 s, later", "in 2 s", "in 3 s"]

    async def test_a_waiting_run_hastened_is_taken_by_its_new_deadline(self) -> None:
        gate, release, ran, work = _held(1)
        busy = asyncio.ensure_future(gate.run(work, "busy"))
        await eventually(lambda: _at_least(gate.active, 1))
        soon = time.monotonic()
        later = inference.Due(soon + 5)
        waiting = [
            asyncio.ensure_future(gate.run(work, "in 5 s, then now", deadline=later)),
            asyncio.ensure_future(gate.run(work, "in 1 s", deadline=soon + 1)),
        ]
        await asyncio.sleep(0.05)  # both waiting while the first holds the gate
        later.hasten(soon + 10)  # a later deadline never delays it
        later.hasten()  # now
        release.set()
        await asyncio.gather(busy, *waiting)
        assert ran == ["busy", "in 5 s, then now", "in 1 s"]

    def test_each_model_has_one_gate_per_process_sized_to_the_cores(self) -> None:
        assert inference.gate("piper") is inference.gate("piper")
        assert inference.gate("piper").limit == inference.cores()


class TestSharedModels:
    async def test_parallel_syntheses_stay_within_the_piper_gate(
        self, models: speech.SpeechModels
    ) -> None:
        gate = inference.gate("piper")
        gate.peak = 0
        texts = [f"Your life path number is {n}." for n in range(1, 9)]
        audio = await asyncio.gather(*(piper_tts.synthesise(models.piper_voice, t) for t in texts))
        assert all(len(a) > models.piper_voice.config.sample_rate for a in audio)  # > 0.5 s
        assert gate.peak == min(gate.limit, len(texts))

    async def test_parallel_transcriptions_stay_within_the_moonshine_gate(
        self, models: speech.SpeechModels
    ) -> None:
        service = moonshine.MoonshineSTTService(Settings(_env_file=None).model_cache_dir)  # type: ignore[call-arg]
        gate = inference.gate("moonshine")
        gate.peak = 0
        pcm = (_spoken(models, QUESTION) * 32767).astype(np.int16).tobytes()

        async def heard() -> list[str]:
            return [f.text async for f in service.run_stt(pcm) if isinstance(f, TranscriptionFrame)]

        results = await asyncio.gather(*(heard() for _ in range(6)))
        # The same audio gives the same words, however many run at once.
        assert all(r == results[0] for r in results), results
        [said] = results[0]
        assert_heard_as(said, QUESTION)
        assert gate.peak == min(gate.limit, 6)

    async def test_parallel_turn_analyses_stay_within_the_smart_turn_gate(
        self, models: speech.SpeechModels
    ) -> None:
        gate = inference.gate("smart_turn")
        gate.peak = 0
        analyzers = [speech.smart_turn() for _ in range(6)]
        audio = _spoken(models, QUESTION)
        results = await asyncio.gather(
            *(asyncio.to_thread(a.predict_endpoint, audio) for a in analyzers)
        )
        assert all(r["prediction"] == 1 for r in results), results
        assert 1 <= gate.peak <= gate.limit
