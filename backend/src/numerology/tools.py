"""The engine as LLM tools: OpenAI-style schemas and a dispatcher, from one set of models.

The JSON-schema parameters are generated from the same pydantic models that validate the
arguments, so the schemas and the validation cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from src.numerology import core
from src.numerology.errors import NumerologyInputError
from src.numerology.interpretations import interpret
from src.numerology.letters import MAX_NAME_LENGTH

Kind = Literal[
    "life_path",
    "expression",
    "soul_urge",
    "personality",
    "birthday",
    "maturity",
    "personal_year",
]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Only a YYYY-MM-DD string or a date: no timestamps, datetimes or other date spellings."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("a date must be written as YYYY-MM-DD, for example 1990-07-15")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BirthDateArgs(_Args):
    """Arguments of the tools that need a birth date.

    Attributes:
        birth_date: The birth date, written YYYY-MM-DD; not in the future.
    """

    birth_date: IsoDate = Field(description="Birth date, YYYY-MM-DD")


class NameArgs(_Args):
    """Arguments of the tools that need a full name.

    Attributes:
        full_name: The full birth name, at most 200 characters.
    """

    full_name: StrictStr = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, description="Full birth name"
    )


class MaturityArgs(NameArgs, BirthDateArgs):
    """Arguments of the maturity tool: a full name and a birth date."""


class PersonalYearArgs(BirthDateArgs):
    """Arguments of the personal year tool.

    Attributes:
        year: The calendar year, 1800 to 2200; the current year when left out.
    """

    year: StrictInt | None = Field(
        default=None,
        ge=core.MIN_YEAR,
        le=core.MAX_YEAR,
        description="Calendar year; the current year if left out",
    )


class InterpretArgs(_Args):
    """Arguments of the reading tool.

    Attributes:
        kind: Which kind of number it is, such as life_path.
        number: The number to read: 1 to 9, 11, 22 or 33; 1 to 9 for a personal year.
    """

    kind: Kind = Field(description="Which kind of number it is")
    number: StrictInt = Field(description="The number: 1 to 9, 11, 22 or 33 (1 to 9 for years)")


def _number(result: core.NumberResult) -> dict[str, Any]:
    return {
        "number": result.value,
        "explanation": result.explain(),
        "meaning": interpret(result.kind, result.value),
    }


_TOOLS: dict[str, tuple[str, type[_Args], Callable[[Any], dict[str, Any]]]] = {
    "life_path_number": (
        "The life path number of a birth date, the most important number.",
        BirthDateArgs,
        lambda a: _number(core.life_path_number(a.birth_date)),
    ),
    "birthday_number": (
        "The birthday number: the day of the month of a birth date, reduced.",
        BirthDateArgs,
        lambda a: _number(core.birthday_number(a.birth_date)),
    ),
    "expression_number": (
        "The expression (destiny) number of a full birth name.",
        NameArgs,
        lambda a: _number(core.expression_number(a.full_name)),
    ),
    "soul_urge_number": (
        "The soul urge (heart's desire) number of a full name, from its vowels.",
        NameArgs,
        lambda a: _number(core.soul_urge_number(a.full_name)),
    ),
    "personality_number": (
        "The personality number of a full name, from its consonants.",
        NameArgs,
        lambda a: _number(core.personality_number(a.full_name)),
    ),
    "maturity_number": (
        "The maturity number: life path plus expression, reduced.",
        MaturityArgs,
        lambda a: _number(core.maturity_number(a.full_name, a.birth_date)),
    ),
    "personal_year_number": (
        "The personal year number (1 to 9) of a birth date for a calendar year.",
        PersonalYearArgs,
        lambda a: _number(core.personal_year_number(a.birth_date, a.year or date.today().year)),
    ),
    "interpret_number": (
        "A short spoken reading of what a number means for a kind of number.",
        InterpretArgs,
        lambda a: {"number": a.number, "meaning": interpret(a.kind, a.number)},
    ),
}


def _schema(model: type[_Args]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)  # the class docstring; the tool has its own description
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": _schema(model)},
    }
    for name, (description, model, _run) in _TOOLS.items()
]


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: "
        + e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )


def dispatch_tool(name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    """Validate the arguments, run the tool and return its JSON result, or {"error": ...}."""
    tool = _TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        return {"error": f"Unknown tool {name!r}. Known tools: {', '.join(_TOOLS)}."}
    _description, model, run = tool
    try:
        raw = json.loads(arguments or "{}") if isinstance(arguments, str) else arguments
    except (json.JSONDecodeError, RecursionError):
        return {"error": "The arguments are not valid JSON."}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return {"error": "The arguments must be a JSON object."}
    try:
        return run(model.model_validate(raw))
    except ValidationError as exc:
        return {"error": f"Invalid arguments for {name}: {_problems(exc)}"}
    except NumerologyInputError as exc:
        return {"error": str(exc)}
