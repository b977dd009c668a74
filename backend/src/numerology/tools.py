"""The engine as LLM tools: OpenAI-style schemas and a dispatcher, from one set of models.

The JSON-schema parameters are generated from the same pydantic models that validate the
arguments, so the schemas and the validation cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from src.numerology import core, readings
from src.numerology.errors import NumerologyInputError
from src.numerology.interpretations import interpret, number_meaning
from src.numerology.kinds import NumberKind
from src.numerology.letters import MAX_NAME_LENGTH

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


class CycleArgs(BirthDateArgs):
    """Arguments of the personal month and day tools.

    Attributes:
        on: The date, YYYY-MM-DD, 1800 to 2200; today when left out.
    """

    on: IsoDate | None = Field(
        default=None, description="The date of the month or day, YYYY-MM-DD; today if left out"
    )


def _optional_name(description: str) -> Any:
    return Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH, description=description)


class OptionalNameArgs(BirthDateArgs):
    """Arguments of the readings of a birth date and, when known, a full name.

    Attributes:
        full_name: The full birth name, at most 200 characters; left out when not known.
    """

    full_name: StrictStr | None = _optional_name("Full birth name, if known")


class CompatibilityArgs(OptionalNameArgs):
    """Arguments of the compatibility tool: both people's birth dates, names when known.

    Attributes:
        partner_birth_date: The partner's birth date, YYYY-MM-DD.
        partner_full_name: The partner's full birth name, if known.
    """

    partner_birth_date: IsoDate = Field(description="The partner's birth date, YYYY-MM-DD")
    partner_full_name: StrictStr | None = _optional_name("The partner's full birth name, if known")


class MeaningArgs(_Args):
    """Arguments of the general meaning tool.

    Attributes:
        number: Any whole number from 1 to 9999: a core number, a karmic debt or one to reduce.
    """

    number: StrictInt = Field(ge=1, le=9999, description="The number, 1 to 9999")


class InterpretArgs(_Args):
    """Arguments of the reading tool.

    Attributes:
        kind: Which kind of number it is, such as life_path.
        number: The number to read: 1 to 9, 11, 22 or 33; 1 to 9 for a personal year.
    """

    kind: NumberKind = Field(description="Which kind of number it is")
    number: StrictInt = Field(description="The number: 1 to 9, 11, 22 or 33 (1 to 9 for years)")


def _number(result: core.NumberResult) -> dict[str, Any]:
    return {
        "number": result.value,
        "explanation": result.explain(),
        "meaning": interpret(result.kind, result.value),
    }


# Each number tool is named after its kind ("life_path_number"), in the order the LLM sees them.
_NUMBER_TOOLS: dict[NumberKind, tuple[str, type[_Args]]] = {
    NumberKind.LIFE_PATH: (
        "The life path number of a birth date, the most important number.",
        BirthDateArgs,
    ),
    NumberKind.BIRTHDAY: (
        "The birthday number: the day of the month of a birth date, reduced.",
        BirthDateArgs,
    ),
    NumberKind.EXPRESSION: ("The expression (destiny) number of a full birth name.", NameArgs),
    NumberKind.SOUL_URGE: (
        "The soul urge (heart's desire) number of a full name, from its vowels.",
        NameArgs,
    ),
    NumberKind.PERSONALITY: (
        "The personality number of a full name, from its consonants.",
        NameArgs,
    ),
    NumberKind.MATURITY: ("The maturity number: life path plus expression, reduced.", MaturityArgs),
    NumberKind.PERSONAL_YEAR: (
        "The personal year number (1 to 9) of a birth date for a calendar year.",
        PersonalYearArgs,
    ),
    NumberKind.PERSONAL_MONTH: (
        "The personal month number (this month's energy): personal year plus the calendar "
        "month, reduced; for a date, today if left out.",
        CycleArgs,
    ),
    NumberKind.PERSONAL_DAY: (
        "The personal day number (today's energy): personal month plus the day of the month, "
        "reduced; for a date, today if left out.",
        CycleArgs,
    ),
}


def _number_tool(kind: NumberKind) -> Callable[[Any], dict[str, Any]]:
    # The argument models name their fields as `core.compute` does: full_name, birth_date, year.
    return lambda args: _number(core.compute(kind, **args.model_dump()))


_TOOLS: dict[str, tuple[str, type[_Args], Callable[[Any], dict[str, Any]]]] = {
    **{
        f"{kind}_number": (description, model, _number_tool(kind))
        for kind, (description, model) in _NUMBER_TOOLS.items()
    },
    "interpret_number": (
        "A short spoken reading of what a number means for a kind of number.",
        InterpretArgs,
        lambda a: {"number": a.number, "meaning": interpret(a.kind, a.number)},
    ),
    "number_meaning": (
        "What any number means in general: a core number (1 to 9, the master numbers 11, 22 "
        "and 33, and why they are special), a karmic debt number (13, 14, 16, 19), or what a "
        "larger number reduces to.",
        MeaningArgs,
        lambda a: {"number": a.number, "meaning": number_meaning(a.number)},
    ),
    "compatibility": (
        "How two people go together: their life paths, and their expression numbers when "
        "both full names are given; a score out of 100 and a spoken summary.",
        CompatibilityArgs,
        lambda a: readings.compatibility(
            a.birth_date, a.partner_birth_date, a.full_name, a.partner_full_name
        ).to_dict(),
    ),
    "karmic_debt_numbers": (
        "The karmic debt numbers (13, 14, 16, 19 before reducing) in the life path and "
        "birthday, and in the name numbers when a full name is given.",
        OptionalNameArgs,
        lambda a: _karmic(a.birth_date, a.full_name),
    ),
    "lucky_numbers": (
        "Lucky numbers (the life path, birthday and, with a name, expression numbers) and "
        "lucky days of the month.",
        OptionalNameArgs,
        lambda a: {
            **(lucky := readings.lucky_numbers(a.birth_date, a.full_name)).to_dict(),
            "spoken": lucky.spoken(),
        },
    ),
}


def _karmic(birth_date: date, full_name: str | None) -> dict[str, Any]:
    debts = readings.karmic_debts(birth_date, full_name)
    return {
        "karmic_debts": [d.to_dict() for d in debts],
        "spoken": readings.karmic_summary(debts, with_name=bool(full_name)),
    }


def _schema(model: type[_Args]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)  # the class docstring; the tool has its own description
    # An enum field is a $ref into $defs; inline it, as not every LLM API follows references.
    defs = schema.pop("$defs", {})
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        if ref := prop.pop("$ref", None):
            target = defs[ref.removeprefix("#/$defs/")]
            prop.update({k: v for k, v in target.items() if k not in {"title", "description"}})
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


def tool_kind(name: str, arguments: dict[str, Any]) -> NumberKind | None:
    """The kind of number a tool call was about (a conversation's topic), if any."""
    for kind in NumberKind:
        if name == f"{kind}_number":
            return kind
    if name == "interpret_number" and arguments.get("kind") in set(NumberKind):
        return NumberKind(arguments["kind"])
    return _READING_KINDS.get(name)


# The kind of number each reading is mostly about, for the conversation's topics.
_READING_KINDS = {
    "compatibility": NumberKind.LIFE_PATH,
    "karmic_debt_numbers": NumberKind.LIFE_PATH,
    "lucky_numbers": NumberKind.LIFE_PATH,
}
