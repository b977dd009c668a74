"""Pipecat processors of the bot: the built-in numerologist and the transcript messages.

Messages to the page travel on the WebRTC data channel (Daily: app messages) as RTVI server
messages, beside the RTVI events pipecat's `RTVIObserver` sends (bot-ready, user-transcription,
bot-output, bot-started-speaking, ...): ``{"label": "rtvi-ai", "type": "server-message",
"data": {"type": "transcript", "role": "user" | "bot", "text": "..."}}``, one per line (a bot
line as soon as its text is complete; it is stored once spoken, `spoken.py`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    EndWorkerFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from src.contract.bot import Said
from src.core.enums import EndReason, MessageRole, MessageSource
from src.numerology.kinds import NumberKind
from src.voice_pipeline.dialogue import Numerologist, is_complete_request
from src.voice_pipeline.spoken import SpokenLines, transcript_message

logger = logging.getLogger(__name__)


def _ignore_line(
    role: MessageRole,
    text: str,
    kinds: tuple[str, ...] = (),
    source: MessageSource = MessageSource.VOICE,
    interrupted: bool = False,
) -> None:
    return None


@dataclass
class BotState:
    """One bot's state: why it ended, when the user connected, where its lines go.

    `discussed` gathers the number kinds the brain told about (the built-in numerologist's
    replies, the LLM's tool calls) until the bot's next line carries them to the transcript.
    """

    conversation_id: uuid.UUID
    said: Said = _ignore_line
    end_reason: EndReason | None = None
    connected_at: float | None = None
    first_audio_logged: bool = False
    discussed: list[NumberKind] = field(default_factory=list)

    def take_discussed(self) -> tuple[str, ...]:
        """The kinds gathered since the last bot line, in order, once each; then none."""
        kinds = tuple(dict.fromkeys(k.value for k in self.discussed))
        self.discussed.clear()  # in place: the LLM's tool runner holds `discussed.append`
        return kinds


# A user turn this soon after the bot began answering the one before continues it: the bot was
# still deciding, or had said a second of its answer at most (a barge-in cut it).
JOIN_SECS = 1.5


def _last_user_text(frame: LLMContextFrame) -> str:
    for message in reversed(frame.context.get_messages()):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _is_recovery(frame: LLMContextFrame) -> bool:
    """Whether the context was pushed by the user aggregator's empty-turn recovery (a turn that
    gave no words: it ends in the aggregator's developer message, not in a user message)."""
    messages = frame.context.get_messages()
    last = messages[-1] if messages else None
    return isinstance(last, dict) and last.get("role") == "developer"


class NumerologistProcessor(FrameProcessor):
    """Stands where an LLM would: answers each user turn from the numerology engine.

    A turn that cut the bot short and gave no words (the aggregator's empty-turn recovery: a
    cough, or "please" the recogniser missed) is answered by taking up the line it cut, from
    the sentence it was cut in: the user heard only its start.

    Args:
        numerologist: The conversation's dialogue state.
        state: The bot's state; a goodbye sets its end reason to `user_ended`.
        unfinished: The rest of the bot's last line, if it was cut short
            (`SpokenLines.take_unfinished`).
    """

    def __init__(
        self,
        numerologist: Numerologist,
        state: BotState,
        unfinished: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__()
        self._numerologist = numerologist
        self._state = state
        self._unfinished = unfinished
        self._heard = ""  # the user's last turn, as answered
        self._answered_at = -JOIN_SECS  # when (time.monotonic)
        self._user_started_at = 0.0  # when the user's turn began (its first speech)

    def _utterance(self, heard: str) -> str:
        """The user's turn, joined to the one before when it began while the bot was still
        deciding or had only just begun its answer and it is no request of its own (a pause
        inside one request: "What is the expression number, [breath] for John Smith?"):
        answered on the whole of it. A request of its own is answered as it is."""
        soon = self._user_started_at - self._answered_at < JOIN_SECS
        if soon and self._heard and not is_complete_request(heard):
            joined = f"{self._heard} {heard}"
            logger.debug(
                "conversation %s: one request in two turns: %r",
                self._state.conversation_id,
                joined,
            )
            return joined
        return heard

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, UserStartedSpeakingFrame):
            self._user_started_at = time.monotonic()
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        if _is_recovery(frame):
            await self._take_up()
            return
        self._heard = self._utterance(_last_user_text(frame))
        self._answered_at = time.monotonic()
        reply = self._numerologist.reply(self._heard)
        self._state.discussed.extend(reply.kinds)
        await self._say(reply.text)
        if reply.end:
            self._state.end_reason = EndReason.USER_ENDED
            # Ends after what is queued (the farewell) has been played.
            await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)

    async def _take_up(self) -> None:
        """Say again what the user's wordless speech cut of the bot's last line, if any."""
        rest = self._unfinished()
        logger.debug(
            "conversation %s: speech over the bot gave no words: %s",
            self._state.conversation_id,
            "it takes up its cut line" if rest else "nothing to take up",
        )
        if rest:
            self._answered_at = time.monotonic()  # a turn soon after joins the last as before
            await self._say(rest)

    async def _say(self, text: str) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        await self.push_frame(LLMTextFrame(text))
        await self.push_frame(LLMFullResponseEndFrame())


class UserTranscriptSender(FrameProcessor):
    """Sends each transcribed user turn to the page.

    Direct mode: the user's audio passes it on its way to the user aggregator, and passing it on
    in the pushing processor's task costs no queue hop; nor is each audio frame reported to the
    pipeline's observers as processed here (a queue put per observer; the STT and the user
    aggregator report it).
    """

    def __init__(self, state: BotState) -> None:
        super().__init__(enable_direct_mode=True)
        self._state = state

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
            return
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            logger.debug("conversation %s: user said %r", self._state.conversation_id, frame.text)
            self._state.said(MessageRole.USER, frame.text.strip(), (), MessageSource.VOICE)
            await self.push_frame(transcript_message("user", frame.text.strip()))
        await self.push_frame(frame, direction)


class BotTranscriptSender(FrameProcessor):
    """Sends each bot turn (a full response, or a spoken line such as the greeting) to the page
    as soon as its text is complete, and plans it for the transcript (`spoken.py` stores it once
    it has been spoken)."""

    def __init__(self, state: BotState, lines: SpokenLines) -> None:
        super().__init__()
        self._state = state
        self._lines = lines
        self._parts: list[str] = []

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self._parts = []
        elif isinstance(frame, LLMTextFrame):
            self._parts.append(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame | TTSSpeakFrame):
            text = frame.text if isinstance(frame, TTSSpeakFrame) else "".join(self._parts)
            if text.strip():
                logger.debug("conversation %s: bot says %r", self._state.conversation_id, text)
                kinds = self._state.take_discussed()
                source = (
                    MessageSource.TEXT if getattr(frame, "skip_tts", None) else MessageSource.VOICE
                )
                line = self._lines.plan(text.strip(), kinds, source)
                await self.push_frame(transcript_message("bot", line.text, line_id=line.id))
        if isinstance(frame, TTSSpeakFrame) and frame.append_to_context:
            # Spoken as a reply is: the TTS reports a reply's text sentence by sentence as its
            # audio goes out, so a line cut short is stored as far as it was said (a
            # TTSSpeakFrame's text is reported once, after all of its audio).
            for reply in (
                LLMFullResponseStartFrame(),
                LLMTextFrame(frame.text),
                LLMFullResponseEndFrame(),
            ):
                await self.push_frame(reply, direction)
            return
        await self.push_frame(frame, direction)


class FirstAudioLogger(FrameProcessor):
    """Logs when the first audio of the bot (its greeting) leaves the TTS."""

    def __init__(self, state: BotState) -> None:
        super().__init__()
        self._state = state

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        state = self._state
        if isinstance(frame, TTSAudioRawFrame) and not state.first_audio_logged:
            state.first_audio_logged = True
            since = (time.monotonic() - state.connected_at) if state.connected_at else 0.0
            logger.info(
                "conversation %s: greeting first audio %.0f ms after the user connected",
                state.conversation_id,
                since * 1000,
            )
        await self.push_frame(frame, direction)


class FirstUserAudio(FrameProcessor):
    """Calls back once, on the first audio from the user.

    Audio arriving proves the user's side finished setting up the media path, so the greeting
    sent then is heard from its first word (sent at "connected", its start could be lost).
    """

    def __init__(self, on_first_audio: Callable[[], Awaitable[None]]) -> None:
        # Direct mode: it sees every user audio frame, and passing it on costs no queue hop.
        super().__init__(enable_direct_mode=True)
        self._on_first_audio: Callable[[], Awaitable[None]] | None = on_first_audio

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        # The user's audio frames are passed on unreported to the observers (see
        # UserTranscriptSender).
        if not isinstance(frame, InputAudioRawFrame):
            await super().process_frame(frame, direction)
        elif self._on_first_audio is not None:
            callback, self._on_first_audio = self._on_first_audio, None
            await callback()
        await self.push_frame(frame, direction)
