"""Worked examples, each checked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import date

import pytest

from src.numerology import (
    NumerologyInputError,
    birthday_number,
    expression_number,
    life_path_number,
    maturity_number,
    personal_year_number,
    personality_number,
    reduce,
    soul_urge_number,
)

pytestmark = pytest.mark.nodb


class TestReduce:
    @pytest.mark.parametrize(
        ("n", "expected"),
        [
            (0, 0),
            (7, 7),
            (10, 1),
            (11, 11),
            (22, 22),
            (33, 33),
            (34, 7),
            (29, 11),
            (38, 11),
            (1984, 22),
            (1990, 1),
            (99, 9),
            (44, 8),
            (2026, 1),
        ],
    )
    def test_reduce(self, n: int, expected: int) -> None:
        assert reduce(n) == expected


class TestLifePath:
    def test_the_spec_example(self) -> None:
        # 1984-07-05: month 7, day 5, year 1+9+8+4 = 22 (master, kept). 7+5+22 = 34, 3+4 = 7.
        result = life_path_number(date(1984, 7, 5))
        assert result.value == 7
        assert [c.reduced for c in result.components] == [7, 5, 22]
        assert result.chain == (34, 7)
        assert "7 plus 5 plus 22 makes 34" in result.explain()
        assert "3 plus 4 is 7" in result.explain()

    def test_master_number_life_path(self) -> None:
        # 1984-12-22: month 12 -> 3, day 22 (master), year 1984 -> 22. 3+22+22 = 47, 4+7 = 11.
        result = life_path_number(date(1984, 12, 22))
        assert result.value == 11
        assert result.chain == (47, 11)

    def test_ada_lovelace(self) -> None:
        # 1815-12-10: 12 -> 3, 10 -> 1, 1+8+1+5 = 15 -> 6. 3+1+6 = 10 -> 1.
        assert life_path_number(date(1815, 12, 10)).value == 1

    def test_future_dates_are_refused(self) -> None:
        with pytest.raises(NumerologyInputError, match="future"):
            life_path_number(date(date.today().year + 1, 1, 1))


class TestBirthday:
    @pytest.mark.parametrize(
        ("day", "expected"), [(7, 7), (11, 11), (22, 22), (29, 11), (28, 1), (19, 1), (31, 4)]
    )
    def test_birthday(self, day: int, expected: int) -> None:
        # 29 -> 2+9 = 11 (master); 28 -> 10 -> 1; 19 -> 10 -> 1; 31 -> 4.
        assert birthday_number(date(1990, 1, day)).value == expected


class TestNames:
    def test_expression(self) -> None:
        # ADA = 1+4+1 = 6; LOVELACE = 3+6+4+5+3+1+3+5 = 30 -> 3. 6+3 = 9.
        result = expression_number("Ada Lovelace")
        assert result.value == 9
        assert [(c.raw, c.reduced) for c in result.components] == [(6, 6), (30, 3)]

    def test_personality(self) -> None:
        # Consonants: ADA -> D = 4; LOVELACE -> L V L C = 3+4+3+3 = 13 -> 4. 4+4 = 8.
        assert personality_number("Ada Lovelace").value == 8

    def test_y_as_a_vowel(self) -> None:
        # MARY: A=1 + Y=7 (neighbour R and none) = 8; LYNN: Y=7 (L, N). 8+7 = 15 -> 6.
        assert soul_urge_number("Mary Lynn").value == 6
        # Consonants: M R = 4+9 = 13 -> 4; L N N = 3+5+5 = 13 -> 4. 4+4 = 8.
        assert personality_number("Mary Lynn").value == 8

    def test_y_as_a_consonant(self) -> None:
        # YOLANDA: Y touches O, so consonant. Vowels O A A = 6+1+1 = 8.
        assert soul_urge_number("Yolanda").value == 8
        # Consonants Y L N D = 7+3+5+4 = 19 -> 10 -> 1.
        assert personality_number("Yolanda").value == 1

    def test_a_part_without_vowels_adds_nothing_to_the_soul_urge(self) -> None:
        # "Ann Brt": ANN vowels A = 1; BRT has none. Soul urge 1. Personality: NN = 10 -> 1,
        # BRT = 2+9+2 = 13 -> 4; 1+4 = 5.
        assert soul_urge_number("Ann Brt").value == 1
        assert personality_number("Ann Brt").value == 5

    def test_vietnamese_name_with_accents(self) -> None:
        # NGUYEN = 5+7+3+7+5+5 = 32 -> 5 (Y touches U and E: consonant); THI = 2+8+9 = 19 -> 1;
        # MINH = 4+9+5+8 = 26 -> 8; KHAI = 2+8+1+9 = 20 -> 2. 5+1+8+2 = 16 -> 7.
        assert expression_number("Nguyễn Thị Minh Khai").value == 7
        # Vowels: U E = 8; I = 9; I = 9; A I = 10 -> 1. 8+9+9+1 = 27 -> 9.
        assert soul_urge_number("Nguyễn Thị Minh Khai").value == 9
        assert expression_number("Nguyen Thi Minh Khai").value == 7

    def test_spanish_name_with_accents(self) -> None:
        # JOSE = 1+6+1+5 = 13 -> 4; NUNEZ = 5+3+5+5+8 = 26 -> 8. 4+8 = 12 -> 3.
        assert expression_number("José Ñúñez").value == 3
        assert expression_number("Jose Nunez").value == 3

    @pytest.mark.parametrize(
        ("accented", "plain"),
        [
            ("Ægir", "AEgir"),
            ("Strauß", "Strauss"),
            ("Søren", "Soren"),
            ("Đặng", "Dang"),
            ("François", "Francois"),
            ("Łukasz", "Lukasz"),
        ],
    )
    def test_special_letters(self, accented: str, plain: str) -> None:
        assert expression_number(accented).value == expression_number(plain).value
        assert expression_number(accented).components == expression_number(plain).components

    def test_hyphens_apostrophes_and_digits_are_ignored(self) -> None:
        assert (
            expression_number("O'Neil-Smith 3rd").value == expression_number("ONeilSmith rd").value
        )

    @pytest.mark.parametrize("name", ["", "   ", "1234", "--- '", "李小龙"])
    def test_a_name_without_letters_is_an_error(self, name: str) -> None:
        with pytest.raises(NumerologyInputError, match="no letters"):
            expression_number(name)

    def test_a_very_long_name_is_an_error(self) -> None:
        with pytest.raises(NumerologyInputError, match="too long"):
            expression_number("a" * 10_000)


class TestMaturityAndPersonalYear:
    def test_maturity(self) -> None:
        # Life path 1 + expression 9 = 10 -> 1.
        result = maturity_number("Ada Lovelace", date(1815, 12, 10))
        assert result.value == 1
        assert result.chain == (10, 1)

    def test_personal_year(self) -> None:
        # 1990-07-15 in 2026: 7 + (15 -> 6) + (2026 -> 10 -> 1) = 14 -> 5.
        assert personal_year_number(date(1990, 7, 15), 2026).value == 5

    def test_personal_year_has_no_master_numbers(self) -> None:
        # 1984-12-22 in 1984: 3 + 22 + 22 = 47 -> 11 -> 2.
        result = personal_year_number(date(1984, 12, 22), 1984)
        assert result.value == 2
        assert result.chain == (47, 11, 2)
