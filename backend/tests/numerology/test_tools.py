"""The LLM tools: schemas and the dispatcher."""

from __future__ import annotations

import json
from datetime import date

import pytest

from src.numerology import life_path_number
from src.numerology.tools import TOOL_SCHEMAS, dispatch_tool

pytestmark = pytest.mark.nodb


def test_every_schema_has_a_working_tool() -> None:
    examples = {
        "birth_date": "1990-07-15",
        "full_name": "Ada Lovelace",
        "year": 2026,
        "kind": "life_path",
        "number": 7,
    }
    assert len(TOOL_SCHEMAS) == 8
    for schema in TOOL_SCHEMAS:
        assert schema["type"] == "function"
        function = schema["function"]
        assert function["description"]
        params = function["parameters"]
        assert params["type"] == "object"
        arguments = {k: examples[k] for k in params["properties"]}
        result = dispatch_tool(function["name"], json.dumps(arguments))
        assert "error" not in result, (function["name"], result)
        json.dumps(result)


def test_life_path_result() -> None:
    result = dispatch_tool("life_path_number", {"birth_date": "1984-07-05"})
    assert result["number"] == 7 == life_path_number(date(1984, 7, 5)).value
    assert "7 plus 5 plus 22 makes 34" in result["explanation"]
    assert result["meaning"].startswith("Your life path is 7")


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
        ("life_path_number", {"birth_date": "1990-07-15", "extra": 1}, "extra: Extra inputs"),
        ("expression_number", {"full_name": 42}, "full_name"),
        ("expression_number", {"full_name": "1234"}, "no letters"),
        ("interpret_number", {"kind": "life_path", "number": 10}, "not a core number"),
        ("interpret_number", {"kind": "shoe_size", "number": 7}, "kind"),
    ],
)
def test_bad_arguments_give_a_clear_error(name: str, arguments: object, message: str) -> None:
    result = dispatch_tool(name, arguments)  # type: ignore[arg-type]
    assert set(result) == {"error"}
    assert message in result["error"]
