"""A person's full numerology profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from src.numerology.core import NumberResult, check_year, compute
from src.numerology.interpretations import interpret, meaning
from src.numerology.kinds import NumberKind
from src.numerology.readings import karmic_debts, lucky_numbers


@dataclass(frozen=True)
class Profile:
    """All core numbers for one name and birth date, for one calendar year.

    Attributes:
        full_name: The name as given.
        birth_date: The birth date.
        year: The calendar year of the personal year.
        on: The date of the personal month and day.
        numbers: Each core number by kind, in speaking order.
    """

    full_name: str
    birth_date: date
    year: int
    on: date
    numbers: dict[NumberKind, NumberResult]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, with the reading of each number."""
        numbers = {}
        for kind, result in self.numbers.items():
            entry = result.to_dict()
            entry["reading"] = interpret(kind, result.value)
            if not kind.is_cycle:
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
            "on": self.on.isoformat(),
            "numbers": numbers,
            "karmic_debts": [d.to_dict() for d in karmic_debts(self.birth_date, self.full_name)],
            "lucky": lucky_numbers(self.birth_date, self.full_name).to_dict(),
        }


def full_profile(
    full_name: str, birth_date: date, year: int | None = None, on: date | None = None
) -> Profile:
    """Every core number for a name and birth date: the personal year for `year` (default
    `on`'s year), the personal month and day for the date `on` (default today).

    Raises:
        NumerologyInputError: a name with no letters (or vowels or consonants), a name too
            long, a birth date in the future, or a year out of range.
    """
    on = date.today() if on is None else on
    year = check_year(on.year if year is None else year)
    numbers = {
        kind: compute(kind, full_name=full_name, birth_date=birth_date, year=year, on=on)
        for kind in NumberKind
    }
    return Profile(full_name.strip(), birth_date, year, on, numbers)
