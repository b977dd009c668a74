"""The full profile: all seven numbers, their readings, and input validation."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from src.numerology import NumberKind, NumerologyInputError, full_profile, interpret

pytestmark = pytest.mark.once

KINDS = [
    "life_path",
    "expression",
    "soul_urge",
    "personality",
    "birthday",
    "maturity",
    "personal_year",
    "personal_month",
    "personal_day",
]


def test_ada_lovelace_by_hand() -> None:
    profile = full_profile("  Ada Lovelace ", date(1815, 12, 10), 2026, date(2026, 11, 22))
    values = {kind: result.value for kind, result in profile.numbers.items()}
    assert values == {
        # 12 -> 3, 10 -> 1, 1815 -> 15 -> 6. 3+1+6 = 10 -> 1.
        "life_path": 1,
        # ADA = 6; LOVELACE = 30 -> 3. 6+3 = 9.
        "expression": 9,
        # A A = 2; O E A E = 17 -> 8. 2+8 = 10 -> 1.
        "soul_urge": 1,
        # D = 4; L V L C = 13 -> 4. 4+4 = 8.
        "personality": 8,
        # Day 10 -> 1.
        "birthday": 1,
        # Life path 1 + expression 9 = 10 -> 1.
        "maturity": 1,
        # 12 -> 3, 10 -> 1, 2026 -> 10 -> 1. 3+1+1 = 5.
        "personal_year": 5,
        # Personal year 5 + month 11 (a master, kept) = 16 -> 7.
        "personal_month": 7,
        # Personal month 7 + day 22 (kept) = 29 -> 11, a master number, kept.
        "personal_day": 11,
    }
    assert profile.full_name == "Ada Lovelace"


def test_to_dict_shape_and_json() -> None:
    data = full_profile("Ada Lovelace", date(1815, 12, 10), 2026).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "full_name",
        "birth_date",
        "year",
        "on",
        "numbers",
        "karmic_debts",
        "lucky",
    }
    assert data["on"] == date.today().isoformat()
    # 1815-12-10: life path 1, birthday 1, expression 9; the days that reduce to 1.
    assert data["lucky"] == {"numbers": [1, 9], "days": [1, 10, 19, 28]}
    assert data["birth_date"] == "1815-12-10"
    assert data["year"] == 2026
    assert list(data["numbers"]) == KINDS
    life_path = data["numbers"]["life_path"]
    assert life_path["value"] == 1
    assert life_path["is_master"] is False
    assert life_path["chain"] == [10, 1]
    assert [c["reduced"] for c in life_path["components"]] == [3, 1, 6]
    assert life_path["explanation"].endswith(
        "3 plus 1 plus 6 makes 10. 1 plus 0 is 1. So the number is 1."
    )
    assert life_path["reading"] == interpret("life_path", 1)
    assert life_path["title"] == "The Leader"
    assert life_path["keywords"]
    assert life_path["strengths"]
    assert life_path["challenges"]
    year = data["numbers"]["personal_year"]
    assert year["reading"] == interpret("personal_year", 5)
    assert "title" not in year


def test_the_year_defaults_to_this_year() -> None:
    profile = full_profile("Ada Lovelace", date(1815, 12, 10))
    assert profile.year == date.today().year
    assert (
        profile.numbers[NumberKind.PERSONAL_YEAR]
        == full_profile("Ada Lovelace", date(1815, 12, 10), date.today().year).numbers[
            NumberKind.PERSONAL_YEAR
        ]
    )


@pytest.mark.parametrize(
    ("name", "birth", "year", "message"),
    [
        ("Ada Lovelace", date.today() + timedelta(days=1), 2026, "future"),
        ("Ada Lovelace", date(1815, 12, 10), 1799, "between 1800 and 2200"),
        ("Ada Lovelace", date(1815, 12, 10), 2201, "between 1800 and 2200"),
        ("Ada Lovelace", date(1815, 12, 10), 0, "between 1800 and 2200"),
        ("", date(1815, 12, 10), 2026, "empty"),
        ("  \n ", date(1815, 12, 10), 2026, "empty"),
        ("A" * 201, date(1815, 12, 10), 2026, "too long"),
        ("12 34", date(1815, 12, 10), 2026, "no letters"),
        ("Brt", date(1815, 12, 10), 2026, "no vowels"),
        ("Aia", date(1815, 12, 10), 2026, "no consonants"),
    ],
)
def test_bad_input_is_a_clear_error(name: str, birth: date, year: int, message: str) -> None:
    with pytest.raises(NumerologyInputError, match=message):
        full_profile(name, birth, year)


def test_the_error_is_a_value_error() -> None:
    assert issubclass(NumerologyInputError, ValueError)
