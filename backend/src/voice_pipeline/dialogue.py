"""The built-in numerologist's dialogue: what the user asked, and what to say back.

Plain functions and one small class, testable without audio. The pipecat processor that uses
them is in `numerologist.py`. Each turn is read once (`Heard`: the kind of number it names, a
date, another person's name, a number on its own) and answered by the first entry of `INTENTS`
that it asks; a new intent is one more `Intent` in that table. The routing is measured on the
utterance set in `tests/voice/utterances.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from src.contract.bot import Memory
from src.numerology import (
    MASTER_NUMBERS_EXPLAINED,
    NumberKind,
    NumerologyInputError,
    compatibility,
    compute,
    core,
    interpret,
    karmic_debts,
    karmic_summary,
    lucky_numbers,
    meaning,
    number_meaning,
)
from src.numerology.interpretations import KARMIC_DEBTS
from src.numerology.kinds import spoken_list
from src.voice_pipeline import memory as past
from src.voice_pipeline.spoken_numbers import cardinals_as_digits, with_digits


def _any(*alternatives: str) -> re.Pattern[str]:
    """A pattern that matches any of the alternatives."""
    return re.compile("|".join(alternatives))


_CYCLE_WORDS = r"(?:energy|vibes?|forecast|theme|in store)"
# The phrases that name each kind, tried in this order: the first match wins, so "my
# birthday this year" is the personal year and "this month's energy" the personal month.
KIND_PATTERNS: dict[NumberKind, re.Pattern[str]] = {
    # Under load the recognisers lose the end of "path": "life, Pa", "life, Pat"; they also hear
    # "life past" and "life pass". Moonshine sometimes hears "life path" as "live path" (one
    # clip in a CI run of 2026-12-01).
    NumberKind.LIFE_PATH: _any(
        r"\blife'?s? ?pat?h?\b",
        r"\blive ?path\b",
        r"\blife number",
        r"\blife ?pa(?:st|ss)\b",
        r"\blife'?s? purpose",
        r"\bpath number",
    ),
    # Whisper tiny often hears "soul urge" as "sole urge", Moonshine base as "so urge".
    NumberKind.SOUL_URGE: _any(
        r"\bsoul",
        r"\bsole urge",
        r"\bso[- ]urge",
        r"\bheart'?s? ?desire",
        r"\bmy heart (?:really )?(?:wants?|desires?|longs? for)",
        r"\bnumber (?:for|of) my heart",
        r"\bmy heart'?s? number",
        r"\binner desire",
        r"\bdeepest desire",
        r"\bdeep down",
    ),
    NumberKind.PERSONALITY: _any(
        r"\bpersonality",
        r"\bhow (?:do |does |will )?(?:other )?(?:people|others|everyone) "
        r"(?:see|perceive|view)s? me",
        r"\bfirst impression",
        r"\bhow (?:do )?i come across",
        r"\bouter self",
        r"\bimpression i (?:make|give)",
    ),
    NumberKind.EXPRESSION: _any(
        r"\bexpression",
        r"\bdestiny",
        r"\bname number",
        r"\bnumbers? (?:of|for|from|in) my (?:full |birth |whole )?name",
        r"\bmy (?:full |birth )?name'?s? number",
        r"\bnumber (?:does |that )?my (?:full |birth )?name",
        r"\bwhat does my name (?:say|mean)",
    ),
    NumberKind.MATURITY: _any(
        r"\bmaturity",
        r"\bmature",
        r"\blater (?:in )?life",
        r"\bwhen i'?m older",
        r"\bas i (?:get|grow) older",
    ),
    NumberKind.PERSONAL_MONTH: _any(
        r"\bpersonal month",
        r"\b(?:this|next|last|coming) month",
        r"\bmonth ahead",
        r"\bmonthly",
    ),
    NumberKind.PERSONAL_DAY: _any(
        r"\bpersonal day",
        r"\b(?:today|tomorrow)'?s (?:energy|number|vibe|numerology|reading|forecast)",
        r"\b(?:energy|number|vibes?|forecast|reading|numerology) (?:for|of) (?:today|tomorrow)",
        r"\bwhat does (?:today|tomorrow) hold",
        r"\bday ahead",
        r"\bdaily (?:number|energy|reading|forecast)",
        r"\b(?:kind|sort) of day",
        r"\bhow (?:is|will) (?:my |the )?day\b",
        r"\bmy day\b",
        r"^(?:and |what about |how about )?(?:for )?(?:today|tomorrow)$",
        rf"\b{_CYCLE_WORDS}\b.*\b(?:today|tomorrow|the day)\b",
        rf"\b(?:today|tomorrow)\b.*\b{_CYCLE_WORDS}\b",
    ),
    NumberKind.PERSONAL_YEAR: _any(
        r"\bpersonal year",
        r"\b(?:this|next|last|coming) year",
        r"\byear ahead",
        r"\bmy year",
        r"\byearly",
        r"\b(?:kind|sort) of year",
        rf"\b{_CYCLE_WORDS}\b.*\b(?:the|this) year\b",
    ),
    NumberKind.BIRTHDAY: _any(
        r"\bbirthday",
        r"\bbirth day",
        r"\bday (?:that )?i was born",
        r"\bday of (?:my )?birth",
    ),
}
# "What's my number?": the main number, the life path, when no other kind is named.
_MY_NUMBER = re.compile(r"\b(?:my|main|core) number\b(?! for)")
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
# Words no name the user asks about has: "for how other people see me" is no one's name.
_NOT_NAME_WORDS = {
    "how",
    "what",
    "people",
    "other",
    "others",
    "see",
    "number",
    "numbers",
    "today",
    "tomorrow",
    "month",
    "day",
    "is",
    "are",
    "i",
    "am",
    "was",
    "someone",
    "somebody",
    "him",
    "her",
    "them",
    "us",
    "life",
    "path",
    "name",
    "heart",
    "when",
    "later",
    *MONTHS,
    "partner",
    "wife",
    "husband",
    "boyfriend",
    "girlfriend",
    "friend",
}
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
HELP = re.compile(
    r"\b(help|what can you do|what do you do|how does this work|what can i ask"
    r"|what (sorts?|kinds?) of (things|questions) can i ask)\b"
)
ALL = re.compile(
    r"\b(all (of )?my numbers|my numbers|my profile|my chart|reading|my numerology$"
    r"|everything about my numbers)\b"
)
COMPATIBLE = re.compile(
    r"\bcompat[ai]b|\bgood match|\bmatch (?:for|with)|\bdo we match|\bwe match\b|\bget along"
    r"|\bsoul ?mates?\b|\bare we (?:a )?(?:good|right|meant|suited)|\bmeant to be|\blove match"
    r"|\bhow do we fit|\bsuited to each other|\bgo together\b|\bwork as a couple"
)
# Someone else the user speaks of, who needs a birth date before anything can be read.
OTHER_PERSON = re.compile(
    r"\b(?:partner|wife|husband|boyfriend|girlfriend|fianc[eé]e?|spouse|son|daughter|mother|"
    r"mom|mum|father|dad|brother|sister|friend|boss|child|kid|baby|colleague|crush|ex)(?:'?s)?\b"
)
KARMIC = re.compile(r"\bkarm|\bcarm|\bdebt number")
LUCKY = re.compile(r"\bluck|\bfortunate number")
MASTERS = re.compile(
    r"\bmaster numbers?\b|\b11,? 22,? (?:and|or|&) 33\b|\b(?:11|22|33)\b.*\bspecial"
    r"|\bspecial about (?:the )?(?:number )?(?:11|22|33)\b|\bwhat(?:'s| is) a master\b"
)
# Asking what a named number means ("what does 11 mean?", "tell me about the number 7").
NUMBER_ASK = re.compile(
    r"\bmean|\bsignif|\bstand for|\bsymboli|\brepresent|\babout (?:the )?(?:number )?\d"
    r"|\bthe number \d|\bnumber \d+ (?:about|like)\b|\bwhat is (?:a |an )?\d+\b"
)
_A_NUMBER = re.compile(r"\b(\d{1,4})\b")
# Readings the dialogue has no rule for: an honest "not that one" rather than a near miss.
UNSUPPORTED = re.compile(
    r"\bkarmic lessons?|\bzodiac|\bstar sign|\bhoroscope|\btarot|\bangel numbers?"
    r"|\bchinese|\bhidden passion|\bbridge number|\bpinnacle|\bchallenge number"
    r"|\bcornerstone|\bcapstone|\bbalance number|\bsubconscious self|\bplanes? of expression"
    r"|\bpersonal (?:hour|week)|\buniversal (?:year|month|day)|\bastrolog|\bpalm"
)
_NEXT = re.compile(r"\b(?P<which>next|last) (?P<unit>year|month)\b")
_TOMORROW = re.compile(r"\btomorrow")
_YEAR_ALONE = re.compile(r"\b(?:in|for|of|during) (?P<year>1[89]\d\d|2[01]\d\d)\b")
_BORN = re.compile(r"\bborn\b|\bbirth ?date|\bbirthday")
# A date that is not whole: a month with a day or a year, or a day with a month.
_PART_DATE = re.compile(
    rf"\b(?:{_MONTH})\s+(?:the\s+)?\d|\d(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b"
    r"|\bborn (?:in|on) (?:1[89]|20)\d\d\b"
)


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
    intents = (GOODBYE, ALL, HOW, MEANING, THANKS, HELP, COMPATIBLE, KARMIC, LUCKY, MASTERS)
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
    if any(word in _NOT_NAME_WORDS or word in _NOT_NAMES for word in words):
        return None
    return " ".join(w.capitalize() for w in words[:4])


@dataclass(frozen=True)
class Heard:
    """What one user turn said, read once: the text and what it names.

    Attributes:
        text: The normalised text, dates in digits.
        numbers: The text with number words in digits too ("eleven" -> "11").
        kind: The kind of number named, if any.
        date: A whole date in it, if any.
        name: Another person's name in it, if any.
        number: A number named on its own (not in a date), if any.
    """

    text: str
    numbers: str
    kind: NumberKind | None
    date: date | None
    name: str | None
    number: int | None

    @classmethod
    def of(cls, utterance: str) -> Heard:
        """Read one utterance."""
        text = normalise(with_digits(utterance))
        numbers = cardinals_as_digits(text)
        kind = find_kind(text)
        if kind is None and _MY_NUMBER.search(text):
            kind = NumberKind.LIFE_PATH
        found = find_date(text)
        number = None
        if found is None and (match := _A_NUMBER.search(_DATE_NUMBERS.sub(" ", numbers))):
            number = int(match[1])
        return cls(text, numbers, kind, found, find_name(text), number)

    @property
    def part_date(self) -> bool:
        """Whether it has a date that is not whole ("March 1990", "the 3rd of March")."""
        return self.date is None and bool(_PART_DATE.search(self.text))


@dataclass
class Reply:
    """What to say, and whether the conversation ends after it.

    Attributes:
        text: What to say.
        end: Whether the conversation ends after it.
        kinds: The kinds of number the reply told the user about, so a conversation's
            topics can be recorded; empty when it gave no number or reading.
        intent: The name of the intent that answered (`INTENTS`), for measuring the routing.
    """

    text: str
    end: bool = False
    kinds: tuple[NumberKind, ...] = ()
    intent: str = ""


@dataclass(frozen=True)
class Intent:
    """One thing a user can ask: when a turn asks it, and how the numerologist answers.

    Attributes:
        name: Its name (`Reply.intent`).
        asks: Whether a turn asks it.
        answer: The answer, from the numerologist and the turn.
    """

    name: str
    asks: Callable[[Numerologist, Heard], bool]
    answer: Callable[[Numerologist, Heard], Reply]


@dataclass
class Numerologist:
    """One conversation's numerologist: the user's profile and what was last discussed.

    Attributes:
        last: The kind and value of the number last given, for "what does it mean?".
        last_how: How the last answer was worked out, for "how did you work it out?".
        waiting_for: What the last answer asked the user for ("compatibility", or a kind of
            number of someone else), so that a birth date on its own answers it.
    """

    full_name: str
    first_name: str
    birth_date: date
    today: date = field(default_factory=date.today)
    last: tuple[NumberKind, int] | None = None
    last_how: str | None = None
    waiting_for: str | NumberKind | None = None
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
        """Answer one user turn: the first intent of `INTENTS` that the turn asks."""
        heard = Heard.of(utterance)
        waiting_for, self.waiting_for = self.waiting_for, None
        if (
            isinstance(waiting_for, NumberKind)
            and heard.kind is None
            and (heard.date or heard.name)
        ):
            heard = replace(heard, kind=waiting_for)  # their birth date or name, for the kind
        for intent in INTENTS:
            if intent.asks(self, heard) or _answers_question(intent, waiting_for, heard):
                reply = intent.answer(self, heard)
                reply.intent = intent.name
                return reply
        raise AssertionError("the last intent asks every turn")

    # The answers, one per intent.

    def _sorry(self, _heard: Heard) -> Reply:
        return Reply("Sorry, I didn't catch that. Could you say it again?")

    def _last_time(self, _heard: Heard) -> Reply:
        return Reply(past.recall(self.memory, self.today))

    def _goodbye(self, _heard: Heard) -> Reply:
        return Reply(
            f"Goodbye {self.first_name}, it was a pleasure. May your numbers be kind to you!",
            end=True,
        )

    def _unsupported(self, _heard: Heard) -> Reply:
        return Reply(f"That one is outside what I can work out. {_CAN_DO}")

    def _compatibility(self, heard: Heard) -> Reply:
        if heard.date is None:
            self.waiting_for = "compatibility"
            return Reply(
                "I can compare your numbers with your partner's. What is their birth date, "
                "with the day, month and year?"
            )
        try:
            reading = compatibility(self.birth_date, heard.date, self.full_name, heard.name)
        except NumerologyInputError as exc:
            return Reply(f"{exc} Could you give it to me another way?")
        self.last, self.last_how = None, reading.explain()
        return Reply(reading.summary(), kinds=(NumberKind.LIFE_PATH,))

    def _karmic(self, heard: Heard) -> Reply:
        if heard.number in KARMIC_DEBTS:
            return Reply(KARMIC_DEBTS[heard.number])
        birth, name, whose = self._whose(heard)
        try:
            debts = karmic_debts(birth, name)
        except NumerologyInputError as exc:
            return Reply(f"{exc} Could you give it to me another way?")
        self.last_how = (
            "I look for 13, 14, 16 or 19 on the way to the life path, expression, soul urge, "
            "personality and birthday numbers."
        )
        text = karmic_summary(debts, with_name=name is not None, whose=whose)
        return Reply(text, kinds=(NumberKind.LIFE_PATH,))

    def _lucky(self, heard: Heard) -> Reply:
        self.last_how = (
            "Lucky numbers are the life path, birthday and expression numbers; lucky days are "
            "the days of the month that add up to the life path."
        )
        birth, name, whose = self._whose(heard)
        try:
            lucky = lucky_numbers(birth, name)
        except NumerologyInputError as exc:
            return Reply(f"{exc} Could you give it to me another way?")
        return Reply(lucky.spoken(whose), kinds=(NumberKind.LIFE_PATH,))

    def _whose(self, heard: Heard) -> tuple[date, str | None, str]:
        """The birth date and name a reading is for: a date in the turn (and the name with
        it), or the user's own."""
        if heard.date is not None:
            return heard.date, heard.name, "their"
        return self.birth_date, self.full_name, "your"

    def _masters(self, _heard: Heard) -> Reply:
        return Reply(MASTER_NUMBERS_EXPLAINED)

    def _number_meaning(self, heard: Heard) -> Reply:
        assert heard.number is not None
        kind = heard.kind
        if kind is not None and not kind.is_cycle and re.search(r"\bmy\b", heard.text):
            try:
                own = compute(kind, full_name=self.full_name, birth_date=self.birth_date).value
            except NumerologyInputError as exc:
                return Reply(str(exc))
            if own != heard.number:
                return Reply(
                    f"By my count your {kind.label} is {own}, not {heard.number}. "
                    f"Ask me what it means and I'll tell you.",
                    kinds=(kind,),
                )
        try:
            text = number_meaning(heard.number)
        except NumerologyInputError as exc:
            return Reply(str(exc))
        return Reply(text)

    def _other_person(self, heard: Heard) -> Reply:
        kind = heard.kind
        self.waiting_for = kind if kind is not None else "compatibility"
        needs = "birth date"
        if kind is NumberKind.MATURITY:
            needs = "full name and birth date"
        elif kind in _NAME_KINDS:
            needs = "full name"
        return Reply(f"I'd need their {needs} for that. What is it?")

    def _part_date(self, _heard: Heard) -> Reply:
        return Reply(
            "I need the whole date for that: the day, the month and the year. "
            "What is the full date?"
        )

    def _how(self, _heard: Heard) -> Reply:
        assert self.last_how is not None
        kinds = (self.last[0],) if self.last else ()
        return Reply(self.last_how, kinds=kinds)

    def _meaning(self, _heard: Heard) -> Reply:
        assert self.last is not None
        return Reply(self._more(), kinds=(self.last[0],))

    def _thanks(self, _heard: Heard) -> Reply:
        return Reply("You're very welcome. Is there another number you'd like to explore?")

    def _help(self, _heard: Heard) -> Reply:
        kinds = spoken_list([kind.words for kind in _PERSON_KINDS])
        return Reply(
            f"You can ask for your {kinds} number, your personal year, month or day, "
            "compatibility with a partner, karmic debts, lucky numbers, or what any number "
            "means; or give me another name or birth date."
        )

    def _unknown(self, _heard: Heard) -> Reply:
        return Reply("I'm a numerologist, so numbers are all I can really help with. " + _CAN_DO)

    def _number(self, heard: Heard) -> Reply:
        kind, other_date, other_name = heard.kind, heard.date, heard.name
        on, when = self._when(heard)
        if kind is not None and kind.is_cycle and other_date and not _BORN.search(heard.text):
            on, when, other_date = other_date, f"On {other_date:%B} {other_date.day}, ", None
            if kind is NumberKind.PERSONAL_YEAR:
                when = f"In {on.year}, "
        if kind is None:
            kind = self._follow_up_kind(other_date, other_name)
        if missing := _missing_input(kind, other_date, other_name):
            self.waiting_for = kind
            return Reply(f"The {kind.label} comes from the {missing}. What is their {missing}?")
        name, birth = other_name or self.full_name, other_date or self.birth_date
        whose = "that" if (other_name or other_date) else "your"
        try:
            result = compute(kind, full_name=name, birth_date=birth, year=on.year, on=on)
        except NumerologyInputError as exc:
            return Reply(f"{exc} Could you give it to me another way?")
        self.last, self.last_how = (kind, result.value), result.explain()
        reading = interpret(kind, result.value).split(". ", 1)[-1]
        # Short for the ear; "how did you work it out?" gets the arithmetic.
        said = f"{when}{whose} {kind.label} is {result.value}."
        return Reply(f"{said[:1].upper()}{said[1:]} {reading}", kinds=(kind,))

    def _follow_up_kind(self, other_date: date | None, other_name: str | None) -> NumberKind:
        """The kind a turn that names none asks about: the last one, if it can be found from
        what was given ("and for John Smith?" after a soul urge), else the main one."""
        last = self.last[0] if self.last else None
        if other_name and not other_date:
            return last if last in _NAME_KINDS else NumberKind.EXPRESSION
        if last is not None and last not in _NAME_KINDS and last is not NumberKind.MATURITY:
            return last
        return NumberKind.LIFE_PATH

    def _when(self, heard: Heard) -> tuple[date, str]:
        """The date of a personal year, month or day, and how to say it when not today."""
        on = self.today
        if match := _NEXT.search(heard.text):
            step = -1 if match["which"] == "last" else 1
            if match["unit"] == "year":
                return on.replace(year=on.year + step, day=min(on.day, 28)), (
                    f"{'Last' if step < 0 else 'Next'} year, "
                )
            month = on.month - 1 + step
            on = date(on.year + month // 12, month % 12 + 1, 1)
            return on, f"{'Last' if step < 0 else 'Next'} month, "
        if _TOMORROW.search(heard.text):
            return on + timedelta(days=1), "Tomorrow, "
        if (match := _YEAR_ALONE.search(heard.text)) and heard.date is None:
            return on.replace(year=int(match["year"]), day=min(on.day, 28)), (
                f"In {match['year']}, "
            )
        return on, ""

    def _more(self) -> str:
        assert self.last is not None
        kind, number = self.last
        if kind.is_cycle:
            return interpret(kind, number)
        m = meaning(number)
        return (
            f"{number} is {m.title}: {', '.join(m.keywords)}. {m.strengths} "
            f"The challenge: {m.challenges[0].lower()}{m.challenges[1:]}"
        )

    def _summary(self, _heard: Heard) -> Reply:
        life = core.life_path_number(self.birth_date).value
        expression = core.expression_number(self.full_name).value
        year = core.personal_year_number(self.birth_date, self.today.year).value
        self.last = (NumberKind.LIFE_PATH, life)
        self.last_how = core.life_path_number(self.birth_date).explain()
        text = (
            f"Here are your main numbers. Your life path is {life}, {meaning(life).title}. "
            f"Your expression number is {expression}, {meaning(expression).title}. "
            f"And {self.today.year} is a personal year {year} for you. "
            "Ask me about any of them to hear more."
        )
        kinds = (NumberKind.LIFE_PATH, NumberKind.EXPRESSION, NumberKind.PERSONAL_YEAR)
        return Reply(text, kinds=kinds)


# What the numerologist can do, in one short sentence for the replies that cannot answer.
_CAN_DO = (
    "Ask me for any of your numbers, today's energy, compatibility with a partner, "
    "or what a number means."
)
_NAME_KINDS = frozenset({NumberKind.EXPRESSION, NumberKind.SOUL_URGE, NumberKind.PERSONALITY})
_PERSON_KINDS = [kind for kind in NumberKind if not kind.is_cycle]


def _missing_input(kind: NumberKind, other_date: date | None, other_name: str | None) -> str:
    """What of someone else's a kind needs and the turn did not give ("" for nothing): never
    a number of theirs worked out from the user's own name or birth date."""
    if kind is NumberKind.MATURITY and bool(other_date) != bool(other_name):
        return "birth date" if other_name else "full name"
    if kind in _NAME_KINDS and other_date and not other_name:
        return "full name"
    if kind not in _NAME_KINDS and other_name and not other_date:
        return "birth date"
    return ""


def _answers_question(intent: Intent, waiting_for: object, heard: Heard) -> bool:
    """Whether a turn that gives a birth date answers the last reply's "what is their birth
    date?" for a compatibility reading."""
    return (
        waiting_for == "compatibility"
        and intent.name == "compatibility"
        and heard.kind is None
        and heard.date is not None
    )


# "... number of/for <words>" where the words are no name it can read and not the user
# ("of me", "for my birthday", "for how people see me"): "the expression number of" + a
# misheard "Marie Curie" ("are you curious") is someone else's number, not the user's own.
_OF_SOMEBODY = re.compile(r"\bnumbers? (?:of|for) (?P<first>[a-z']+)")
_NOT_SOMEBODY = frozenset(
    {"me", "my", "myself", "mine", "i", "us", "our", "how", "what", "which", "who", "when"}
    | {"where", "the", "a", "an", "this", "that", "today", "tomorrow", "next", "last", "it"}
)


def _talks_of_someone_else(heard: Heard) -> bool:
    """A question about someone else (a partner, a friend, an unreadable name after "number of")
    with no date or name to read."""
    if heard.date is not None or heard.name is not None:
        return False
    if OTHER_PERSON.search(heard.text):
        return True
    of = _OF_SOMEBODY.search(heard.text)
    return heard.kind in _NAME_KINDS and of is not None and of["first"] not in _NOT_SOMEBODY


# What a user can ask, tried in this order; the first whose `asks` is true answers. Another
# intent is one more entry (its `asks` and `answer` can be plain functions of the turn).
INTENTS: tuple[Intent, ...] = (
    Intent("sorry", lambda _n, h: not h.text, Numerologist._sorry),
    Intent("goodbye", lambda _n, h: bool(GOODBYE.search(h.text)), Numerologist._goodbye),
    Intent("last_time", lambda _n, h: past.asks_about_past(h.text), Numerologist._last_time),
    Intent(
        "unsupported", lambda _n, h: bool(UNSUPPORTED.search(h.text)), Numerologist._unsupported
    ),
    Intent(
        "compatibility",
        lambda _n, h: (
            bool(COMPATIBLE.search(h.text))
            or (bool(OTHER_PERSON.search(h.text)) and h.date is not None and h.kind is None)
        ),
        Numerologist._compatibility,
    ),
    Intent(
        "karmic_debt",
        lambda _n, h: bool(KARMIC.search(h.text)) and not _talks_of_someone_else(h),
        Numerologist._karmic,
    ),
    Intent(
        "lucky_numbers",
        lambda _n, h: bool(LUCKY.search(h.text)) and not _talks_of_someone_else(h),
        Numerologist._lucky,
    ),
    Intent("master_numbers", lambda _n, h: bool(MASTERS.search(h.numbers)), Numerologist._masters),
    Intent(
        "number_meaning",
        lambda _n, h: (
            h.number is not None
            and bool(NUMBER_ASK.search(h.numbers))
            and not h.part_date
            and not (h.kind is not None and h.kind.is_cycle)
        ),
        Numerologist._number_meaning,
    ),
    Intent("other_person", lambda _n, h: _talks_of_someone_else(h), Numerologist._other_person),
    Intent(
        "part_date",
        lambda _n, h: h.part_date and not (h.kind is not None and h.kind.is_cycle),
        Numerologist._part_date,
    ),
    Intent(
        "number",
        lambda _n, h: bool(h.kind or h.date or h.name),
        Numerologist._number,
    ),
    Intent("all_numbers", lambda _n, h: bool(ALL.search(h.text)), Numerologist._summary),
    Intent(
        "how", lambda n, h: bool(HOW.search(h.text)) and n.last_how is not None, Numerologist._how
    ),
    Intent(
        "meaning",
        lambda n, h: bool(MEANING.search(h.text)) and n.last is not None,
        Numerologist._meaning,
    ),
    Intent("thanks", lambda _n, h: bool(THANKS.search(h.text)), Numerologist._thanks),
    Intent("help", lambda _n, h: bool(HELP.search(h.text)), Numerologist._help),
    Intent("unknown", lambda _n, _h: True, Numerologist._unknown),
)
