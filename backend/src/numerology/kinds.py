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

    @property
    def words(self) -> str:
        """The kind as spoken words: "life path"."""
        return self.value.replace("_", " ")

    @property
    def label(self) -> str:
        """The spoken name of a number of this kind: "life path number"."""
        return f"{self.words} number"


def spoken_list(items: list[str]) -> str:
    """Items joined for the ear: "a, b or c"."""
    return f"{', '.join(items[:-1])} or {items[-1]}" if len(items) > 1 else "".join(items)
