"""Request and response bodies for numerology."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from src.core.clock import utcnow
from src.numerology.core import MAX_YEAR, MIN_YEAR
from src.numerology.kinds import NumberKind
from src.numerology.letters import MAX_NAME_LENGTH

FullName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
]


def _not_in_the_future(value: date) -> date:
    if value > utcnow().date():
        raise ValueError("birth_date must not be in the future")
    return value


def _sane_year(value: int | None) -> int | None:
    if value is not None and not MIN_YEAR <= value <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


def _sane_day(value: date | None) -> date | None:
    if value is not None:
        _sane_year(value.year)
    return value


BirthDate = Annotated[date, AfterValidator(_not_in_the_future)]
# The date of the personal month and day; today (UTC) when left out.
CycleDate = Annotated[
    date | None,
    AfterValidator(_sane_day),
    Field(description="The date of the personal month and day, YYYY-MM-DD; today if left out"),
]


class CalculateRequest(BaseModel):
    """A name and birth date to calculate; optionally the year of the personal year and the
    date of the personal month and day."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Ada Lovelace",
                    "birth_date": "1990-12-10",
                    "year": 2026,
                    "on": "2026-11-22",
                }
            ]
        }
    )

    full_name: FullName
    birth_date: BirthDate
    year: Annotated[
        int | None,
        AfterValidator(_sane_year),
        Field(description="The year of the personal year; the year of `on` if left out"),
    ] = None
    on: CycleDate = None

    @model_validator(mode="after")
    def _one_year(self) -> CalculateRequest:
        if self.year is not None and self.on is not None and self.on.year != self.year:
            raise ValueError("year and on must be in the same year (or give only one)")
        return self


class Person(BaseModel):
    """One person of a compatibility reading: a birth date, and a full name if known."""

    birth_date: BirthDate
    full_name: FullName | None = None


class CompatibilityRequest(BaseModel):
    """The partner, and the person (the signed-in user when left out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner": {"birth_date": "1966-05-09", "full_name": "John Smith"},
                    "person": {"birth_date": "1984-07-05", "full_name": "Ada Lovelace"},
                }
            ]
        }
    )

    partner: Person
    person: Person | None = Field(
        default=None, description="The first person; the signed-in user when left out"
    )


class CompatibilityPair(BaseModel):
    """One kind of number of both people and how they go together."""

    kind: NumberKind
    first: int
    second: int
    level: str = Field(description="natural, mirror, complementary or challenging")
    score: int = Field(ge=0, le=100)


class CompatibilityResponse(BaseModel):
    """How two people go together, by the rule set in the README's numerology section."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "score": 65,
                    "level": "complementary",
                    "pairs": [
                        {
                            "kind": "life_path",
                            "first": 7,
                            "second": 9,
                            "level": "complementary",
                            "score": 65,
                        }
                    ],
                    "summary": "Your life paths are 7 and 9: a complementary match. You are "
                    "different, and each brings what the other lacks. Overall, 65 out of 100.",
                    "explanation": "I compare the numbers at their root, in three families: ...",
                }
            ]
        }
    )

    score: int = Field(ge=0, le=100, description="The mean of the pairs' scores")
    level: str = Field(description="The life path pair's level")
    pairs: list[CompatibilityPair] = Field(
        description="The life path pair, then the expression pair when both names are given"
    )
    summary: str
    explanation: str


_LIFE_PATH_EXAMPLE: dict[str, Any] = {
    "kind": "life_path",
    "value": 5,
    "is_master": False,
    "components": [
        {"label": "month 12", "raw": 12, "reduced": 3, "letters": "", "stated": False},
        {"label": "day 10", "raw": 10, "reduced": 1, "letters": "", "stated": False},
        {"label": "year 1990", "raw": 1990, "reduced": 1, "letters": "", "stated": False},
    ],
    "chain": [5],
    "explanation": "Month 12 reduces to 3; day 10 reduces to 1; year 1990 reduces to 1. "
    "3 plus 1 plus 1 makes 5. So the number is 5.",
    "reading": "Your life path is 5, The Adventurer. Your journey is about learning to use "
    "freedom wisely and to welcome change.",
    "title": "The Adventurer",
    "keywords": ["freedom", "change", "curiosity"],
}


class NumerologyProfile(BaseModel):
    """Every core number with its arithmetic and reading."""

    # One number shown; the answer has every kind.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Ada Lovelace",
                    "birth_date": "1990-12-10",
                    "year": 2026,
                    "on": "2026-11-22",
                    "numbers": {"life_path": _LIFE_PATH_EXAMPLE},
                    "karmic_debts": [],
                    "lucky": {"numbers": [5, 1, 9], "days": [5, 14, 23]},
                }
            ]
        }
    )

    full_name: str
    birth_date: date
    year: int = Field(description="The year of the personal year")
    on: date = Field(description="The date of the personal month and day")
    numbers: dict[str, dict[str, Any]] = Field(
        description=f"{', '.join(NumberKind)}: "
        "value, components, chain, explanation, reading, title, keywords, ..."
    )
    karmic_debts: list[dict[str, Any]] = Field(
        description="Each 13, 14, 16 or 19 on the way to the life path, expression, soul urge, "
        "personality or birthday number: number, kind, chain, meaning"
    )
    lucky: dict[str, list[int]] = Field(
        description="numbers: the distinct life path, birthday and expression numbers; days: "
        "the days of a month that reduce to the life path's root"
    )
