"""A person's full numerology profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from src.numerology.core import NumberResult, check_year, compute
from src.numerology.interpretations import interpret, meaning
from src.numerology.kinds import NumberKind


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
    numbers: dict[NumberKind, NumberResult]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, with the reading of each number."""
        numbers = {}
        for kind, result in self.numbers.items():
            entry = result.to_dict()
            entry["reading"] = interpret(kind, result.value)
            if kind is not NumberKind.PERSONAL_YEAR:
                m = meaning(result.value)
                entry.update(
                    title=m.title,
                    keywords=list(m.keywords),
                    strengths=m.strengths,
                    challenges=m.challenges,
                )
            numbers[kind.value] = entry
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
        kind: compute(kind, full_name=full_name, birth_date=birth_date, year=year)
        for kind in NumberKind
    }
    return Profile(full_name.strip(), birth_date, year, numbers)
