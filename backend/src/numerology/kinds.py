"""The kinds of number: the one list that the engine, the readings, the tools and the dialogue
all key on."""

from __future__ import annotations

from enum import StrEnum


class NumberKind(StrEnum):
    """A kind of numerology number; its value is the name used in JSON, tools and the API.

    The members are in speaking order, the order a profile lists them in.
    """

    LIFE_PATH = "life_path"
    EXPRESSION = "expression"
    SOUL_URGE = "soul_urge"
    PERSONALITY = "personality"
    BIRTHDAY = "birthday"
    MATURITY = "maturity"
    PERSONAL_YEAR = "personal_year"
    PERSONAL_MONTH = "personal_month"
    PERSONAL_DAY = "personal_day"

    @property
    def words(self) -> str:
        """The kind as spoken words: "life path"."""
        return self.value.replace("_", " ")

    @property
    def is_cycle(self) -> bool:
        """Whether it is a personal cycle number (year, month, day): a date's, not a person's."""
        return self in _CYCLES

    @property
    def label(self) -> str:
        """The spoken name of a number of this kind: "life path number"."""
        return f"{self.words} number"


_CYCLES = frozenset({NumberKind.PERSONAL_YEAR, NumberKind.PERSONAL_MONTH, NumberKind.PERSONAL_DAY})


def spoken_list(items: list[str], last: str = "or") -> str:
    """Items joined for the ear: "a, b or c" (or "a, b and c" with `last="and"`)."""
    return f"{', '.join(items[:-1])} {last} {items[-1]}" if len(items) > 1 else "".join(items)


def ordinal(n: int) -> str:
    """A number as a spoken ordinal in digits: 1st, 2nd, 3rd, 11th, 22nd."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 // 10 != 1 else 0, "th")
    return f"{n}{suffix}"
