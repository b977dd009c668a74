"""The bot's lines, stored as they were spoken.

A bot line is planned when its text is complete (`BotTranscriptSender`, ahead of the TTS) and
stored once it has been spoken: pipecat's assistant aggregator, after the output transport,
reports each assistant turn with the text whose audio went out (the TTS sends a sentence's text
after its audio) and whether the user interrupted it (`on_assistant_turn_stopped`). A spoken
line (the greeting, a TTSSpeakFrame) goes to the TTS as a reply does, so that it too is reported
sentence by sentence; a line whose sentences come in several reports is put together here.

A line the user spoke over (or the call ended in) is stored with only what was said before the
bot stopped, marked `interrupted`; a line cut before its first word is not stored at all; a
line spoken whole is stored as planned, with the number kinds it told about and its source.
The page, which was sent the whole line (with an id) as soon as its text was complete, is sent
what was said of a line cut short, under the same id (`transcript_message`).

The bot's last line not yet spoken whole is kept (`take_unfinished`): when speech that cut it
short gave no words, the bot takes it up again from the sentence it was cut in.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import OutputTransportMessageUrgentFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.processors.frameworks.rtvi.models import ServerMessage

from src.contract.bot import Said
from src.core.enums import MessageRole, MessageSource
from src.voice_pipeline.clauses import sentences

logger = logging.getLogger(__name__)

# Planned lines waiting for their turn's end; more means turns ended unreported (dropped before
# their first word by an interruption): the oldest are forgotten.
MAX_PLANNED = 16


@dataclass(frozen=True)
class PlannedLine:
    """A bot line whose text is complete, not yet spoken (`id`: the page's for it)."""

    text: str
    kinds: tuple[str, ...] = ()
    source: MessageSource = MessageSource.VOICE
    id: str = ""


@dataclass(frozen=True)
class Cut:
    """A line stored in part: what the page shows of it becomes `said` (empty: none of it was
    said, the page drops it)."""

    line_id: str
    said: str


def words(text: str) -> list[str]:
    """The words of a text, for comparing what was said with what was planned (the TTS's
    sentences are rejoined with their own spacing)."""
    return re.findall(r"[\w']+", text.lower())


class SpokenLines:
    """Pairs the spoken turns with the planned lines and stores them; see the module docstring.

    Args:
        conversation_id: For the log.
        said: Where stored lines go.
    """

    def __init__(self, conversation_id: uuid.UUID, said: Said) -> None:
        self._conversation_id = conversation_id
        self._said = said
        self._planned: deque[PlannedLine] = deque(maxlen=MAX_PLANNED)
        self._heard: list[str] = []  # the words said so far of the oldest planned line
        self._count = 0
        self.cuts: list[Cut] = []  # lines stored in part, for the page (taken by report_spoken)
        # The last line planned, until it is spoken whole; and how many of its words were said
        # before it was cut short (`take_unfinished`).
        self._latest: PlannedLine | None = None
        self._latest_said = 0

    @property
    def waiting(self) -> int:
        """Planned lines not yet stored."""
        return len(self._planned)

    def plan(
        self,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
    ) -> PlannedLine:
        """A line is about to be spoken (or sent as text); the line, with its id."""
        self._count += 1
        line = PlannedLine(text, kinds, source, f"b{self._count}")
        if len(self._planned) == self._planned.maxlen:
            self._heard = []  # the oldest goes: what was heard of it goes with it
        self._planned.append(line)
        # A line sent as text only is not taken up by voice; it supersedes the one before.
        self._latest = line if source == MessageSource.VOICE else None
        self._latest_said = 0
        return line

    def take_unfinished(self) -> str | None:
        """What the bot has yet to say of its last line, from the start of the sentence it was
        cut in (the whole line when it was cut before its first word); None once that line has
        been spoken whole (or taken). For speech that cut the bot short and gave no words:
        the user heard only the part before the cut."""
        line, self._latest = self._latest, None
        if line is None:
            return None
        rest: list[str] = []
        said = 0
        for sentence in sentences(line.text):
            said += len(words(sentence))
            if rest or said > self._latest_said:
                rest.append(sentence)
        return " ".join(rest) or line.text

    def spoken(self, content: str, interrupted: bool = False) -> None:
        """An assistant turn ended, `content` being what of it was said; `interrupted`: the
        user spoke over it or the call ended (a line's parts still to come will not)."""
        said = words(content)
        if said and not self._continues(said):
            self._store_partial()  # the rest of the line heard so far was dropped unsaid
            if not self._begins(said):
                # Spoken but never planned (a line pipecat made by itself): stored as heard.
                self._said(MessageRole.ASSISTANT, content.strip(), (), MessageSource.VOICE, False)
                return
        if said:
            self._heard += said
            line = self._planned[0]
            if self._heard == words(line.text):
                self._planned.popleft()
                self._heard = []
                if line is self._latest:
                    self._latest = None
                self._said(MessageRole.ASSISTANT, line.text, line.kinds, line.source, False)
                return
        if interrupted:
            self._store_partial()

    def close(self) -> None:
        """The bot ends: a line said in part is stored as far as it went."""
        self._store_partial()

    def _continues(self, said: list[str]) -> bool:
        """Whether `said` is the next part of the line being heard."""
        if not self._planned:
            return False
        rest = words(self._planned[0].text)[len(self._heard) :]
        return rest[: len(said)] == said

    def _begins(self, said: list[str]) -> bool:
        """Finds the oldest planned line that begins with `said`; the lines planned before it
        were dropped by an interruption before their first word, and are forgotten (the page,
        which showed them when they were planned, is told none of them was said)."""
        for index, line in enumerate(self._planned):
            if words(line.text)[: len(said)] == said:
                for _ in range(index):
                    self.cuts.append(Cut(self._planned.popleft().id, ""))
                return True
        return False

    def _store_partial(self) -> None:
        """Stores what was heard of the oldest planned line, marked interrupted."""
        if not self._heard:
            return
        line = self._planned.popleft()
        logger.info(
            "conversation %s: the bot was interrupted after %d of %d words",
            self._conversation_id,
            len(self._heard),
            len(words(line.text)),
        )
        if line is self._latest:
            self._latest_said = len(self._heard)
        said = _said_part(line.text, len(self._heard))
        self._said(MessageRole.ASSISTANT, said, line.kinds, line.source, True)
        self.cuts.append(Cut(line.id, said))
        self._heard = []


def _said_part(text: str, count: int) -> str:
    """The beginning of `text` holding its first `count` words, as written."""
    found = list(re.finditer(r"[\w']+", text))
    if count >= len(found):
        return text.strip()
    cut = found[count - 1].end()
    # Keep the punctuation that closes the last word said ("seven." / "seven,").
    while cut < len(text) and text[cut] in ".,!?;:":
        cut += 1
    return text[:cut].strip()


def transcript_message(
    role: str, text: str, *, line_id: str | None = None, interrupted: bool = False
) -> OutputTransportMessageUrgentFrame:
    """The frame that sends one transcript line to the page (pipecat's client SDK hands it to
    `onServerMessage`). A bot line has an `id`; the same id again with `interrupted` gives
    what was said of it before the user cut it short, in place of the whole (an empty text:
    nothing of it was said)."""
    line: dict[str, Any] = {"type": "transcript", "role": role, "text": text}
    if line_id is not None:
        line["id"] = line_id
    if interrupted:
        line["interrupted"] = True
    return OutputTransportMessageUrgentFrame(message=ServerMessage(data=line).model_dump())


def report_spoken(assistant_aggregator: Any, lines: SpokenLines) -> None:
    """Store each assistant turn the aggregator reports ended (its `on_assistant_turn_stopped`:
    the turn's spoken text)."""

    async def turn_stopped(aggregator: Any, message: Any) -> None:
        lines.spoken(message.content, message.interrupted)
        # The page shows what was said of a line cut short (upstream: the output transport,
        # just before the aggregator, sends it).
        cuts, lines.cuts = lines.cuts, []
        for cut in cuts:
            frame = transcript_message("bot", cut.said, line_id=cut.line_id, interrupted=True)
            await aggregator.push_frame(frame, FrameDirection.UPSTREAM)

    assistant_aggregator.add_event_handler("on_assistant_turn_stopped", turn_stopped)
