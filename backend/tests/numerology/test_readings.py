"""The readings built on the core numbers, against hand-worked examples."""

from __future__ import annotations

from datetime import date

import pytest

from src.numerology import (
    MASTER_NUMBERS_EXPLAINED,
    NumberKind,
    NumerologyInputError,
    compatibility,
    compute,
    cycle_theme,
    karmic_debts,
    karmic_summary,
    lucky_numbers,
    number_meaning,
    personal_day_number,
    personal_month_number,
)
from src.numerology.readings import pair_level

pytestmark = pytest.mark.once
ADA = date(1984, 7, 5)  # life path 7 + 5 + 22 = 34 -> 7


class TestCycles:
    def test_by_hand(self) -> None:
        # 2026: 7 + 5 + 1 = 13 -> 4. November: 4 + 11 = 15 -> 6. The 22nd: 6 + 22 = 28 -> 1.
        month = personal_month_number(ADA, date(2026, 11, 22))
        assert (month.value, month.chain) == (6, (15, 6))
        day = personal_day_number(ADA, date(2026, 11, 22))
        assert (day.value, day.chain) == (1, (28, 10, 1))
        assert "Your personal month is 6." in day.explain()

    def test_masters_are_kept(self) -> None:
        # 1815-12-10 in 2026: personal year 5; November 5 + 11 = 16 -> 7; the 22nd 7 + 22 = 29
        # -> 11, kept.
        birth = date(1815, 12, 10)
        assert personal_month_number(birth, date(2026, 11, 22)).value == 7
        assert personal_day_number(birth, date(2026, 11, 22)).value == 11
        # Personal year 4 (2026) + February 2 = 6; 1984-07-05 on 2026-02-05: 6 + 5 = 11.
        assert personal_day_number(ADA, date(2026, 2, 5)).value == 11

    def test_compute_defaults_to_today(self) -> None:
        assert compute(NumberKind.PERSONAL_DAY, birth_date=ADA) == personal_day_number(
            ADA, date.today()
        )
        with pytest.raises(NumerologyInputError, match="between 1800 and 2200"):
            personal_month_number(ADA, date(2300, 1, 1))

    def test_themes(self) -> None:
        assert cycle_theme(NumberKind.PERSONAL_DAY, 11).startswith("This is a personal day 11.")
        assert "A month of building." in cycle_theme(NumberKind.PERSONAL_MONTH, 4)
        with pytest.raises(NumerologyInputError, match="1 to 9"):
            cycle_theme(NumberKind.PERSONAL_YEAR, 11)
        with pytest.raises(NumerologyInputError):
            cycle_theme(NumberKind.PERSONAL_MONTH, 10)


class TestCompatibility:
    @pytest.mark.parametrize(
        ("a", "b", "level"),
        [
            (1, 5, "natural"),
            (2, 8, "natural"),
            (7, 7, "mirror"),
            (11, 2, "mirror"),  # 11 at its root is 2
            (22, 8, "natural"),
            (3, 1, "complementary"),
            (33, 4, "complementary"),
            (1, 4, "challenging"),
        ],
    )
    def test_levels(self, a: int, b: int, level: str) -> None:
        assert pair_level(a, b) == level == pair_level(b, a)

    def test_life_paths(self) -> None:
        # 1966-05-09: 5 + 9 + 22 = 36 -> 9. 7 with 9: complementary, 65.
        reading = compatibility(ADA, date(1966, 5, 9))
        assert [(p.first, p.second) for p in reading.pairs] == [(7, 9)]
        assert (reading.score, reading.level) == (65, "complementary")
        assert reading.summary().startswith("Your life paths are 7 and 9: a complementary match.")
        assert "7 is one of the independent thinkers" in reading.explain()

    def test_names_add_the_expressions(self) -> None:
        # Ada Lovelace 9; Maria Garcia 24 -> 6 and 30 -> 3: 9. Mirror 80; (65 + 80) / 2 -> 73.
        reading = compatibility(ADA, date(1966, 5, 9), "Ada Lovelace", "Maria Garcia")
        assert [(p.kind, p.level) for p in reading.pairs] == [
            (NumberKind.LIFE_PATH, "complementary"),
            (NumberKind.EXPRESSION, "mirror"),
        ]
        assert reading.score == 73
        # One name only: the life paths alone.
        assert len(compatibility(ADA, date(1966, 5, 9), "Ada Lovelace").pairs) == 1


class TestKarmicDebts:
    def test_life_path_and_birthday(self) -> None:
        # 1985-04-13: 4 + 4 + 5 = 13 -> 4; day 13 -> 4.
        debts = karmic_debts(date(1985, 4, 13))
        assert [(d.number, d.kind) for d in debts] == [
            (13, NumberKind.LIFE_PATH),
            (13, NumberKind.BIRTHDAY),
        ]

    def test_a_step_on_the_way(self) -> None:
        # 1978-08-04: 8 + 4 + (1978 -> 25 -> 7) = 19 -> 10 -> 1; the birthday 4 has none.
        debts = karmic_debts(date(1978, 8, 4))
        assert [(d.number, d.kind, d.result.chain) for d in debts] == [
            (19, NumberKind.LIFE_PATH, (19, 10, 1))
        ]
        assert debts[0].spoken().startswith("Your life path passes through 19 on its way to 1.")

    def test_names(self) -> None:
        # "Zed Ray": ZED 8 + 5 + 4 = 17 -> 8, RAY 9 + 1 + 7 = 17 -> 8; 8 + 8 = 16 -> 7. Its
        # vowels E, A: 5 + 1 = 6; consonants ZD 12 -> 3, RY 16 -> 7: 10 -> 1 (a part's own 16
        # does not count). Life path 1990-01-01: 1 + 1 + 1 = 3.
        debts = karmic_debts(date(1990, 1, 1), "Zed Ray")
        assert [(d.number, d.kind) for d in debts] == [(16, NumberKind.EXPRESSION)]
        assert karmic_summary([], with_name=True).startswith("No karmic debt numbers")


class TestLuckyNumbers:
    def test_by_hand(self) -> None:
        # Life path 7, birthday 5, expression 9; days 7, 16, 25.
        lucky = lucky_numbers(ADA, "Ada Lovelace")
        assert (lucky.numbers, lucky.days) == ((7, 5, 9), (7, 16, 25))
        assert lucky.spoken() == (
            "Your lucky numbers are 7, 5 and 9: your core numbers. "
            "Your luckiest days of the month are the 7th, 16th and 25th."
        )

    def test_duplicates_and_masters(self) -> None:
        # 1990-01-29: 1 + 11 + 1 = 13 -> 4; birthday 29 -> 11. Days reducing to 4: 4, 13, 22, 31.
        lucky = lucky_numbers(date(1990, 1, 29))
        assert (lucky.numbers, lucky.days) == ((4, 11), (4, 13, 22, 31))
        # 1990-01-04: life path 1 + 4 + 1 = 6, birthday 4.
        assert lucky_numbers(date(1990, 1, 4)).numbers == (6, 4)


class TestNumberMeaning:
    def test_core_and_master(self) -> None:
        assert number_meaning(7).startswith("7 is The Seeker: wisdom, reflection, truth.")
        assert "master number: it is not reduced to 2" in number_meaning(11)
        assert "22 holds the 4" in MASTER_NUMBERS_EXPLAINED

    def test_karmic_and_other_numbers(self) -> None:
        assert number_meaning(14).startswith("Karmic debt 14 is about freedom")
        assert "It reduces to 5, The Adventurer." in number_meaning(14)
        assert number_meaning(10).startswith("10 is not a core number; it reduces to 1. 1 is")
        with pytest.raises(NumerologyInputError):
            number_meaning(0)
