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
        "on": "2026-11-22",
        "partner_birth_date": "1966-05-09",
        "partner_full_name": "Maria Garcia",
    }
    assert {s["function"]["name"] for s in TOOL_SCHEMAS} == {
        "life_path_number",
        "expression_number",
        "soul_urge_number",
        "personality_number",
        "birthday_number",
        "personal_year_number",
        "maturity_number",
        "personal_month_number",
        "personal_day_number",
        "interpret_number",
        "number_meaning",
        "compatibility",
        "karmic_debt_numbers",
        "lucky_numbers",
    }
    assert len(TOOL_SCHEMAS) == 14
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


def test_reading_tools() -> None:
    # 1984-07-05 on 2026-11-22: personal year 7 + 5 + 1 = 13 -> 4; month 4 + 11 = 15 -> 6;
    # day 6 + 22 = 28 -> 10 -> 1.
    on = {"birth_date": "1984-07-05", "on": "2026-11-22"}
    month = dispatch_tool("personal_month_number", on)
    assert month["number"] == 6
    assert month["meaning"].startswith("This is a personal month 6.")
    assert dispatch_tool("personal_day_number", on)["number"] == 1
    today = dispatch_tool("personal_day_number", {"birth_date": "1984-07-05"})
    assert today == dispatch_tool(
        "personal_day_number", {"birth_date": "1984-07-05", "on": date.today().isoformat()}
    )
    # Life paths 7 and 5 + 9 + 22 = 36 -> 9: a 1-5-7 with a 3-6-9.
    match = dispatch_tool(
        "compatibility", {"birth_date": "1984-07-05", "partner_birth_date": "1966-05-09"}
    )
    assert (match["score"], match["level"]) == (65, "complementary")
    assert "life paths are 7 and 9" in match["summary"]
    # 1985-04-13: 4 + 4 + 5 = 13 -> 4, and day 13: debt 13 twice.
    karmic = dispatch_tool("karmic_debt_numbers", {"birth_date": "1985-04-13"})
    assert [(d["number"], d["kind"]) for d in karmic["karmic_debts"]] == [
        (13, "life_path"),
        (13, "birthday"),
    ]
    assert karmic["spoken"].startswith("Your life path passes through 13 on its way to 4.")
    lucky = dispatch_tool(
        "lucky_numbers", {"birth_date": "1984-07-05", "full_name": "Ada Lovelace"}
    )
    assert (lucky["numbers"], lucky["days"]) == ([7, 5, 9], [7, 16, 25])
    eleven = dispatch_tool("number_meaning", {"number": 11})
    assert eleven["meaning"].startswith("11 is The Inspirer")
    assert "master number" in eleven["meaning"]
    assert dispatch_tool("number_meaning", {"number": 16})["meaning"].startswith("Karmic debt 16")


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
        ("personal_day_number", {"birth_date": "1990-07-15", "on": "1700-01-01"}, "year"),
        ("personal_month_number", {"birth_date": "1990-07-15", "on": "2026/11/22"}, "on"),
        ("compatibility", {"birth_date": "1990-07-15"}, "partner_birth_date: Field required"),
        (
            "compatibility",
            {"birth_date": "1990-07-15", "partner_birth_date": TOMORROW},
            "future",
        ),
        ("karmic_debt_numbers", {"birth_date": "1990-07-15", "full_name": ""}, "full_name"),
        ("lucky_numbers", {"birth_date": "1990-07-15", "full_name": "1234"}, "no letters"),
        ("number_meaning", {"number": 0}, "number"),
        ("number_meaning", {"number": 10_000}, "number"),
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
        assert tool_kind("compatibility", {}) is NumberKind.LIFE_PATH
