"""The voice bot: a pipecat pipeline that joins the conversation's room and talks numerology.

Pipeline: transport in -> STT -> user transcript -> user context aggregator (Silero VAD,
smart-turn v3) -> numerologist (built-in, or an OpenAI-compatible LLM with the engine's tools)
-> typed questions (`typed.py`) -> bot transcript -> TTS -> transport out -> assistant context
aggregator (which reports what of each turn was spoken: the stored bot lines, `spoken.py`).

The bot speaks pipecat's RTVI protocol (bot-ready, transcriptions, speaking events), and sends
each stored line as an RTVI server message ``{"type": "transcript", "role", "text"}``. The
page should send ``ping`` on the data channel every second (pipecat's client SDK does): a page
silent for BOT_IDLE_TIMEOUT_SECONDS is treated as gone (aiortc cannot see a vanished peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from src.contract.bot import BotContext, BotJob
from src.core.enums import EndReason
from src.core.settings import SpeechSettings
from src.core.teardown import bounded
from src.voice_pipeline import memory, piper_tts, rtvi, services, speech, timing
from src.voice_pipeline.dialogue import Numerologist
from src.voice_pipeline.numerologist import (
    BotState,
    BotTranscriptSender,
    FirstAudioLogger,
    FirstUserAudio,
    NumerologistProcessor,
    UserTranscriptSender,
)
from src.voice_pipeline.presence import Presence
from src.voice_pipeline.sentence_store import SentenceStore
from src.voice_pipeline.spoken import SpokenLines, report_spoken
from src.voice_pipeline.typed import TypedTurns

logger = logging.getLogger(__name__)


async def preload(settings: SpeechSettings) -> None:
    """Load the shared speech models and warm the pipeline's code, off the event loop.

    With STT_PROVIDER=moonshine this converts Moonshine first if `make models` has not.
    """
    models = await speech.preload_speech_models()
    piper_tts.cache.resize(settings.tts_cache_mb * piper_tts.MB)
    store = (
        SentenceStore(settings.tts_store_dir, settings.tts_store_mb * piper_tts.MB)
        if settings.tts_store_mb
        else None
    )
    piper_tts.use_store(store, models.piper_voice, models.piper_voice_id)
    if settings.stt_provider == "moonshine":
        from src.voice_pipeline import moonshine

        await moonshine.preload(settings.model_cache_dir)
    await asyncio.to_thread(_warm_up, settings)
    if settings.tts_provider == "piper" and settings.tts_cache_mb:
        await _warm_greetings(models.piper_voice)


# A name for the greetings synthesised at start-up: its sentence is left out of them.
_ANYONE = "Ada"


async def _warm_greetings(voice: Any) -> None:
    """The sentences every new user's greeting shares (those after the name), synthesised into
    the process's cache before it takes calls. A returning user's greeting names the topics of
    their last call: not warmed (bench/README.md, "Where `make bench`'s time has to go")."""
    started = time.monotonic()
    anyone = Numerologist(_ANYONE, _ANYONE, date(2000, 1, 1), memory=None)
    warmed = await piper_tts.warm(voice, anyone.greeting(), personal=_ANYONE)
    logger.info(
        "synthesis cache: %d sentences of the greeting synthesised in %.0f ms",
        len(warmed),
        (time.monotonic() - started) * 1000,
    )


def _warm_up(settings: SpeechSettings) -> None:
    # Importing and building one set of per-bot services once keeps that cost off the first bot.
    if settings.stt_provider != "deepgram":
        services.make_stt(settings)
    speech.piper_tts()
    speech.silero_vad(0.5)
    speech.smart_turn()
    from pipecat.pipeline.worker import PipelineWorker  # noqa: F401
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport  # noqa: F401


def _numerologist(job: BotJob) -> Numerologist:
    """The built-in numerologist of a job's user, with what it may recall of them."""
    return Numerologist(job.user_full_name, job.user_first_name, job.birth_date, memory=job.memory)


@dataclass
class _Parts:
    """The per-bot processors, built before the user arrives."""

    first_audio_in: Any
    stt: Any
    user_transcript: Any
    aggregators: Any
    brain: Any
    typed: Any
    bot_transcript: Any
    tts: Any
    first_audio: Any
    lines: SpokenLines


def _build_parts(ctx: BotContext, state: BotState, greeter: _Greeter) -> _Parts:
    from pipecat.turns.user_start import BaseUserTurnStartStrategy

    from src.voice_pipeline.turns import BargeIn, TranscriptAwareTurnStop, user_turns

    settings, job = ctx.settings, ctx.job
    context = services.llm_context(with_tools=settings.llm_enabled)
    # The transcript ends the turn of a whole request at once, with either brain (`turns.py`).
    silence = settings.turn_silence_secs
    vad = speech.silero_vad(settings.vad_stop_secs)
    start: list[BaseUserTurnStartStrategy] | None = None  # pipecat's: any speech interrupts
    if settings.barge_in == "hold":
        start = [BargeIn(speech=ctx.transport.speech, vad=vad)]
    stop = TranscriptAwareTurnStop(turn_analyzer=speech.smart_turn(silence), silence_secs=silence)
    aggregators = user_turns(context, vad=vad, start=start, stop=stop)
    # What the output transport let out of each turn is stored as said (`spoken.py`).
    lines = SpokenLines(job.conversation_id, state.said)
    report_spoken(aggregators.assistant(), lines)

    if settings.llm_enabled:
        prompt = services.system_prompt(job.user_full_name, job.user_first_name, job.birth_date)
        prompt += memory.prompt_facts(job.memory, date.today())
        brain = services.make_llm(settings, prompt, state.discussed.append)
    else:
        numerologist = _numerologist(job)
        brain = NumerologistProcessor(numerologist, state, lines.take_unfinished)
    return _Parts(
        first_audio_in=FirstUserAudio(greeter.greet),
        stt=services.make_stt(settings),
        user_transcript=UserTranscriptSender(state),
        aggregators=aggregators,
        brain=brain,
        typed=TypedTurns(state),
        bot_transcript=BotTranscriptSender(state, lines),
        tts=services.make_tts(settings),
        first_audio=FirstAudioLogger(state),
        lines=lines,
    )


def _worker(transport: Any, parts: _Parts, conversation_id: uuid.UUID) -> Any:
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker

    from src.voice_pipeline.audio_stop import UserAudioStop

    pipeline = Pipeline(
        [
            transport.input(),
            parts.first_audio_in,
            parts.stt,
            parts.user_transcript,
            parts.aggregators.user(),
            UserAudioStop(),
            parts.typed.questions,
            parts.brain,
            parts.typed,
            parts.bot_transcript,
            parts.tts,
            parts.first_audio,
            transport.output(),
            parts.aggregators.assistant(),
        ]
    )
    # Our own timeouts (join, max duration, pings) end conversations: no pipecat idle timeout.
    # RTVI: pipecat's client SDKs get bot-ready on their client-ready, and the bot's events.
    # Errors reach clients without their details (voice_pipeline/rtvi.py).
    # No turn tracking (pipecat's observer for tracing, which we do not use): every observer
    # is told of every frame each processor handles, 25 user audio frames a second included.
    return PipelineWorker(
        pipeline,
        params=PipelineParams(),
        enable_rtvi=True,
        # The speech timings ride on pipecat's RTVI observer: one queue for both.
        rtvi_processor=rtvi.rtvi_processor(
            conversation_id,
            [timing.SpeechTimings(conversation_id)],
            # Without its ears or its voice the bot cannot go on (`_end_when_unable`).
            vital=[parts.stt, parts.tts],
        ),
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )


# Without audio from the user this long after connecting, the bot greets anyway.
GREETING_FALLBACK_SECONDS = 1.5


class _Greeter:
    """Greets once: on the user's first audio, or after a short fallback wait (no wait where the
    transport's media is up when the user joins: `media_ready_on_join`)."""

    def __init__(self, greeting: str, at_once: bool = False) -> None:
        self.greeting = greeting
        self.at_once = at_once
        self.worker: Any = None
        self._done = False
        self._fallback: asyncio.Task[None] | None = None

    async def greet(self) -> None:
        from pipecat.frames.frames import TTSSpeakFrame

        if self._done or self.worker is None:
            return
        self._done = True
        await self.worker.queue_frames([TTSSpeakFrame(self.greeting)])

    def connected(self) -> None:
        async def fallback() -> None:
            await asyncio.sleep(0 if self.at_once else GREETING_FALLBACK_SECONDS)
            await self.greet()

        self._fallback = asyncio.create_task(fallback())

    async def close(self) -> None:
        if self._fallback is not None:
            self._fallback.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fallback


async def run_bot(ctx: BotContext) -> EndReason:
    """Serve one conversation until the user leaves or says goodbye; return why it ended."""
    job = ctx.job
    state = BotState(job.conversation_id, said=ctx.events.said)
    started = time.monotonic()
    greeter = _Greeter(
        _numerologist(job).greeting(),
        at_once=ctx.transport.media_ready_on_join,
    )
    parts = await asyncio.to_thread(_build_parts, ctx, state, greeter)
    prepared = piper_tts.prepare(parts.tts, greeter.greeting, personal=job.user_first_name)
    await ctx.events.ready()
    logger.info(
        "conversation %s: bot ready in %.0f ms",
        job.conversation_id,
        (time.monotonic() - started) * 1000,
    )
    try:
        transport = await ctx.transport.open()
        worker = greeter.worker = _worker(transport, parts, job.conversation_id)
        ending = _end_when_unable(worker, state)
        presence = _on_user_events(ctx, transport, worker, state, greeter)
        presence.start()
        try:
            await _run(worker)
        finally:
            for task in ending:
                task.cancel()
            await greeter.close()
            await presence.close()
            parts.lines.close()  # a line the call ended in, stored as far as it was said
    finally:
        # Stops the connection's tracks and their watchers, whatever way the pipeline ended.
        await asyncio.shield(
            bounded(
                ctx.transport.close(),
                f"conversation {job.conversation_id}: closing the bot's transport",
            )
        )
        await prepared.close()
    return state.end_reason or EndReason.USER_LEFT


# How long a bot that can no longer hear or speak waits for the page's client-ready before it
# ends the call: the page's sentence is queued until its data channel opens.
UNABLE_NOTICE_SECONDS = 3.0


def _end_when_unable(worker: Any, state: BotState) -> set[asyncio.Task[None]]:
    """End the call (`bot_error`) on an error that leaves the bot unable to hear or speak (its
    recogniser or synthesiser unusable: `rtvi.ClientSafeRTVIProcessor.ends_the_call`). The page
    has been sent one plain sentence: once it has said client-ready (at most
    UNABLE_NOTICE_SECONDS; a recogniser refused at the pipeline's start fails before the page's
    data channel is open), the pipeline ends when what is queued is sent, so the page gets it.
    pipecat's own policy for an unusable processor is to carry on: the user would talk to a bot
    that never answers until they hung up. Returns the ending's task, if one starts, for the
    caller to cancel once the pipeline has ended another way."""
    ending: set[asyncio.Task[None]] = set()

    async def end() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.rtvi.client_ready.wait(), UNABLE_NOTICE_SECONDS)
        await worker.stop_when_done()

    async def on_error(_worker: Any, frame: Any) -> None:
        if not worker.rtvi.ends_the_call(frame) or state.end_reason is not None:
            return
        state.end_reason = EndReason.BOT_ERROR
        # The error itself is logged once, by the RTVI processor.
        logger.error(
            "conversation %s: the bot can no longer hear or speak (%s can no longer work): "
            "the call ends",
            state.conversation_id,
            frame.processor,
        )
        task = asyncio.create_task(end(), name=f"end-unable-{state.conversation_id}")
        ending.add(task)
        task.add_done_callback(ending.discard)

    worker.add_event_handler("on_pipeline_error", on_error)
    return ending


def _on_user_events(
    ctx: BotContext, transport: Any, worker: Any, state: BotState, greeter: _Greeter
) -> Presence:
    from pipecat.frames.frames import TTSSpeakFrame

    job = ctx.job
    welcome_back = _numerologist(job)

    async def joined() -> None:
        state.connected_at = time.monotonic()
        greeter.connected()
        await ctx.events.user_joined()

    async def back() -> None:
        await worker.queue_frames([TTSSpeakFrame(welcome_back.welcome_back())])

    async def gone() -> None:
        state.end_reason = state.end_reason or EndReason.USER_LEFT
        await worker.cancel()

    return Presence(ctx, transport, first=joined, back=back, gone=gone)


async def _run(worker: Any) -> None:
    from pipecat.workers.runner import WorkerRunner

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.ensure_future(runner.run())
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        # Stopped from outside (end request, timeout, shutdown): tear the pipeline down first,
        # each step bounded (a transport aiortc cannot close hangs pipecat's cleanup).
        if await bounded(worker.cancel(), "cancelling the pipeline"):
            await bounded(running, "the pipeline's runner ending")
        elif not running.done():
            running.cancel()
        raise
