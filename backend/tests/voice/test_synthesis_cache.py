"""The process's cache of synthesised sentences: its bounds, its eviction order, its hit count,
one synthesis for callers asking at once, and cancellation. No model, no WebRTC: a synthesis is
a coroutine the test controls (the gate is real where cancellation must reach it)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from src.voice_pipeline import inference, piper_tts
from src.voice_pipeline.synthesis_cache import SynthesisCache
from tests.api.conversation_helpers import eventually

pytestmark = pytest.mark.once


class Synth:
    """Counts its syntheses; each returns `size` bytes named after its key, once released."""

    def __init__(self, size: int = 10) -> None:
        self.size = size
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    def of(self, key: str):  # type: ignore[no-untyped-def]
        async def make() -> bytes:
            self.calls.append(key)
            await self.release.wait()
            return key.encode()[:1] * self.size

        return make


def _lookups(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("numerologist_tts_cache_lookups_total", {"outcome": outcome})
        or 0.0
    )


async def test_a_kept_sentence_is_not_synthesised_again_and_counts_as_a_hit() -> None:
    cache, synth = SynthesisCache(1000), Synth()
    hits, misses = _lookups("hit"), _lookups("miss")
    assert await cache.get("a", synth.of("a")) == b"a" * 10
    assert await cache.get("a", synth.of("a")) == b"a" * 10
    assert await cache.get("b", synth.of("b")) == b"b" * 10
    assert synth.calls == ["a", "b"]
    assert (cache.hits, cache.misses) == (1, 2)
    assert (_lookups("hit") - hits, _lookups("miss") - misses) == (1, 2)
    assert cache.bytes == 20
    assert len(cache) == 2


async def test_the_byte_bound_drops_the_least_recently_used_first() -> None:
    cache, synth = SynthesisCache(max_bytes=30), Synth()
    for key in "abc":
        await cache.get(key, synth.of(key))
    await cache.get("a", synth.of("a"))  # "a" used again: "b" is now the oldest
    await cache.get("d", synth.of("d"))
    assert ["a" in cache, "b" in cache, "c" in cache, "d" in cache] == [True, False, True, True]
    assert cache.bytes == 30
    # Shrunk below what it holds: the oldest go until it fits.
    cache.resize(15)
    assert ["a" in cache, "c" in cache, "d" in cache] == [False, False, True]
    assert cache.bytes == 10


async def test_the_entry_bound_and_audio_larger_than_the_cache() -> None:
    cache, synth = SynthesisCache(max_bytes=1000, max_entries=2), Synth()
    for key in "abc":
        await cache.get(key, synth.of(key))
    assert ["a" in cache, "b" in cache, "c" in cache] == [False, True, True]
    # Larger than the whole cache: returned, never kept, nothing else dropped for it.
    big = Synth(size=2000)
    assert await cache.get("z", big.of("z")) == b"z" * 2000
    assert "z" not in cache
    assert len(cache) == 2
    assert cache.bytes == 20
    # Size 0 keeps nothing.
    none = SynthesisCache(max_bytes=0)
    await none.get("a", synth.of("a"))
    await none.get("a", synth.of("a"))
    assert len(none) == 0
    assert none.misses == 2


async def test_callers_asking_at_once_share_one_synthesis() -> None:
    cache, synth = SynthesisCache(1000), Synth()
    synth.release.clear()
    waiting = [asyncio.ensure_future(cache.get("a", synth.of("a"))) for _ in range(5)]
    await eventually(lambda: _started(synth, 1))
    synth.release.set()
    assert await asyncio.gather(*waiting) == [b"a" * 10] * 5
    assert synth.calls == ["a"]
    assert (cache.hits, cache.misses) == (4, 1)


async def test_one_caller_cancelled_leaves_the_synthesis_to_the_others() -> None:
    cache, synth = SynthesisCache(1000), Synth()
    synth.release.clear()
    first = asyncio.ensure_future(cache.get("a", synth.of("a")))
    second = asyncio.ensure_future(cache.get("a", synth.of("a")))
    await eventually(lambda: _started(synth, 1))
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    synth.release.set()
    assert await second == b"a" * 10
    assert "a" in cache
    assert synth.calls == ["a"]


async def test_when_every_caller_is_cancelled_a_gated_synthesis_never_runs() -> None:
    # The real "piper" gate's way: a run queued behind a busy gate is skipped once cancelled.
    gate = inference.InferenceGate("cache-test", 1)
    busy, ran = threading.Event(), []

    def block() -> None:
        busy.wait(10)

    def run() -> bytes:
        ran.append(True)
        return b"x"

    blocker = asyncio.ensure_future(gate.run(block))
    await eventually(lambda: _true(gate.active == 1))
    cache = SynthesisCache(1000)
    callers = [asyncio.ensure_future(cache.get("a", lambda: gate.run(run))) for _ in range(2)]
    # The shared synthesis waits in the gate's queue behind the busy run.
    await eventually(lambda: _true(gate._executor._work_queue.qsize() == 1))
    for caller in callers:
        caller.cancel()
    for caller in callers:
        with pytest.raises(asyncio.CancelledError):
            await caller
    busy.set()
    await blocker
    await gate.run(lambda: None)  # the gate's one thread has passed the skipped run
    assert ran == []
    assert "a" not in cache
    # Asked again, it is synthesised afresh (no cancelled future served).
    assert await cache.get("a", lambda: gate.run(run)) == b"x"
    assert ran == [True]


async def test_a_failed_synthesis_is_not_kept_and_its_error_reaches_every_caller() -> None:
    cache = SynthesisCache(1000)
    release = asyncio.Event()

    async def fail() -> bytes:
        await release.wait()
        raise RuntimeError("piper failed")

    callers = [asyncio.ensure_future(cache.get("a", fail)) for _ in range(2)]
    await asyncio.sleep(0)
    release.set()
    for caller in callers:
        with pytest.raises(RuntimeError):
            await caller
    assert "a" not in cache
    assert await cache.get("a", Synth().of("a")) == b"a" * 10


async def test_threads_with_their_own_loops_share_the_kept_sentences() -> None:
    cache, synth = SynthesisCache(10_000), Synth()
    await cache.get("a", synth.of("a"))

    def in_thread(results: list[bytes]) -> None:
        for _ in range(200):
            results.append(asyncio.run(cache.get("a", synth.of("a"))))
            asyncio.run(cache.get(f"k{len(results)}", Synth(size=1).of("k")))

    results: list[list[bytes]] = [[], [], []]
    threads = [threading.Thread(target=in_thread, args=(r,)) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(r == [b"a" * 10] * 200 for r in results)
    assert synth.calls == ["a"]
    assert cache.bytes == sum(len(audio) for _, audio in cache._kept.values())


async def test_sentences_with_the_users_name_are_not_kept() -> None:
    class Voice:
        config = SimpleNamespace(
            sample_rate=22050, length_scale=1, noise_scale=0.6, noise_w_scale=0.8
        )

        def synthesize(self, text: str) -> list[SimpleNamespace]:
            return [SimpleNamespace(audio_int16_bytes=text.encode())]

    voice = Voice()
    prepared = piper_tts.PreparedSpeech(voice)
    prepared.prepare("Hello Ada. Your number is seven. Ask me more.", personal="Ada")
    said = [await f for f in prepared.take("Hello Ada. Your number is seven. Ask me more.") or []]
    assert said == [b"Hello Ada.", b"Your number is seven.", b"Ask me more."]
    kept = [
        piper_tts.cached(voice, s) for s in ("Hello Ada.", "Your number is seven.", "Ask me more.")
    ]
    assert kept == [False, True, True]
    # Another voice (or other settings) is another key.
    assert not piper_tts.cached(Voice(), "Your number is seven.")


async def _started(synth: Synth, n: int) -> None:
    assert len(synth.calls) == n


async def _true(value: bool) -> None:
    assert value


async def test_a_caller_that_needs_a_pending_sentence_sooner_hastens_its_synthesis() -> None:
    """A sentence one bot will say in 5 s (its reply's third) is another bot's first, needed
    now: the one synthesis runs by the sooner deadline, ahead of a third bot's sentence due in
    1 s, instead of keeping the first caller's."""
    gate = inference.InferenceGate("cache-test", 1)
    busy, ran = threading.Event(), []

    def block() -> None:
        busy.wait(10)

    def run(name: str) -> bytes:
        ran.append(name)
        return name.encode()

    blocker = asyncio.ensure_future(gate.run(block))
    await eventually(lambda: _true(gate.active == 1))
    cache, soon = SynthesisCache(1000), time.monotonic()
    in_5_s = inference.Due(soon + 5)
    first = asyncio.ensure_future(
        cache.get("shared", lambda: gate.run(run, "shared", deadline=in_5_s), due=in_5_s)
    )
    other = asyncio.ensure_future(gate.run(run, "other", deadline=soon + 1))
    await asyncio.sleep(0.05)
    now = asyncio.ensure_future(
        cache.get("shared", lambda: gate.run(run, "again"), due=inference.Due(soon))
    )
    await asyncio.sleep(0.05)
    busy.set()
    await asyncio.gather(blocker, first, other, now)
    assert ran == ["shared", "other"]  # one synthesis, taken first
    assert await now == b"shared"
