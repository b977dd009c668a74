"""The bot's Piper service in a pipeline: the first clause first, the greeting prepared ahead,
no dead air before a turn's first sound.

The real voice does the synthesis; a thin wrapper records what it was asked to say.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.tests.utils import run_test

from src.voice_pipeline import inference, piper_tts, speech
from src.voice_pipeline.dialogue import Numerologist
from tests.api.conversation_helpers import eventually

pytestmark = pytest.mark.once
REPLY = (
    "I'm a numerologist, so numbers are all I can really help with. "
    "You can ask for your life path, or give me another birth date."
)


class RecordingVoice:
    """The shared Piper voice, recording each text it has synthesised."""

    def __init__(self, voice: Any) -> None:
        self._voice = voice
        self.config = voice.config
        self.started: list[str] = []
        self.said: list[str] = []
        self.seconds: dict[str, float] = {}  # each text's audio, in seconds

    def synthesize(self, text: str) -> Iterable[Any]:
        self.started.append(text)  # as a synthesis begins
        chunks = list(self._voice.synthesize(text))
        self.said.append(text)  # once synthesised
        size = sum(len(chunk.audio_int16_bytes) for chunk in chunks)
        self.seconds[text] = size / (2 * self.config.sample_rate)
        return chunks


@pytest.fixture
def voice(models: speech.SpeechModels) -> RecordingVoice:
    piper_tts.cache.clear()  # the greeting's shared sentences are synthesised afresh
    return RecordingVoice(models.piper_voice)


def _at_least(value: int, minimum: int) -> None:
    assert value >= minimum


def _spoken(frames: Iterable[Any]) -> str:
    return " ".join(f.text.strip() for f in frames if isinstance(f, TTSTextFrame))


async def _reply(tts: piper_tts.SharedPiperTTSService) -> list[Any]:
    """The frames `tts` sends down for REPLY, as an LLM's response."""
    down, _ = await run_test(
        tts,
        frames_to_send=[
            LLMFullResponseStartFrame(),
            LLMTextFrame(REPLY),
            LLMFullResponseEndFrame(),
        ],
    )
    return down


async def test_a_reply_starts_with_its_first_clause(voice: RecordingVoice) -> None:
    tts = piper_tts.SharedPiperTTSService(voice)
    down = await _reply(tts)
    # Only the turn's first sentence is cut; the second is synthesised whole while it plays.
    assert voice.said == [
        "I'm a numerologist,",
        "so numbers are all I can really help with.",
        "You can ask for your life path, or give me another birth date.",
    ]
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert sum(len(f.audio) for f in audio) > 2 * audio[0].sample_rate * 2  # over 2 s
    # The page and the context still see the sentences as written.
    assert _spoken(down) == REPLY


async def test_the_prepared_greeting_is_spoken_without_synthesising_again(
    voice: RecordingVoice,
) -> None:
    greeting = Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)).greeting()
    tts = piper_tts.SharedPiperTTSService(voice)
    tts.prepared.prepare(greeting, personal="Ada")
    await eventually(lambda: _at_least(len(voice.said), 3))
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(greeting)])
    # Synthesised once each, sentence by sentence (in parallel, up to the gate's limit).
    assert sorted(voice.said) == [
        "Ask me about your life path, your name's numbers, or what this year holds for you.",
        "Hello Ada!",
        "I'm your numerologist.",
    ]
    kinds = [type(f) for f in down if isinstance(f, TTSStartedFrame | TTSStoppedFrame)]
    assert kinds == [TTSStartedFrame, TTSStoppedFrame]
    assert sum(len(f.audio) for f in down if isinstance(f, TTSAudioRawFrame)) > 0
    assert _spoken(down) == greeting


async def test_sentences_without_the_name_are_synthesised_once_per_process(
    voice: RecordingVoice,
) -> None:
    for name in ("Ada", "Grace"):
        greeting = Numerologist(f"{name} Hopper", name, date(1984, 7, 5)).greeting()
        prepared = piper_tts.PreparedSpeech(voice)
        prepared.prepare(greeting, personal=name)
        assert len(await asyncio.gather(*(prepared.take(greeting) or []))) == 3
    assert "Hello Ada!" in voice.said[:3]
    assert voice.said[3:] == ["Hello Grace!"]


async def test_the_greetings_shared_sentences_are_synthesised_before_any_bot_asks(
    voice: RecordingVoice,
) -> None:
    greeting = Numerologist("Ada Hopper", "Ada", date(1984, 7, 5)).greeting()
    warmed = await piper_tts.warm(voice, greeting, personal="Ada")
    assert warmed
    assert not any("Ada" in sentence for sentence in warmed)
    assert voice.said == warmed
    # A burst of first calls then synthesises only each user's own sentence.
    grace = Numerologist("Grace Hopper", "Grace", date(1984, 7, 5)).greeting()
    prepared = piper_tts.PreparedSpeech(voice)
    prepared.prepare(grace, personal="Grace")
    assert len(await asyncio.gather(*(prepared.take(grace) or []))) == 3
    assert voice.said[len(warmed) :] == ["Hello Grace!"]


async def test_a_process_that_runs_bots_starts_with_the_greetings_sentences_kept(
    models: speech.SpeechModels,
) -> None:
    from src.core.settings import get_settings
    from src.voice_pipeline import bot

    piper_tts.cache.clear()
    await bot.preload(get_settings())
    greeting = Numerologist("Grace Hopper", "Grace", date(1984, 7, 5)).greeting()
    sentences = piper_tts.clauses.sentences(greeting)
    assert [piper_tts.cached(models.piper_voice, s) for s in sentences] == [False, True, True]


class CountingGate(inference.InferenceGate):
    """The "piper" gate, counting the runs handed to it (waiting for a thread, or running), and
    the deadline each was given."""

    def __init__(self, limit: int) -> None:
        super().__init__("piper", limit)
        self.submitted = 0
        self.deadlines: list[tuple[Any, float | None]] = []  # (the text, its deadline)

    async def run(self, fn: Any, *args: Any, deadline: float | inference.Due | None = None) -> Any:
        self.submitted += 1
        at = deadline.at if isinstance(deadline, inference.Due) else deadline
        self.deadlines.append((args[-1] if args else None, at))  # as handed to the gate
        return await super().run(fn, *args, deadline=deadline)


async def test_a_bot_that_ends_first_leaves_no_synthesis_behind(
    voice: RecordingVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = CountingGate(inference.gate("piper").limit)
    monkeypatch.setitem(inference._gates, "piper", gate)
    release = threading.Event()
    busy = [asyncio.ensure_future(gate.run(release.wait, 10)) for _ in range(gate.limit)]
    await eventually(lambda: _at_least(gate.active, gate.limit))
    prepared = piper_tts.PreparedSpeech(voice)
    greeting = Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)).greeting()
    prepared.prepare(greeting, "Ada")
    # Every sentence of the greeting is queued behind the busy slots before the bot ends.
    await eventually(lambda: _at_least(gate.submitted, gate.limit + 3))
    await prepared.close()  # the user never came
    release.set()
    await asyncio.gather(*busy)
    # Whatever was queued before this point has run once every thread of the gate is inside
    # one of these (the gate's queue is first in, first out): then nothing can start later.
    barrier = threading.Barrier(gate.limit)
    await asyncio.gather(*(gate.run(barrier.wait, 30) for _ in range(gate.limit)))
    assert voice.started == []
    assert voice.said == []


async def test_a_bots_first_sound_goes_before_another_bots_next_sentence(
    voice: RecordingVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread, as on a one-core worker, busy when two bots prepare their greetings.
    gate = CountingGate(1)
    monkeypatch.setitem(inference._gates, "piper", gate)
    release = threading.Event()
    busy = asyncio.ensure_future(gate.run(release.wait, 10))
    await eventually(lambda: _at_least(gate.active, 1))
    bots = []
    for name in ("Ada", "Grace"):
        greeting = Numerologist(f"{name} Hopper", name, date(1984, 7, 5)).greeting()
        prepared = piper_tts.PreparedSpeech(voice)
        prepared.prepare(greeting, personal=name)
        bots.append((prepared, greeting))
    await eventually(lambda: _at_least(gate.submitted, 1 + 4))  # Grace's shared ones wait on Ada's
    release.set()
    await busy
    for prepared, greeting in bots:
        assert len(await asyncio.gather(*(prepared.take(greeting) or []))) == 3
    # First in, first out would have said Ada's whole greeting before "Hello Grace!".
    assert voice.started == [
        "Hello Ada!",
        "Hello Grace!",
        "I'm your numerologist.",
        "Ask me about your life path, your name's numbers, or what this year holds for you.",
    ]


async def test_a_turns_next_part_is_due_when_the_audio_before_it_runs_out(
    voice: RecordingVoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = CountingGate(inference.gate("piper").limit)
    monkeypatch.setitem(inference._gates, "piper", gate)
    tts = piper_tts.SharedPiperTTSService(voice)
    began = time.monotonic()
    down = await _reply(tts)
    ended = time.monotonic()
    texts = [text for text, _due in gate.deadlines]
    assert texts == voice.said  # each part asked for once, in order
    due = [d for _text, d in gate.deadlines]
    assert all(d is not None for d in due)
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert sum(len(f.audio) for f in audio) / (2 * audio[0].sample_rate) > ended - began
    # The reply was synthesised faster than it is spoken: the first part is due as it is
    # asked for, each next one once the audio handed on before it has been played (the
    # first part's lead-in, up to ~0.25 s, is cut before it is handed on).
    assert began <= due[0] <= ended
    before = [sum(voice.seconds[t] for t in texts[:k]) for k in range(len(texts))]
    assert [d - due[0] >= b - 0.3 for d, b in zip(due, before, strict=True)] == [True] * 3
    assert due[2] - due[0] > 2.0  # the reply's first sentence is over 2 s of speech


class LeadInVoice(RecordingVoice):
    """The voice, each utterance starting with 200 ms of near silence (as Piper's sometimes do:
    its durations are drawn at random)."""

    def synthesize(self, text: str) -> Iterable[Any]:
        chunks = list(super().synthesize(text))
        rate = self.config.sample_rate
        quiet = np.random.default_rng(0).integers(-8, 9, int(rate * 0.2)).astype(np.int16)
        first = SimpleNamespace(audio_int16_bytes=quiet.tobytes() + chunks[0].audio_int16_bytes)
        return [first, *chunks[1:]]


def _first_sound_seconds(frames: list[TTSAudioRawFrame]) -> float:
    samples = np.frombuffer(b"".join(f.audio for f in frames), np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= piper_tts.LEAD_IN_PEAK)
    return int(loud[0]) / frames[0].sample_rate


def test_the_lead_in_is_cut_to_20ms_before_the_first_sound() -> None:
    rate = 24_000
    quiet = np.random.default_rng(1).integers(-20, 21, int(rate * 0.3)).astype(np.int16)
    tone = (3000 * np.sin(np.arange(rate // 2) * 2 * np.pi * 440 / rate)).astype(np.int16)
    tone[0] = 1000  # the onset
    trimmed = np.frombuffer(
        piper_tts.trim_lead_in(np.concatenate([quiet, tone]).tobytes(), rate), np.int16
    )
    kept = int(rate * piper_tts.LEAD_IN_KEPT_SECONDS)
    assert len(trimmed) == kept + len(tone)
    assert np.array_equal(trimmed[kept:], tone)  # the sound itself untouched
    assert piper_tts.trim_lead_in(tone.tobytes(), rate) == tone.tobytes()  # no lead-in: as is
    assert piper_tts.trim_lead_in(quiet.tobytes(), rate) == quiet.tobytes()  # silence: as is


async def test_a_turn_and_the_greeting_start_at_their_first_sound(
    models: speech.SpeechModels,
) -> None:
    voice = LeadInVoice(models.piper_voice)
    piper_tts.cache.clear()
    greeting = Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)).greeting()
    prepared = piper_tts.SharedPiperTTSService(voice)
    prepared.prepared.prepare(greeting, personal="Ada")
    # One service each: pipecat's stream resampler would carry the end of one into the other.
    greeted, _ = await run_test(prepared, frames_to_send=[TTSSpeakFrame(greeting)])
    replied, _ = await run_test(
        piper_tts.SharedPiperTTSService(voice),
        frames_to_send=[
            LLMFullResponseStartFrame(),
            LLMTextFrame(REPLY),
            LLMFullResponseEndFrame(),
        ],
    )
    for down in (greeted, replied):
        frames = [f for f in down if isinstance(f, TTSAudioRawFrame)]
        # 200 ms of near silence and Piper's own lead-in cut to 20 ms (and a resampler's slack).
        assert _first_sound_seconds(frames) < piper_tts.LEAD_IN_KEPT_SECONDS + 0.01
        seconds = sum(len(f.audio) for f in frames) / 2 / frames[0].sample_rate
        assert seconds > 2  # the rest is all there (each is 2.5-4 s long)
    assert _spoken(greeted) == greeting
    assert _spoken(replied) == REPLY
