"""The built-in numerologist's dialogue: what the user asked, and what to say back.

Plain functions and one small class, testable without audio. The pipecat processor that uses
them is in `numerologist.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from src.contract.bot import Memory
from src.numerology import (
    NumberKind,
    NumerologyInputError,
    compute,
    core,
    interpret,
    meaning,
    personal_year_theme,
)
from src.numerology.kinds import spoken_list
from src.voice_pipeline import memory as past

# The phrases that name each kind, tried in this order: the first match wins, so "my
# birthday this year" is the personal year.
KIND_PATTERNS: dict[NumberKind, re.Pattern[str]] = {
    # Under load the recognisers lose the end of "path": "life, Pa", "life, Pat".
    # Moonshine sometimes hears "life path" as "live path" (one clip in a CI run of 2026-12-01).
    NumberKind.LIFE_PATH: re.compile(r"\blife'?s? ?pat?h?\b|\blive ?path\b|\blife number"),
    # Whisper tiny often hears "soul urge" as "sole urge", Moonshine base as "so urge".
    NumberKind.SOUL_URGE: re.compile(r"\bsoul|\bsole urge|\bso[- ]urge|\bheart'?s? desire"),
    NumberKind.PERSONALITY: re.compile(r"\bpersonality"),
    NumberKind.EXPRESSION: re.compile(r"\bexpression|\bdestiny|\bname number"),
    NumberKind.MATURITY: re.compile(r"\bmaturity"),
    NumberKind.PERSONAL_YEAR: re.compile(
        r"\bpersonal year|\bthis year|\bnext year|\byear ahead|\bmy year|\bcoming year"
    ),
    NumberKind.BIRTHDAY: re.compile(r"\bbirthday|\bbirth day"),
}
MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_MONTH = "|".join(MONTHS)
_DATE_WORDS = re.compile(
    rf"\b(?:(?P<m1>{_MONTH})\s+(?:the\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})"
    rf"|(?:the\s+)?(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH}),?\s+"
    rf"(?P<y2>\d{{4}}))\b"
)
_DATE_NUMBERS = re.compile(r"\b(?P<a>\d{1,4})[/.-](?P<b>\d{1,2})[/.-](?P<c>\d{1,4})\b")
_NAME = re.compile(r"\b(?:for|of|name is|named|called)\s+(?P<name>[a-z][a-z' -]{1,60})")
_NOT_NAMES = {
    "me",
    "my",
    "myself",
    "mine",
    "you",
    "it",
    "this",
    "that",
    "the",
    "a",
    "year",
    "this year",
    "my name",
    "my birthday",
    "my birth date",
}
GOODBYE = re.compile(
    r"\b(good ?bye|bye|see you|that'?s all|hang up|end (the|this) (call|"
    r"conversation)|i have to go|i'?m done)\b"
)
THANKS = re.compile(r"\b(thanks|thank you|cheers)\b")
MEANING = re.compile(r"\b(mean|meaning|tell me more|what about it|more about)\b")
HOW = re.compile(r"\b(how (did|do) you|explain|show me|work it out|the math|calculat)")
HELP = re.compile(r"\b(help|what can you do|what do you do|how does this work)\b")
ALL = re.compile(r"\b(all (of )?my numbers|my numbers|my profile|my chart|reading)\b")


# Words a sentence does not end on: a turn whose transcript ends on one is a pause mid-sentence
# ("the expression number for ...", "my birthday is ..."), however final its intonation sounds.
_DANGLING = re.compile(
    r"\b(?:and|or|but|so|um|uh|er|erm|for|of|to|with|about|from|on|in|at|by|the|a|an|my|"
    r"your|his|her|their|our|is|are|was|were|be|named|called|born|what|which|whose|how|"
    rf"{_MONTH}|\d{{1,2}}(?:st|nd|rd|th)?)$"
)


def ends_on_dangling_word(utterance: str) -> bool:
    """Whether a transcript stops on a word no sentence ends on ("for", "and", "my", "March")."""
    return bool(_DANGLING.search(normalise(utterance)))


def is_complete_request(utterance: str) -> bool:
    """Whether a transcript is a whole request the dialogue understands (a number, a reading,
    its meaning or arithmetic, help, thanks, goodbye) and does not stop on a dangling word.

    Only what the user said counts, not the conversation so far, so it judges a turn's end the
    same way whichever brain (this dialogue or an LLM) answers it.
    """
    text = normalise(utterance)
    if not text or ends_on_dangling_word(text):
        return False
    intents = (GOODBYE, ALL, HOW, MEANING, THANKS, HELP)
    asked = any(p.search(text) for p in intents) or past.asks_about_past(text)
    return bool(find_kind(text) or find_date(text) or asked)


def normalise(text: str) -> str:
    """Lower case, one space between words, no punctuation but apostrophes, slashes, hyphens."""
    text = re.sub(r"[^\w'/ .-]", " ", text.lower())
    # A full stop ends a sentence ("number for. Marie Curie.", two recognised segments of one
    # turn); the dots of "3.3.1990" stay.
    text = re.sub(r"\.(?!\w)", " ", text)
    return " ".join(text.split()).strip(" .")


def find_kind(text: str) -> NumberKind | None:
    """The kind of number asked about, if any."""
    for kind, pattern in KIND_PATTERNS.items():
        if pattern.search(text):
            return kind
    return None


def find_date(text: str) -> date | None:
    """A date spoken in the text ("March 3rd, 1990", "3 of March 1990", "3/3/1990")."""
    match = _DATE_WORDS.search(text)
    try:
        if match:
            month = MONTHS[match["m1"] or match["m2"]]
            return date(int(match["y1"] or match["y2"]), month, int(match["d1"] or match["d2"]))
        match = _DATE_NUMBERS.search(text)
        if match:
            a, b, c = int(match["a"]), int(match["b"]), int(match["c"])
            return date(a, b, c) if a > 31 else date(c, a, b)  # ISO, else US month/day/year
    except ValueError:
        return None
    return None


def find_name(text: str) -> str | None:
    """Another person's name the user asks about ("... for John Smith")."""
    match = _NAME.search(text)
    if not match:
        return None
    name = re.split(r"\b(?:born|birthday|please|and|with)\b", match["name"])[0].strip(" '-")
    words = name.split()
    if not words or name in _NOT_NAMES or words[0] in {"me", "my", "myself", "you", "the"}:
        return None
    return " ".join(w.capitalize() for w in words[:4])


@dataclass
class Reply:
    """What to say, and whether the conversation ends after it.

    Attributes:
        text: What to say.
        end: Whether the conversation ends after it.
        kinds: The kinds of number the reply told the user about, so a conversation's
            topics can be recorded; empty when it gave no number or reading.
    """

    text: str
    end: bool = False
    kinds: tuple[NumberKind, ...] = ()


@dataclass
class Numerologist:
    """One conversation's numerologist: the user's profile and what was last discussed."""

    full_name: str
    first_name: str
    birth_date: date
    today: date = field(default_factory=date.today)
    last: tuple[NumberKind, int] | None = None
    last_result: core.NumberResult | None = None
    # The earlier conversations it may recall (None: the user turned remembering off).
    memory: Memory | None = field(default_factory=Memory)

    def greeting(self) -> str:
        """The opening line (a returning user's, when it remembers them)."""
        return past.greeting(self.first_name, self.memory) or (
            f"Hello {self.first_name}! I'm your numerologist. Ask me about your life path, "
            "your name's numbers, or what this year holds for you."
        )

    def welcome_back(self) -> str:
        """What the bot says when the user rejoins the conversation."""
        return f"Welcome back, {self.first_name}! Let's carry on where we left off."

    def reply(self, utterance: str) -> Reply:
        """Answer one user turn."""
        text = normalise(utterance)
        if not text:
            return Reply("Sorry, I didn't catch that. Could you say it again?")
        if GOODBYE.search(text):
            return Reply(
                f"Goodbye {self.first_name}, it was a pleasure. May your numbers be kind to you!",
                end=True,
            )
        if past.asks_about_past(text):
            return Reply(past.recall(self.memory, self.today))
        kind = find_kind(text)
        other_date, other_name = find_date(text), find_name(text)
        if kind or other_date or other_name:
            return self._number(kind, other_date, other_name)
        if ALL.search(text):
            return self._summary()
        if HOW.search(text) and self.last_result:
            return Reply(self.last_result.explain(), kinds=(self.last_result.kind,))
        if MEANING.search(text) and self.last:
            return Reply(self._more(), kinds=(self.last[0],))
        if THANKS.search(text):
            return Reply("You're very welcome. Is there another number you'd like to explore?")
        if HELP.search(text):
            return Reply(self._help())
        return Reply(
            "I'm a numerologist, so numbers are all I can really help with. " + self._help()
        )

    def _help(self) -> str:
        kinds = spoken_list([kind.words for kind in NumberKind])
        return f"You can ask for your {kinds} number, or give me another name or birth date."

    def _number(
        self, kind: NumberKind | None, other_date: date | None, other_name: str | None
    ) -> Reply:
        if kind is None:
            other_name_only = other_name and not other_date
            kind = NumberKind.EXPRESSION if other_name_only else NumberKind.LIFE_PATH
        name, birth = other_name or self.full_name, other_date or self.birth_date
        whose = "That" if (other_name or other_date) else "Your"
        try:
            result = compute(kind, full_name=name, birth_date=birth, year=self.today.year)
        except NumerologyInputError as exc:
            return Reply(f"{exc} Could you give it to me another way?")
        self.last, self.last_result = (kind, result.value), result
        reading = interpret(kind, result.value).split(". ", 1)[-1]
        # Short for the ear; "how did you work it out?" gets the arithmetic.
        return Reply(f"{whose} {kind.label} is {result.value}. {reading}", kinds=(kind,))

    def _more(self) -> str:
        assert self.last is not None
        kind, number = self.last
        if kind is NumberKind.PERSONAL_YEAR:
            return personal_year_theme(number)
        m = meaning(number)
        return (
            f"{number} is {m.title}: {', '.join(m.keywords)}. {m.strengths} "
            f"The challenge: {m.challenges[0].lower()}{m.challenges[1:]}"
        )

    def _summary(self) -> Reply:
        life = core.life_path_number(self.birth_date).value
        expression = core.expression_number(self.full_name).value
        year = core.personal_year_number(self.birth_date, self.today.year).value
        self.last = (NumberKind.LIFE_PATH, life)
        text = (
            f"Here are your main numbers. Your life path is {life}, {meaning(life).title}. "
            f"Your expression number is {expression}, {meaning(expression).title}. "
            f"And {self.today.year} is a personal year {year} for you. "
            "Ask me about any of them to hear more."
        )
        kinds = (NumberKind.LIFE_PATH, NumberKind.EXPRESSION, NumberKind.PERSONAL_YEAR)
        return Reply(text, kinds=kinds)
