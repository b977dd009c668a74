"""The engine as LLM tools: OpenAI-style schemas and a dispatcher, from one set of models.

The JSON-schema parameters are generated from the same pydantic models that validate the
arguments, so the schemas and the validation cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from src.numerology import core
from src.numerology.errors import NumerologyInputError
from src.numerology.interpretations import interpret

Kind = Literal[
    "life_path",
    "expression",
    "soul_urge",
    "personality",
    "birthday",
    "maturity",
    "personal_year",
]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BirthDateArgs(_Args):
    birth_date: date = Field(description="Birth date, YYYY-MM-DD")


class NameArgs(_Args):
    full_name: str = Field(min_length=1, max_length=200, description="Full birth name")


class MaturityArgs(NameArgs, BirthDateArgs):
    pass


class PersonalYearArgs(BirthDateArgs):
    year: int | None = Field(
        default=None, ge=1, le=9999, description="Calendar year; the current year if left out"
    )


class InterpretArgs(_Args):
    kind: Kind = Field(description="Which kind of number it is")
    number: int = Field(description="The number: 1 to 9, 11, 22 or 33 (1 to 9 for years)")


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
        lambda a: {"meaning": interpret(a.kind, a.number)},
    ),
}


def _schema(model: type[_Args]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
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


def dispatch_tool(name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    """Validate the arguments, run the tool and return its JSON result, or {"error": ...}."""
    tool = _TOOLS.get(name)
    if tool is None:
        return {"error": f"Unknown tool {name!r}. Known tools: {', '.join(_TOOLS)}."}
    _description, model, run = tool
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else (arguments or {})
    except json.JSONDecodeError:
        return {"error": "The arguments are not valid JSON."}
    if not isinstance(raw, dict):
        return {"error": "The arguments must be a JSON object."}
    try:
        return run(model.model_validate(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return {"error": f"Invalid arguments for {name}: {problems}"}
    except NumerologyInputError as exc:
        return {"error": str(exc)}
