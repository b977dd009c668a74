"""A person's full numerology profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from src.numerology.core import (
    NumberResult,
    birthday_number,
    check_year,
    expression_number,
    life_path_number,
    maturity_number,
    personal_year_number,
    personality_number,
    soul_urge_number,
)
from src.numerology.interpretations import interpret, meaning


@dataclass(frozen=True)
class Profile:
    """All core numbers for one name and birth date, for one calendar year.

    Attributes:
        full_name: The name as given.
        birth_date: The birth date.
        year: The calendar year of the personal year.
        numbers: Each core number by kind, in speaking order.
    """

    full_name: str
    birth_date: date
    year: int
    numbers: dict[str, NumberResult]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, with the reading of each number."""
        numbers = {}
        for kind, result in self.numbers.items():
            entry = result.to_dict()
            entry["reading"] = interpret(kind, result.value)
            if kind != "personal_year":
                m = meaning(result.value)
                entry.update(
                    title=m.title,
                    keywords=list(m.keywords),
                    strengths=m.strengths,
                    challenges=m.challenges,
                )
            numbers[kind] = entry
        return {
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat(),
            "year": self.year,
            "numbers": numbers,
        }


def full_profile(full_name: str, birth_date: date, year: int | None = None) -> Profile:
    """Every core number for a name and birth date (personal year for `year`, default now).

    Raises:
        NumerologyInputError: a name with no letters (or vowels or consonants), a name too
            long, a birth date in the future, or a year out of range.
    """
    year = check_year(date.today().year if year is None else year)
    numbers = {
        "life_path": life_path_number(birth_date),
        "expression": expression_number(full_name),
        "soul_urge": soul_urge_number(full_name),
        "personality": personality_number(full_name),
        "birthday": birthday_number(birth_date),
        "maturity": maturity_number(full_name, birth_date),
        "personal_year": personal_year_number(birth_date, year),
    }
    return Profile(full_name.strip(), birth_date, year, numbers)
