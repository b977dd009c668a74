"""Prometheus metrics: what the code records, and the text a scrape reads.

The code paths call the small functions below and know nothing of Prometheus. With
PROMETHEUS_MULTIPROC_DIR set (several processes serving, or workers beside the API on one
machine), prometheus-client keeps the values in files there and a scrape adds them up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# From a warm local start (tens of ms) to a slow cloud room and a loaded worker (tens of s).
_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0)

CONVERSATIONS_STARTED = Counter(
    "numerologist_conversations_started",
    "Conversation starts by outcome: started, or the error code or end reason of a failure.",
    ["outcome"],
)
CONVERSATIONS_ENDED = Counter(
    "numerologist_conversations_ended", "Conversations ended, by end reason.", ["reason"]
)
# By mode, not by process: a process id names the host and its PID to whoever scrapes.
BOTS_RUNNING = Gauge(
    "numerologist_bots_running",
    "Bots running now, by where they run: embedded (in an API process) or worker.",
    ["mode"],
    multiprocess_mode="livesum",
)
START_SECONDS = Histogram(
    "numerologist_conversation_start_seconds",
    "From the start request to its bot ready for the user (successful starts).",
    buckets=_SECONDS,
)
BOT_READY_SECONDS = Histogram(
    "numerologist_bot_ready_seconds",
    "From a bot's launch to its readiness for the user.",
    buckets=_SECONDS,
)
# Speech timings: tens of ms (a short synthesis) to several seconds (a loaded machine).
_SPEECH_SECONDS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
GREETING_FIRST_AUDIO_SECONDS = Histogram(
    "numerologist_greeting_first_audio_seconds",
    "From the user's connection to the bot's first audio out (its greeting).",
    buckets=_SPEECH_SECONDS,
)
VOICE_TO_VOICE_SECONDS = Histogram(
    "numerologist_voice_to_voice_seconds",
    "Per turn: from the user's end of speech to the bot's first audio out.",
    buckets=_SPEECH_SECONDS,
)
STT_SECONDS = Histogram(
    "numerologist_stt_seconds",
    "Recognition: from the user's end of speech to its transcript.",
    buckets=_SPEECH_SECONDS,
)
USER_TURNS = Counter(
    "numerologist_user_turns",
    "User turns ended, by what ended them: request (a whole request in the transcript), "
    "smart_turn (the turn model), silence (TURN_SILENCE_SECS without speech), unheard (speech "
    "that gave no words: the bot asked again), noise (too short to ask again), "
    "unheard_over_the_bot (speech that cut the bot short and gave no words: the bot took up "
    "what it was cut from).",
    ["ended_by"],
)
SPEECH_OVER_THE_BOT = Counter(
    "numerologist_speech_over_the_bot",
    "The user's speech heard while the bot spoke, by outcome: barge_in (the bot stopped and "
    "listened), backchannel (a short 'mm-hmm', 'yeah' or a noise: the bot went on, unanswered).",
    ["outcome"],
)
USER_AUDIO_PACKETS_DROPPED = Counter(
    "numerologist_user_audio_packets_dropped",
    "The user's audio packets the bot could not use, by reason: corrupt (libopus refused it; "
    "concealed), empty, oversized, undecodable (another codec's decoder refused it).",
    ["reason"],
)
TTS_SECONDS = Histogram(
    "numerologist_tts_seconds",
    "Synthesis: from a reply's text reaching the TTS to its first audio.",
    buckets=_SPEECH_SECONDS,
)
TTS_CACHE_LOOKUPS = Counter(
    "numerologist_tts_cache_lookups",
    "Sentences asked of the synthesis cache, by outcome: hit (kept, or being synthesised for "
    "another bot: no synthesis of its own) or miss (synthesised). Hit rate: hit / all.",
    ["outcome"],
)
TTS_STORE_LOOKUPS = Counter(
    "numerologist_tts_store_lookups",
    "Sentences the synthesis cache did not hold, asked of the machine's store on disk "
    "(TTS_STORE_MB), by outcome: hit (read, not synthesised) or miss (synthesised, then stored).",
    ["outcome"],
)


# From an event's status change to the receiver's 2xx: seconds normally, hours for a receiver
# that was down.
_DELIVERY_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
WEBHOOK_DELIVERIES = Counter(
    "numerologist_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retried (failed, to be retried), failed"
    " (given up: a final 4xx, or retried past WEBHOOK_RETRY_FOR_SECONDS).",
    ["outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "numerologist_webhook_delivery_seconds",
    "From a conversation's status change to its webhook's delivery (retries included).",
    buckets=_DELIVERY_SECONDS,
)

# Daily's REST API: one call, its retries included, from a few ms to the timeout times the tries.
DAILY_API_SECONDS = Histogram(
    "numerologist_daily_api_seconds",
    "Daily REST API calls (retries included), by operation and outcome (ok, or the error).",
    ["operation", "outcome"],
    buckets=_SECONDS,
)
DAILY_API_RETRIES = Counter(
    "numerologist_daily_api_retries",
    "Daily REST API tries repeated after a 429, a 5xx, a timeout or a network error.",
    ["operation"],
)


def conversation_started(outcome: str, seconds: float | None = None) -> None:
    """Count a start by its outcome; a successful one's latency goes to the histogram."""
    CONVERSATIONS_STARTED.labels(outcome=outcome).inc()
    if seconds is not None:
        START_SECONDS.observe(seconds)


def conversation_ended(reason: str) -> None:
    """Count an end by its reason."""
    CONVERSATIONS_ENDED.labels(reason=reason).inc()


def bot_ready(seconds: float) -> None:
    """Record how long a bot took to get ready."""
    BOT_READY_SECONDS.observe(seconds)


def greeting_first_audio(seconds: float) -> None:
    """Record how long the user waited for the greeting's first audio."""
    GREETING_FIRST_AUDIO_SECONDS.observe(seconds)


def voice_to_voice(seconds: float) -> None:
    """Record one turn's wait from the user's end of speech to the bot's first audio."""
    VOICE_TO_VOICE_SECONDS.observe(seconds)


def recognition(seconds: float) -> None:
    """Record one utterance's recognition time (end of speech to transcript)."""
    STT_SECONDS.observe(seconds)


def user_turn(ended_by: str) -> None:
    """Count one user turn by what ended it."""
    USER_TURNS.labels(ended_by=ended_by).inc()


def speech_over_the_bot(outcome: str) -> None:
    """Count the user's speech over the bot by what it was: barge_in or backchannel."""
    SPEECH_OVER_THE_BOT.labels(outcome=outcome).inc()


def user_audio_packet_dropped(reason: str) -> None:
    """Count one packet of the user's audio the bot could not use."""
    USER_AUDIO_PACKETS_DROPPED.labels(reason=reason).inc()


def synthesis(seconds: float) -> None:
    """Record one reply's synthesis time (text at the TTS to its first audio)."""
    TTS_SECONDS.observe(seconds)


def synthesis_store(outcome: str) -> None:
    """Count one sentence asked of the machine's store on disk: hit or miss."""
    TTS_STORE_LOOKUPS.labels(outcome=outcome).inc()


def synthesis_cache(outcome: str) -> None:
    """Count one sentence asked of the synthesis cache: hit or miss."""
    TTS_CACHE_LOOKUPS.labels(outcome=outcome).inc()


def bot_running(owner: str, delta: int) -> None:
    """A bot started (+1) or stopped (-1) in the process `owner` (an embedded owner id starts
    with models.conversation.EMBEDDED_OWNER_PREFIX, a worker's does not)."""
    mode = "embedded" if owner.startswith("embedded:") else "worker"
    BOTS_RUNNING.labels(mode=mode).inc(delta)


def webhook_attempted(outcome: str, seconds: float | None = None) -> None:
    """Count a webhook attempt by its outcome; a delivery's latency goes to the histogram."""
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    if seconds is not None:
        WEBHOOK_DELIVERY_SECONDS.observe(seconds)


def daily_call(operation: str, outcome: str, seconds: float, retries: int) -> None:
    """Record one Daily API call: its duration (all tries) and how many tries were repeated."""
    DAILY_API_SECONDS.labels(operation=operation, outcome=outcome).observe(seconds)
    if retries:
        DAILY_API_RETRIES.labels(operation=operation).inc(retries)


def process_exited(pid: int) -> None:
    """Forget a dead process's bots in multiprocess mode (its gauge file would stay)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def render() -> tuple[bytes, str]:
    """The scrape's body and content type (every process's values in multiprocess mode)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
