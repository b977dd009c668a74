"""Piper for one bot: on the shared voice, through the process's "piper" gate, speaking sooner.

Two things make the bot's first sound come sooner than pipecat's `PiperTTSService` does:
- Speech prepared ahead (`PreparedSpeech`): the greeting is synthesised as soon as the bot is
  built, before the user's offer, and spoken from the ready audio when the user connects. The
  frames around it are pipecat's own (it goes through `run_tts` sentence by sentence, as a reply
  does), so the transcript, the bot-speaking frames and the context see an ordinary utterance.
- The first sentence of each turn is cut at its first clause (`clauses.first_clause`): its
  first clause is spoken while the rest is synthesised.
- The near silence Piper starts some utterances with (its phoneme durations are drawn at
  random: 0 to ~250 ms before the first sound of the same sentence) is cut from the start of
  each turn and of the greeting (`trim_lead_in`), keeping 20 ms before the first sound.

Every sentence but those holding the user's name goes through the process's cache
(`synthesis_cache.py`, TTS_CACHE_MB): a reading is the same text for everyone with the same
number, so it is synthesised once per process, not once per user. What the process's cache
lacks is looked for in the machine's store on disk (`sentence_store.py`, TTS_STORE_MB) before
Piper synthesises it, and kept there after: once per machine, not once per process.

Each synthesis asks the "piper" gate with a deadline, the moment its audio will be played: a
turn's first part now, a later part when the audio the bot has queued runs out, and the
greeting's sentences one after another from the moment it is prepared (their length
estimated). So when many bots speak at once, each bot's first sound goes before another
bot's next sentence, which is not needed yet (a burst of greetings, answers under load). A
shared sentence is synthesised by the deadline of the first bot to ask for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from src.compat.pipecat_tts import audio_frames
from src.core import metrics
from src.core.settings import SpeechSettings
from src.voice_pipeline import clauses, inference
from src.voice_pipeline.sentence_store import SentenceStore, sentence_name
from src.voice_pipeline.synthesis_cache import SynthesisCache

MB = 1024 * 1024

# Below this (int16, about -54 dBFS) a sample at the start of an utterance is silence.
LEAD_IN_PEAK = 64
# What is kept before the first louder sample, so that no onset is clipped.
LEAD_IN_KEPT_SECONDS = 0.02
# About how long Piper's voice takes to say one character of text (the greeting: 116
# characters in 6.9 s): a prepared sentence's deadline, before its audio exists.
SECONDS_PER_CHARACTER = 0.06

# The process's synthesised sentences, shared by every bot (sized by TTS_CACHE_MB at preload).
cache = SynthesisCache(SpeechSettings.model_fields["tts_cache_mb"].default * MB)


def trim_lead_in(pcm: bytes, sample_rate: int) -> bytes:
    """16-bit PCM without its leading silence, less LEAD_IN_KEPT_SECONDS before the first sound
    (all of it if it is silent throughout)."""
    samples = np.frombuffer(pcm, np.int16)
    loud = np.flatnonzero((samples >= LEAD_IN_PEAK) | (samples <= -LEAD_IN_PEAK))
    if not loud.size:
        return pcm
    start = max(0, int(loud[0]) - int(sample_rate * LEAD_IN_KEPT_SECONDS))
    return pcm[start * 2 :]


def _pcm(voice: Any, text: str) -> bytes:
    return b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))


async def synthesise(voice: Any, text: str, deadline: float | inference.Due | None = None) -> bytes:
    """Piper's 16-bit mono PCM for `text`, at the voice's rate, through the "piper" gate
    (`deadline`: when the audio is played; None: now)."""
    return await inference.gate("piper").run(_pcm, voice, text, deadline=deadline)


def _settings(voice: Any) -> tuple[Any, ...]:
    # The settings Piper synthesises with.
    config = voice.config
    return (config.sample_rate, config.length_scale, config.noise_scale, config.noise_w_scale)


def _key(voice: Any, text: str) -> tuple[Any, ...]:
    # The voice by id (its cache entry keeps it alive), the text, and the settings.
    return (id(voice), text, _settings(voice))


@dataclass(frozen=True)
class _Stored:
    """The machine's store, for the one voice whose sentences it keeps, under that voice's id."""

    store: SentenceStore
    voice: Any
    voice_id: str


_stored: _Stored | None = None
# Writes to the store under way (kept referenced until they end).
_saving: set[asyncio.Future[None]] = set()


def use_store(store: SentenceStore | None, voice: Any = None, voice_id: str = "") -> None:
    """Look for `voice`'s shared sentences in `store` before synthesising them, and keep them
    there after (`voice_id`: what makes the voice's audio what it is); None: no store."""
    global _stored
    _stored = None if store is None else _Stored(store, voice, voice_id)


async def _stored_or_synthesised(voice: Any, text: str, due: inference.Due) -> bytes:
    stored = _stored
    if stored is None or stored.voice is not voice:
        return await synthesise(voice, text, due)
    name = sentence_name(stored.voice_id, *_settings(voice), text)
    audio = await asyncio.to_thread(stored.store.load, name)
    metrics.synthesis_store("miss" if audio is None else "hit")
    if audio is not None:
        return audio
    audio = await synthesise(voice, text, due)
    saving = asyncio.ensure_future(asyncio.to_thread(stored.store.save, name, audio))
    _saving.add(saving)
    saving.add_done_callback(_saving.discard)
    return audio


def cached(voice: Any, text: str) -> bool:
    """Whether the process keeps `text` synthesised by `voice`."""
    return _key(voice, text) in cache


async def synthesise_shared(voice: Any, text: str, deadline: float | None = None) -> bytes:
    """`synthesise`, through the process's cache of sentences (for text any user may hear):
    one synthesis for the bots that ask for it at once, due when the first of them needs it;
    what the process does not keep is read from the machine's store if it is there."""
    due = inference.Due(deadline)
    return await cache.get(
        _key(voice, text), lambda: _stored_or_synthesised(voice, text, due), owner=voice, due=due
    )


def _is_personal(sentence: str, personal: str | None) -> bool:
    return personal is not None and personal != "" and personal in sentence


class PreparedSpeech:
    """Speech one bot synthesises before it is said, sentence by sentence, off the event loop.

    Args:
        voice: The shared Piper voice.
    """

    def __init__(self, voice: Any) -> None:
        self._voice = voice
        self._ready: dict[str, list[asyncio.Future[bytes]]] = {}

    def prepare(self, text: str, personal: str) -> None:
        """Start synthesising `text`, each sentence on its own (the bot speaks a line sentence
        by sentence); sentences holding `personal` (a name) are not shared. Each is due when
        the ones before it would have been said (their length estimated), from now."""
        due = time.monotonic()
        for sentence in clauses.sentences(text):
            synth = synthesise if _is_personal(sentence, personal) else synthesise_shared
            self._ready[sentence.strip()] = [
                asyncio.ensure_future(synth(self._voice, sentence, due))
            ]
            due += len(sentence) * SECONDS_PER_CHARACTER

    def take(self, text: str) -> list[asyncio.Future[bytes]] | None:
        """The audio of `text` (a sentence, or a line of several), if it was prepared (once)."""
        parts = clauses.sentences(text)
        if not parts or any(part.strip() not in self._ready for part in parts):
            return None
        return [future for part in parts for future in self._ready.pop(part.strip())]

    async def close(self) -> None:
        """Drop what was never said; a synthesis not yet started never starts."""
        for futures in self._ready.values():
            for future in futures:
                future.cancel()
        for futures in self._ready.values():
            for future in futures:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future
        self._ready.clear()


async def warm(voice: Any, text: str, personal: str) -> list[str]:
    """Synthesise into the process's cache the sentences of `text` that do not hold `personal`,
    split as `PreparedSpeech.prepare` splits them; returns them.

    Every bot's greeting is the same sentences after the user's name. Synthesised before the
    process takes its first call, they are ready for a burst of first calls, whose bots would
    otherwise queue behind the first one's synthesis of them on a one-core worker.
    """
    shared = [s for s in clauses.sentences(text) if not _is_personal(s, personal)]
    for sentence in shared:
        await synthesise_shared(voice, sentence)
    return shared


def prepare(tts: Any, text: str, personal: str) -> PreparedSpeech:
    """Start synthesising what `tts` will say first (the greeting), if it is our Piper service.

    Returns:
        The bot's prepared speech, to close when the bot ends (empty for other services).
    """
    if isinstance(tts, SharedPiperTTSService):
        tts.personal = personal
        tts.prepared.prepare(text, personal)
        return tts.prepared
    return PreparedSpeech(None)


class SharedPiperTTSService(TTSService):
    """Piper on the process's shared voice (no load, no download), speaking sooner.

    What pipecat's `PiperTTSService` adds to `TTSService` is loading (or downloading) a voice
    of its own and `run_tts`: this service has neither, so it is a `TTSService` of its own.

    Args:
        voice: The shared Piper voice.
    """

    def __init__(self, voice: Any) -> None:
        settings = TTSSettings(model=None, voice="en_US-joe-medium", language=None)
        super().__init__(push_start_frame=True, push_stop_frames=True, settings=settings)
        self._voice = voice
        self.prepared = PreparedSpeech(voice)
        # The user's name: sentences holding it are synthesised for this bot alone, not kept.
        self.personal: str | None = None
        self._turn_started = False
        # When the audio this bot has handed on so far will have been played (monotonic).
        self._queued_until = 0.0

    def can_generate_metrics(self) -> bool:
        """Time to first audio is reported, as pipecat's Piper service does."""
        return True

    async def on_turn_context_created(self, context_id: str) -> None:
        """A reply or a spoken line begins: its first sentence is cut at its first clause."""
        await super().on_turn_context_created(context_id)
        self._turn_started = True
        self._queued_until = 0.0  # what an interruption cut off is not played

    async def cleanup(self) -> None:
        """The pipeline ends: nothing prepared for this bot is synthesised any more."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self.prepared.close()

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Speak `text` (one sentence, or a prepared line), yielding audio as it is ready."""
        first, self._turn_started = self._turn_started, False
        prepared = self.prepared.take(text)
        if prepared is not None:
            audio = _ready(prepared)
        else:
            parts = clauses.first_clause(text) if first else [text]
            audio = _one_after_another(self._voice, parts, self.personal, self._runs_out)
        if first:
            audio = _lead_in_trimmed(audio, self._voice.config.sample_rate)
        audio = self._queued(audio)
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in audio_frames(
                self, audio, sample_rate=self._voice.config.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:
            yield ErrorFrame(error=f"speech synthesis failed: {type(exc).__name__}")
        finally:
            await self.stop_ttfb_metrics()
            for future in prepared or ():
                future.cancel()  # a line interrupted mid-way leaves no synthesis behind

    def _runs_out(self) -> float:
        """When the audio handed on so far will have been played: the next sentence's
        deadline."""
        return max(time.monotonic(), self._queued_until)

    async def _queued(self, audio: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`audio`, counted into what the bot has queued to play."""
        bytes_a_second = 2 * self._voice.config.sample_rate
        async for pcm in audio:
            self._queued_until = self._runs_out() + len(pcm) / bytes_a_second
            yield pcm


async def _lead_in_trimmed(audio: AsyncIterator[bytes], sample_rate: int) -> AsyncIterator[bytes]:
    first = True
    async for pcm in audio:
        yield trim_lead_in(pcm, sample_rate) if first else pcm
        first = False


async def _ready(futures: list[asyncio.Future[bytes]]) -> AsyncIterator[bytes]:
    for future in futures:
        yield await future


async def _one_after_another(
    voice: Any, parts: list[str], personal: str | None, due: Callable[[], float]
) -> AsyncIterator[bytes]:
    # One part at a time, each asked for once the one before is handed on, due `due()`.
    for part in parts:
        synth = synthesise if _is_personal(part, personal) else synthesise_shared
        yield await synth(voice, part, due())
