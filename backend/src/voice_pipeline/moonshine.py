"""Moonshine base (English) speech recognition: one shared model per process, a pipecat service.

The weights come from the `moonshine-cpp` package, converted once by `moonshine_convert`.
Decoding is greedy with the key/value cache, with a guard against Moonshine's known failure on
noisy audio: repeating a phrase until the token budget runs out.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.settings import STTSettings
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from src.voice_pipeline import inference, moonshine_convert, spoken_numbers
from src.voice_pipeline.local_stt import LocalSTTService

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
START_TOKEN = 1  # <s>
END_TOKEN = 2  # </s>
# The guard: a repeated block is at least this many tokens (shorter repeats occur in speech:
# "no, no"), and no question needs more than this many tokens per second of audio.
MIN_REPEAT_BLOCK = 3
TOKENS_PER_SECOND = 6
EXTRA_TOKENS = 8


def token_limit(seconds: float) -> int:
    """The most tokens decoded for `seconds` of audio."""
    return int(TOKENS_PER_SECOND * seconds) + EXTRA_TOKENS


def repeated_tail(tokens: Sequence[int]) -> int:
    """How many tokens at the end repeat the block just before them (0 when none do).

    Only blocks of MIN_REPEAT_BLOCK tokens or more count.
    """
    for size in range(MIN_REPEAT_BLOCK, len(tokens) // 2 + 1):
        if tokens[-size:] == tokens[-2 * size : -size]:
            return size
    return 0


def read_tokenizer(path: Path) -> list[bytes]:
    """The vocabulary in `tokenizer.bin`: one length byte, then that many bytes, per token.

    Tokens 3 to 258 are single raw bytes (UTF-8 fallback); `▁` stands for a space.
    """
    data = path.read_bytes()
    vocabulary: list[bytes] = []
    offset = 0
    while offset < len(data):
        size = data[offset]
        if size >= 0x80:  # would be a multi-byte length, which this format never uses
            raise ValueError(f"{path}: unexpected token length byte {size:#x} at {offset}")
        vocabulary.append(data[offset + 1 : offset + 1 + size])
        offset += 1 + size
    return vocabulary


class MoonshineModel:
    """Moonshine base-en on shared ONNX Runtime sessions, safe to call from several threads.

    ONNX Runtime sessions are thread-safe, so concurrent questions share one set of sessions.
    Each call runs on one thread; the service runs them through the process's "moonshine" gate
    (one run per core: `inference.py`), so a burst of questions queues instead of
    oversubscribing the cores or growing memory with each concurrent run.

    Args:
        folder: A folder made by `moonshine_convert.ensure_converted`.
    """

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort

        options = inference.session_options()

        def session(name: str) -> Any:
            return ort.InferenceSession(
                str(folder / name), options, providers=["CPUExecutionProvider"]
            )

        self._encoder = session(moonshine_convert.ENCODER)
        self._first = session(moonshine_convert.DECODER_FIRST)
        self._cached = session(moonshine_convert.DECODER_CACHED)
        self._vocabulary = read_tokenizer(folder / moonshine_convert.TOKENIZER)
        # A step's outputs present.N.* are the next step's inputs past_key_values.N.*; the
        # encoder's (cross-attention) entries come from the first step only.
        self._first_outputs = [_past(o.name) for o in self._first.get_outputs()]
        self._cached_outputs = [_past(o.name) for o in self._cached.get_outputs()]
        self.gate = inference.gate("moonshine")

    def transcribe(self, samples: np.ndarray) -> str:
        """The text said in mono float32 audio at 16 kHz (blocking: run it through `gate`).

        Dates come out in digits, as the dialogue reads them ("March 3rd, 1990"): Moonshine
        writes "March third, nineteen hundred ninety".
        """
        tokens = self.tokens(samples)
        return spoken_numbers.with_digits(self.detokenize(tokens))

    def tokens(self, samples: np.ndarray) -> list[int]:
        """The greedy token sequence for mono float32 audio at 16 kHz, guard applied."""
        if samples.size < SAMPLE_RATE // 10:  # under 0.1 s: nothing the encoder can use
            return []
        audio = np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :]
        (hidden,) = self._encoder.run(None, {"input_values": audio})
        logits, *present = self._first.run(
            None,
            {"input_ids": np.array([[START_TOKEN]], np.int64), "encoder_hidden_states": hidden},
        )
        cache = dict(zip(self._first_outputs[1:], present, strict=True))
        tokens: list[int] = []
        for _ in range(token_limit(samples.size / SAMPLE_RATE)):
            # Logits past the vocabulary are padding: never pick them.
            token = int(np.argmax(logits[0, -1, : len(self._vocabulary)]))
            if token == END_TOKEN:
                break
            tokens.append(token)
            repeat = repeated_tail(tokens)
            if repeat:
                del tokens[-repeat:]
                break
            logits, *present = self._cached.run(
                None, {"input_ids": np.array([[token]], np.int64), **cache}
            )
            cache.update(zip(self._cached_outputs[1:], present, strict=True))
        return tokens

    def detokenize(self, tokens: Sequence[int]) -> str:
        """The text of a token sequence (control tokens and padding left out)."""
        pieces = [self._vocabulary[t] for t in tokens if END_TOKEN < t < len(self._vocabulary)]
        return b"".join(pieces).decode("utf-8", errors="replace").replace("▁", " ").strip()


def _past(output: str) -> str:
    """The input name that takes a decoder output: present.0.decoder.key -> past_key_values..."""
    return output.replace("present.", "past_key_values.", 1)


_model: MoonshineModel | None = None
_lock = threading.Lock()


def shared_model(cache_dir: Path) -> MoonshineModel:
    """The process's Moonshine model, converting (once per machine) and loading it on first use.

    Blocking: call `preload` from async code.
    """
    global _model
    with _lock:
        if _model is None:
            started = time.perf_counter()
            _model = MoonshineModel(moonshine_convert.ensure_converted(cache_dir))
            logger.info("Moonshine loaded in %.2fs", time.perf_counter() - started)
        return _model


async def preload(cache_dir: Path) -> MoonshineModel:
    """Convert if needed and load the shared model, off the event loop."""
    return await asyncio.to_thread(shared_model, cache_dir)


class MoonshineSTTService(LocalSTTService):
    """Pipecat STT on the process's shared Moonshine model.

    A segmented service: it needs VAD upstream, and transcribes each spoken segment at once.

    Build it after `preload` (as the bot does): the first construction in a process loads the
    model, and converts it if `make models` has not, which takes seconds.

    Args:
        cache_dir: Where the converted model is (or will be) cached.
        **kwargs: Passed on to `LocalSTTService`.
    """

    def __init__(self, cache_dir: Path, **kwargs: Any) -> None:
        super().__init__(
            sample_rate=SAMPLE_RATE,
            settings=STTSettings(model="moonshine-base-en", language=Language.EN),
            **kwargs,
        )
        self._model = shared_model(cache_dir)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment of 16 kHz mono 16-bit PCM.

        Yields:
            A TranscriptionFrame when anything was said, an ErrorFrame if the model failed.
        """
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        await self.start_processing_metrics()
        try:
            text = await self._model.gate.run(self._model.transcribe, samples)
        except Exception as exc:
            logger.exception("Moonshine failed on a segment of %d samples", samples.size)
            await self.stop_processing_metrics()
            yield ErrorFrame(f"speech recognition failed: {type(exc).__name__}")
            return
        await self.stop_processing_metrics()
        # Which words a segment gave (a VAD stop inside a sentence shows here as two segments).
        logger.debug("heard %r in a segment of %.2f s", text, samples.size / SAMPLE_RATE)
        if text:
            yield TranscriptionFrame(text, self.speaker, time_now_iso8601(), Language.EN)
