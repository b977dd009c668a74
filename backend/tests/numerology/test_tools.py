"""The LLM tools: schemas and the dispatcher."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from src.numerology import interpret, life_path_number
from src.numerology.kinds import NumberKind
from src.numerology.tools import _TOOLS, TOOL_SCHEMAS, dispatch_tool, tool_kind

pytestmark = pytest.mark.once
TOMORROW = (date.today() + timedelta(days=1)).isoformat()


def test_every_schema_has_a_working_tool() -> None:
    examples = {
        "birth_date": "1990-07-15",
        "full_name": "Ada Lovelace",
        "year": 2026,
        "kind": "life_path",
        "number": 7,
    }
    assert {s["function"]["name"] for s in TOOL_SCHEMAS} == {
        "life_path_number",
        "expression_number",
        "soul_urge_number",
        "personality_number",
        "birthday_number",
        "personal_year_number",
        "maturity_number",
        "interpret_number",
    }
    assert len(TOOL_SCHEMAS) == 8
    for schema in TOOL_SCHEMAS:
        assert schema["type"] == "function"
        function = schema["function"]
        assert function["description"]
        params = function["parameters"]
        assert params["type"] == "object"
        assert params["additionalProperties"] is False
        # Generated from the same model that validates the arguments.
        model = _TOOLS[function["name"]][1]
        assert set(params["properties"]) == set(model.model_fields)
        assert set(params["required"]) == {
            k for k, f in model.model_fields.items() if f.is_required()
        }
        arguments = {k: examples[k] for k in params["properties"]}
        result = dispatch_tool(function["name"], json.dumps(arguments))
        assert "error" not in result, (function["name"], result)
        json.dumps(result)


def test_life_path_result() -> None:
    result = dispatch_tool("life_path_number", {"birth_date": "1984-07-05"})
    assert result["number"] == 7 == life_path_number(date(1984, 7, 5)).value
    assert "7 plus 5 plus 22 makes 34" in result["explanation"]
    assert result["meaning"].startswith("Your life path is 7")


def test_name_tools() -> None:
    # Soul urge of Ada Lovelace: A A = 2; O E A E = 17 -> 8. 2+8 = 10 -> 1.
    assert dispatch_tool("soul_urge_number", {"full_name": "Ada Lovelace"})["number"] == 1
    # Personality: D = 4; L V L C = 13 -> 4. 4+4 = 8.
    assert dispatch_tool("personality_number", '{"full_name": "Ada Lovelace"}')["number"] == 8
    # Expression: 6 + 3 = 9. Maturity with 1815-12-10 (life path 1): 1 + 9 = 10 -> 1.
    assert dispatch_tool("expression_number", {"full_name": "Ada Lovelace"})["number"] == 9
    maturity = {"full_name": "Ada Lovelace", "birth_date": "1815-12-10"}
    assert dispatch_tool("maturity_number", maturity)["number"] == 1
    # Birthday 29 -> 11.
    birthday = dispatch_tool("birthday_number", {"birth_date": "1990-01-29"})
    assert birthday["number"] == 11
    assert birthday["meaning"].startswith("Your birthday number is 11")
    # 1990-07-15 in 2026: 7 + 6 + 1 = 14 -> 5.
    year = dispatch_tool("personal_year_number", {"birth_date": "1990-07-15", "year": 2026})
    assert year["number"] == 5
    assert year["meaning"].startswith("This is a personal year 5.")
    reading = dispatch_tool("interpret_number", {"kind": "soul_urge", "number": 22})
    assert reading == {"number": 22, "meaning": interpret("soul_urge", 22)}


def test_personal_year_defaults_to_this_year() -> None:
    result = dispatch_tool("personal_year_number", {"birth_date": "1990-07-15"})
    expected = dispatch_tool(
        "personal_year_number", {"birth_date": "1990-07-15", "year": date.today().year}
    )
    assert result == expected


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("no_such_tool", "{}", "Unknown tool"),
        ("life_path_number", "{not json", "not valid JSON"),
        ("life_path_number", "[1, 2]", "JSON object"),
        ("life_path_number", {}, "birth_date: Field required"),
        ("life_path_number", {"birth_date": 19900715}, "birth_date"),
        ("life_path_number", {"birth_date": "15/07/1990"}, "birth_date"),
        ("life_path_number", {"birth_date": "2999-01-01"}, "future"),
        ("life_path_number", {"birth_date": TOMORROW}, "future"),
        ("life_path_number", {"birth_date": 0}, "YYYY-MM-DD"),
        ("life_path_number", {"birth_date": "1990-7-15"}, "YYYY-MM-DD"),
        ("life_path_number", {"birth_date": "1990-07-15T00:00:00"}, "YYYY-MM-DD"),
        ("life_path_number", {"birth_date": "1990-02-30"}, "birth_date"),
        ("life_path_number", {"birth_date": None}, "birth_date"),
        ("life_path_number", "", "birth_date: Field required"),
        ("life_path_number", None, "birth_date: Field required"),
        ("life_path_number", "[" * 100_000, "not valid JSON"),
        ("maturity_number", {"full_name": "Ada"}, "birth_date: Field required"),
        ("personal_year_number", {"birth_date": "1990-07-15", "year": "2026"}, "year"),
        ("personal_year_number", {"birth_date": "1990-07-15", "year": 1799}, "year"),
        ("personal_year_number", {"birth_date": "1990-07-15", "year": 2026.5}, "year"),
        ("life_path_number", {"birth_date": "1990-07-15", "extra": 1}, "extra: Extra inputs"),
        ("expression_number", {"full_name": 42}, "full_name"),
        ("expression_number", {"full_name": "1234"}, "no letters"),
        ("interpret_number", {"kind": "life_path", "number": 10}, "not a core number"),
        ("interpret_number", {"kind": "shoe_size", "number": 7}, "kind"),
        ("interpret_number", {"kind": "life_path", "number": "7"}, "number"),
        ("interpret_number", {"kind": "life_path", "number": True}, "number"),
        ("interpret_number", {"kind": "personal_year", "number": 11}, "1 to 9"),
        ("expression_number", {"full_name": "x" * 201}, "full_name"),
        ("expression_number", {"full_name": "   "}, "empty"),
        ("soul_urge_number", {"full_name": "Brt"}, "no vowels"),
        (["not", "a", "name"], {}, "Unknown tool"),
    ],
)
def test_bad_arguments_give_a_clear_error(name: str, arguments: object, message: str) -> None:
    result = dispatch_tool(name, arguments)  # type: ignore[arg-type]
    assert set(result) == {"error"}
    assert message in result["error"], result


class TestToolKind:
    def test_each_number_tool_is_about_its_kind(self) -> None:
        for kind in NumberKind:
            assert tool_kind(f"{kind}_number", {}) is kind

    def test_the_reading_tool_is_about_the_kind_it_reads(self) -> None:
        assert tool_kind("interpret_number", {"kind": "soul_urge", "number": 7}) is (
            NumberKind.SOUL_URGE
        )
        assert tool_kind("interpret_number", {"kind": "shoe_size", "number": 7}) is None
        assert tool_kind("weather", {}) is None
