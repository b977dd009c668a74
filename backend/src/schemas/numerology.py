"""Request and response bodies for numerology."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


class CalculateRequest(BaseModel):
    """A name and birth date to calculate, and optionally the year of the personal year."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"full_name": "Ada Lovelace", "birth_date": "1990-12-10", "year": 2026}]
        }
    )

    full_name: FullName
    birth_date: Annotated[date, AfterValidator(_not_in_the_future)]
    year: Annotated[int | None, AfterValidator(_sane_year)] = None


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
                    "numbers": {"life_path": _LIFE_PATH_EXAMPLE},
                }
            ]
        }
    )

    full_name: str
    birth_date: date
    year: int
    numbers: dict[str, dict[str, Any]] = Field(
        description=f"{', '.join(NumberKind)}: "
        "value, components, chain, explanation, reading, title, keywords, ..."
    )
