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
            "examples": [{"full_name": "Ada Lovelace", "birth_date": "1815-12-10", "year": 2026}]
        }
    )

    full_name: FullName
    birth_date: Annotated[date, AfterValidator(_not_in_the_future)]
    year: Annotated[int | None, AfterValidator(_sane_year)] = None


class NumerologyProfile(BaseModel):
    """Every core number with its arithmetic and reading."""

    full_name: str
    birth_date: date
    year: int
    numbers: dict[str, dict[str, Any]] = Field(
        description=f"{', '.join(NumberKind)}: "
        "value, components, chain, explanation, reading, title, keywords, ..."
    )
