"""Spoken years and days of the month as digits: "March third, nineteen ninety" = "March 3rd, 1990".

Moonshine writes dates as they are said, where Whisper writes digits; the dialogue reads dates
in digits. Only years and days next to a month change: "one", "seven" or "first" elsewhere
stay words (the numerologist's answers and questions use them as words).
"""

from __future__ import annotations

import re

from src.numerology.kinds import ordinal

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_VALUES = {w: i for i, w in enumerate(_UNITS + _TEENS)}
_VALUES |= {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "twelfth": 12,
} | {w + "th": _VALUES[w] for w in _TEENS if w != "twelve"}
_ORDINALS |= {"twentieth": 20, "thirtieth": 30}
_MONTHS = (
    "january february march april may june july august september october november december"
).split()

_UNIT = "|".join(_UNITS[1:])
_TEEN = "|".join(_TEENS)
_TEN = "|".join(_TENS)
# 1 to 99 in words: "four", "nineteen", "ninety", "ninety four", "ninety-four".
_UP_TO_99 = rf"(?:(?:{_TEN})(?:[- ](?:{_UNIT}))?|{_TEEN}|{_UNIT})"
_TEN_TO_99 = rf"(?:(?:{_TEN})(?:[- ](?:{_UNIT}))?|{_TEEN})"
# Birth years: 1800 to 2099. A wider range would read "eleven twenty-two" (two master numbers)
# as a year.
_CENTURY = "eighteen|nineteen|twenty"
_YEAR = re.compile(
    rf"\b(?:(?P<century>{_CENTURY}) hundred(?: and)?(?: (?P<rest>{_UP_TO_99}))?"
    rf"|two thousand(?: and)?(?: (?P<after2000>{_UP_TO_99}))?"
    rf"|(?P<high>{_CENTURY}) (?:(?P<low>{_TEN_TO_99})|(?:oh|o) (?P<oh>{_UNIT})))\b",
    re.IGNORECASE,
)
_ORDINAL_WORDS = "|".join(sorted(_ORDINALS, key=len, reverse=True))
_UNIT_ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_DAY = rf"(?:(?:twenty|thirty)[- ](?:{_UNIT_ORDINALS})|{_ORDINAL_WORDS}|{_UP_TO_99})"
_MONTH = "|".join(_MONTHS)
_DAY_AFTER_MONTH = re.compile(
    rf"\b(?P<month>{_MONTH})(?P<gap>,?\s+(?:the\s+)?)(?P<day>{_DAY})\b", re.IGNORECASE
)
_DAY_BEFORE_MONTH = re.compile(
    rf"\b(?P<day>{_DAY})(?P<gap>\s+of\s+)(?P<month>{_MONTH})\b", re.IGNORECASE
)


def _number(words: str) -> int:
    """The value of 1 to 99 in words ("ninety-four" -> 94; "third" -> 3)."""
    total = 0
    for word in re.split(r"[- ]", words.lower()):
        total += _ORDINALS[word] if word in _ORDINALS else _VALUES[word]
    return total


def _year(match: re.Match[str]) -> str:
    if match["century"]:
        rest = _number(match["rest"]) if match["rest"] else 0
        return str(_number(match["century"]) * 100 + rest)
    if match["high"] is None:
        return str(2000 + (_number(match["after2000"]) if match["after2000"] else 0))
    low = match["low"] or match["oh"]
    return str(_number(match["high"]) * 100 + _number(low))


def _ordinal(day: str) -> str | None:
    """The day in digits ("third" = "3rd", "three" = "3"); None beyond 31."""
    value = _number(day)
    if not 1 <= value <= 31:
        return None
    last = day.lower().rsplit(" ", 1)[-1].rsplit("-", 1)[-1]
    if last not in _ORDINALS:
        return str(value)
    return ordinal(value)


def _day(match: re.Match[str]) -> str:
    day = _ordinal(match["day"])
    if day is None:
        return match[0]
    if match.re is _DAY_AFTER_MONTH:
        return f"{match['month']}{match['gap']}{day}"
    return f"{day}{match['gap']}{match['month']}"


def with_digits(text: str) -> str:
    """`text` with spelled-out years, and days next to a month, written in digits."""
    text = _YEAR.sub(_year, text)
    text = _DAY_AFTER_MONTH.sub(_day, text)
    return _DAY_BEFORE_MONTH.sub(_day, text)


_CARDINAL = re.compile(rf"\b(?P<number>number )?(?P<n>{_UP_TO_99})\b", re.IGNORECASE)


def _cardinal(match: re.Match[str]) -> str:
    if match["n"].lower() == "one" and not match["number"]:
        return match[0]  # "that one", "one more": a word, unless it is "number one"
    return f"{match['number'] or ''}{_number(match['n'])}"


def cardinals_as_digits(text: str) -> str:
    """`text` with the numbers 1 to 99 in words written in digits ("eleven" -> "11"); a bare
    "one" stays a word. For asking what a number means; dates go through `with_digits` first.
    """
    return _CARDINAL.sub(_cardinal, text)
