"""Moonshine: the repetition guard, the tokenizer, and the real model alone and in a pipeline."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import soxr
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import run_test

from src.core.settings import Settings
from src.voice_pipeline import moonshine, moonshine_convert, speech
from src.voice_pipeline.dialogue import find_date, find_kind, normalise

pytestmark = pytest.mark.once
RATE = moonshine.SAMPLE_RATE
QUESTION = "What is my life path number?"


@pytest.fixture(scope="module")
def model() -> moonshine.MoonshineModel:
    """The process's shared model, from the cache `make models` fills."""
    return moonshine.shared_model(_cache_dir())


def _cache_dir() -> Path:
    return Settings(_env_file=None).model_cache_dir  # type: ignore[call-arg]


def _spoken(models: speech.SpeechModels, text: str) -> np.ndarray:
    """Piper speech at 16 kHz float32, padded as pipecat segments it (0.4 s before, 0.5 after)."""
    voice = models.piper_voice
    pcm = np.frombuffer(b"".join(c.audio_int16_bytes for c in voice.synthesize(text)), np.int16)
    said = soxr.resample(pcm.astype(np.float32) / 32768, voice.config.sample_rate, RATE)
    return np.concatenate([np.zeros(int(0.4 * RATE)), said, np.zeros(int(0.5 * RATE))]).astype(
        np.float32
    )


def assert_heard_as(text: str, said: str) -> None:
    """`text` is `said` word for word but one, and read as the same number kind: Piper's takes
    differ, and one in a few of "life path" is heard "live path" (fresh-clone runs of
    2026-12-05; the bench's Chromium calls hear it so too), which the dialogue reads as the life
    path all the same."""
    heard, expected = _words(text), _words(said)
    assert len(heard) == len(expected), text
    assert sum(h != e for h, e in zip(heard, expected, strict=True)) <= 1, text
    assert _kinds(text) == _kinds(said), text


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def _kinds(text: str) -> object:
    return find_kind(normalise(text))


class TestRepeatedTail:
    def test_a_repeated_block_of_three_is_found(self) -> None:
        assert moonshine.repeated_tail([9, 5, 6, 7, 5, 6, 7]) == 3

    def test_a_longer_repeated_block_is_found(self) -> None:
        # "what is my life path number? what is my life path number?"
        sentence = [11, 12, 13, 14, 15, 16, 17]
        assert moonshine.repeated_tail([3, *sentence, *sentence]) == len(sentence)

    def test_a_short_repeat_is_speech(self) -> None:
        # "no, no" or "very very": blocks under three tokens are allowed to repeat.
        assert moonshine.repeated_tail([4, 5, 6, 6]) == 0
        assert moonshine.repeated_tail([4, 5, 6, 5, 6]) == 0

    def test_no_repeat(self) -> None:
        assert moonshine.repeated_tail([]) == 0
        assert moonshine.repeated_tail([1, 2, 3, 4, 5, 6]) == 0

    def test_only_the_end_counts(self) -> None:
        assert moonshine.repeated_tail([5, 6, 7, 5, 6, 7, 8]) == 0


class TestTokenLimit:
    def test_six_per_second_plus_eight(self) -> None:
        assert moonshine.token_limit(0) == 8
        assert moonshine.token_limit(2.0) == 20
        assert moonshine.token_limit(3.3) == 27

    def test_noise_stops_at_the_limit(self, model: moonshine.MoonshineModel) -> None:
        noise = np.random.default_rng(3).normal(0, 0.3, RATE * 2).astype(np.float32)
        assert len(model.tokens(noise)) <= moonshine.token_limit(2.0)


class TestTokenizer:
    def test_the_shipped_vocabulary(self) -> None:
        vocabulary = moonshine.read_tokenizer(
            moonshine_convert.package_model_dir() / moonshine_convert.TOKENIZER
        )
        assert len(vocabulary) == 32_000
        assert vocabulary[:3] == [b"<unk>", b"<s>", b"</s>"]
        assert vocabulary[3:259] == [bytes([b]) for b in range(256)]
        assert "▁the".encode() in vocabulary


class TestTranscribe:
    def test_a_topic_question(
        self, models: speech.SpeechModels, model: moonshine.MoonshineModel
    ) -> None:
        assert_heard_as(model.transcribe(_spoken(models, QUESTION)), QUESTION)

    def test_a_date_comes_out_in_digits(
        self, models: speech.SpeechModels, model: moonshine.MoonshineModel
    ) -> None:
        # "March 3rd, 1990" or "March 3, 1990" (Piper says it a little differently each time):
        # either way the dialogue reads the date. One take in a fresh-clone CI run was heard as
        # "March 3rd, 1919" (2026-12-07): two takes of three must be read as the date.
        question = "What about someone born on March 3rd, 1990?"
        texts = [model.transcribe(_spoken(models, question)) for _ in range(3)]
        read = [find_date(normalise(text)) for text in texts]
        assert read.count(date(1990, 3, 3)) >= 2, texts

    def test_questions_in_parallel_share_the_model(
        self, models: speech.SpeechModels, model: moonshine.MoonshineModel
    ) -> None:
        questions = [QUESTION, "What is my personal year number?", "What is my expression number?"]
        clips = [_spoken(models, q) for q in questions]
        alone = [model.transcribe(clip) for clip in clips]
        with ThreadPoolExecutor(len(questions)) as pool:
            heard = list(pool.map(model.transcribe, clips))
        # Sharing the sessions changes nothing: each clip gets the words it gets alone (greedy
        # decoding is deterministic), and each question is read as the number it asks about
        # (Piper's takes differ: one was heard "live path" once, which the dialogue takes too).
        assert heard == alone
        assert [_kinds(h) for h in heard] == [_kinds(q) for q in questions], heard

    def test_silence_and_a_blip_say_nothing(self, model: moonshine.MoonshineModel) -> None:
        assert model.transcribe(np.zeros(RATE // 20, np.float32)) == ""


class TestService:
    async def test_a_segment_becomes_a_transcription(self, models: speech.SpeechModels) -> None:
        pcm = (_spoken(models, QUESTION) * 32767).astype(np.int16)
        chunks = [
            InputAudioRawFrame(audio=pcm[i : i + 320].tobytes(), sample_rate=RATE, num_channels=1)
            for i in range(0, len(pcm), 320)
        ]
        service = moonshine.MoonshineSTTService(_cache_dir(), trailing_silence_secs=0)
        down, _ = await run_test(
            service,
            frames_to_send=[VADUserStartedSpeakingFrame(), *chunks, VADUserStoppedSpeakingFrame()],
        )
        transcripts = [f for f in down if isinstance(f, TranscriptionFrame)]
        assert len(transcripts) == 1, [f.text for f in transcripts]
        assert_heard_as(transcripts[0].text, QUESTION)
        assert transcripts[0].finalized
