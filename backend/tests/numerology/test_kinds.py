"""NumberKind is the one list of kinds: everything keyed on a kind covers every member."""

from __future__ import annotations

import json
from datetime import date

import pytest

from src.numerology import NumberKind, NumerologyInputError, compute, full_profile, interpret
from src.numerology.tools import TOOL_SCHEMAS, dispatch_tool

pytestmark = pytest.mark.once


def test_the_values_are_the_names_in_json() -> None:
    # The values themselves are pinned by the profile's and the API's tests of the numbers.
    assert str(NumberKind.SOUL_URGE) == "soul_urge"
    assert json.dumps(NumberKind.SOUL_URGE) == '"soul_urge"'
    assert NumberKind.SOUL_URGE.label == "soul urge number"


@pytest.mark.parametrize("kind", list(NumberKind))
def test_every_kind_is_computed_and_read(kind: NumberKind) -> None:
    result = compute(kind, full_name="Ada Lovelace", birth_date=date(1815, 12, 10), year=2026)
    assert result.kind is kind
    assert str(result.value) in interpret(kind, result.value)
    assert interpret(str(kind), result.value) == interpret(kind, result.value)


def test_a_kind_says_which_input_it_lacks() -> None:
    with pytest.raises(NumerologyInputError, match="needs a full name"):
        compute(NumberKind.MATURITY, birth_date=date(1990, 1, 1))
    with pytest.raises(NumerologyInputError, match="needs a birth date"):
        compute(NumberKind.LIFE_PATH, full_name="Ada")


def test_a_profile_has_every_kind_in_order() -> None:
    profile = full_profile("Ada Lovelace", date(1815, 12, 10), 2026)
    assert list(profile.numbers) == list(NumberKind)
    assert list(profile.to_dict()["numbers"]) == [k.value for k in NumberKind]


def test_the_tools_cover_every_kind_with_the_enums_values() -> None:
    by_name = {s["function"]["name"]: s["function"] for s in TOOL_SCHEMAS}
    for kind in NumberKind:
        assert f"{kind}_number" in by_name
    kind_param = by_name["interpret_number"]["parameters"]["properties"]["kind"]
    assert kind_param == {
        "description": "Which kind of number it is",
        "enum": [k.value for k in NumberKind],
        "type": "string",
    }
    # Inlined: the schema an LLM sees has no references to follow.
    assert "$ref" not in json.dumps(TOOL_SCHEMAS)
    assert "$defs" not in json.dumps(TOOL_SCHEMAS)
    for kind in NumberKind:
        reading = dispatch_tool("interpret_number", {"kind": kind.value, "number": 7})
        assert reading == {"number": 7, "meaning": interpret(kind, 7)}
