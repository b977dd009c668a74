"""Worked examples, each checked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import date, timedelta

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

pytestmark = pytest.mark.once


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

    def test_master_number_22(self) -> None:
        # 1987-09-06: month 9, day 6, year 1+9+8+7 = 25 -> 2+5 = 7. 9+6+7 = 22, kept as a master.
        result = life_path_number(date(1987, 9, 6))
        assert result.value == 22
        assert result.chain == (22,)
        assert result.is_master

    def test_master_number_33(self) -> None:
        # 1975-05-06: month 5, day 6, year 1+9+7+5 = 22 (master, kept). 5+6+22 = 33, kept.
        assert life_path_number(date(1975, 5, 6)).value == 33
        # 2000-09-22: month 9, day 22 (master, kept), year 2+0+0+0 = 2. 9+22+2 = 33.
        assert life_path_number(date(2000, 9, 22)).value == 33

    def test_master_month_is_kept(self) -> None:
        # 2000-11-09: month 11 (master, kept, not 2), day 9, year 2. 11+9+2 = 22.
        result = life_path_number(date(2000, 11, 9))
        assert [c.reduced for c in result.components] == [11, 9, 2]
        assert result.value == 22

    def test_explanation(self) -> None:
        # 1984-12-22: 12 -> 1+2 = 3; 22 stays; 1984 -> 22. 3+22+22 = 47 -> 11.
        assert life_path_number(date(1984, 12, 22)).explain() == (
            "Month 12 reduces to 3; year 1984 reduces to 22. 3 plus 22 plus 22 makes 47. "
            "4 plus 7 is 11. So the number is 11."
        )
        assert life_path_number(date(1984, 12, 22)).explain(brief=True) == (
            "3 plus 22 plus 22 makes 47. 4 plus 7 is 11."
        )

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

    def test_explanation(self) -> None:
        # Day 29: 2+9 = 11, a master number.
        result = birthday_number(date(1990, 1, 29))
        assert result.chain == (29, 11)
        assert result.explain() == "You were born on day 29. 2 plus 9 is 11. So the number is 11."


class TestNames:
    def test_expression(self) -> None:
        # ADA = 1+4+1 = 6; LOVELACE = 3+6+4+5+3+1+3+5 = 30 -> 3. 6+3 = 9.
        result = expression_number("Ada Lovelace")
        assert result.value == 9
        assert [(c.raw, c.reduced) for c in result.components] == [(6, 6), (30, 3)]
        assert result.explain() == (
            "The letters of Ada add up to 6; the letters of Lovelace add up to 30, "
            "which reduces to 3. 6 plus 3 makes 9. So the number is 9."
        )

    def test_soul_urge(self) -> None:
        # Vowels: ADA -> A A = 1+1 = 2; LOVELACE -> O E A E = 6+5+1+5 = 17 -> 8. 2+8 = 10 -> 1.
        result = soul_urge_number("Ada Lovelace")
        assert result.value == 1
        assert [(c.raw, c.reduced) for c in result.components] == [(2, 2), (17, 8)]
        assert result.chain == (10, 1)

    def test_a_master_number_part_is_kept(self) -> None:
        # JOHN = 1+6+8+5 = 20 -> 2; FITZGERALD = 6+9+2+8+7+5+9+1+3+4 = 54 -> 9;
        # KENNEDY = 2+5+5+5+5+4+7 = 33, kept as a master. 2+9+33 = 44 -> 8.
        result = expression_number("John Fitzgerald Kennedy")
        assert [c.reduced for c in result.components] == [2, 9, 33]
        assert result.chain == (44, 8)

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
        # Vowels: JOSE -> O E = 6+5 = 11 (master, kept); NUNEZ -> U E = 3+5 = 8. 11+8 = 19 -> 1.
        assert soul_urge_number("José Ñúñez").value == 1
        assert soul_urge_number("Jose Nunez").value == 1
        # Consonants: J S = 1+1 = 2; N N Z = 5+5+8 = 18 -> 9. 2+9 = 11, a master personality.
        assert personality_number("José Ñúñez").value == 11
        assert personality_number("Jose Nunez").value == 11
        assert personality_number("JOSÉ ÑÚÑEZ") == personality_number("Jose Nunez")

    @pytest.mark.parametrize(
        ("accented", "plain"),
        [
            ("Ægir", "AEgir"),
            ("Strauß", "Strauss"),
            ("Søren", "Soren"),
            ("Đặng", "Dang"),
            ("François", "Francois"),
            ("Łukasz", "Lukasz"),
            ("Œdipe", "OEdipe"),
            ("Þóra", "THora"),
            ("Guðrún", "Gudrun"),
            ("Y\u0131ld\u0131z", "Yildiz"),
            ("Ødegård", "Odegard"),
            ("Nguyễn Thị Minh Khai", "Nguyen Thi Minh Khai"),
        ],
    )
    def test_special_letters(self, accented: str, plain: str) -> None:
        assert expression_number(accented).value == expression_number(plain).value
        assert expression_number(accented).components == expression_number(plain).components

    def test_expansions_by_hand(self) -> None:
        # ÆGIR -> AEGIR = 1+5+7+9+9 = 31 -> 4 (Æ counts as A and E, not one letter).
        assert expression_number("Ægir").chain == (4,)
        assert [c.raw for c in expression_number("Ægir").components] == [31]
        # STRAUß -> STRAUSS = 1+2+9+1+3+1+1 = 18 -> 9.
        assert [c.raw for c in expression_number("Strauß").components] == [18]
        # SØREN -> SOREN = 1+6+9+5+5 = 26 -> 8.
        assert [c.raw for c in expression_number("Søren").components] == [26]

    def test_non_latin_letters_and_symbols_are_ignored(self) -> None:
        assert expression_number("Anna 李 Ⅻ") == expression_number("Anna")
        assert expression_number("An②na") == expression_number("Anna")

    def test_hyphens_apostrophes_and_digits_are_ignored(self) -> None:
        assert (
            expression_number("O'Neil-Smith 3rd").value == expression_number("ONeilSmith rd").value
        )

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("", "empty"),
            ("   \t", "empty"),
            ("1234", "no letters"),
            ("--- ' 42", "no letters"),
            ("李小龙", "no Latin letters"),
            ("Ελένη Παππά", "no Latin letters"),
        ],
    )
    def test_a_name_without_letters_is_an_error(self, name: str, message: str) -> None:
        for number in (expression_number, soul_urge_number, personality_number):
            with pytest.raises(NumerologyInputError, match=message):
                number(name)

    def test_no_vowels_or_no_consonants_is_an_error(self) -> None:
        with pytest.raises(NumerologyInputError, match="no vowels"):
            soul_urge_number("Brt Xwq")
        with pytest.raises(NumerologyInputError, match="no consonants"):
            personality_number("Aia Eo")
        # MYRRH: Y has no vowel neighbours, so it is the vowel: soul urge Y = 7.
        assert soul_urge_number("Myrrh").value == 7

    def test_a_very_long_name_is_an_error(self) -> None:
        assert expression_number("a" * 200).value == reduce(200)  # 200 A's = 200 -> 2
        with pytest.raises(NumerologyInputError, match="too long"):
            expression_number("a" * 201)


class TestMaturityAndPersonalYear:
    def test_maturity(self) -> None:
        # Life path 1 + expression 9 = 10 -> 1.
        result = maturity_number("Ada Lovelace", date(1815, 12, 10))
        assert result.value == 1
        assert result.chain == (10, 1)
        # 1984-07-05 has life path 7 (see above): 7 + 9 = 16 -> 7.
        assert maturity_number("Ada Lovelace", date(1984, 7, 5)).explain() == (
            "Your life path is 7; your expression is 9. 7 plus 9 makes 16. 1 plus 6 is 7. "
            "So the number is 7."
        )

    def test_personal_year(self) -> None:
        # 1990-07-15 in 2026: 7 + (15 -> 6) + (2026 -> 10 -> 1) = 14 -> 5.
        assert personal_year_number(date(1990, 7, 15), 2026).value == 5

    def test_personal_year_has_no_master_numbers(self) -> None:
        # 1984-12-22 in 1984: 3 + 22 + 22 = 47 -> 11 -> 2.
        result = personal_year_number(date(1984, 12, 22), 1984)
        assert result.value == 2
        assert result.chain == (47, 11, 2)

    def test_personal_year_master_22_becomes_4(self) -> None:
        # 1990-11-09 in 2000: month 11 (kept), day 9, year 2. 11+9+2 = 22 -> 2+2 = 4.
        result = personal_year_number(date(1990, 11, 9), 2000)
        assert result.chain == (22, 4)
        assert result.value == 4

    def test_personal_year_master_33_becomes_6(self) -> None:
        # 1990-09-22 in 2000: month 9, day 22 (kept), year 2. 9+22+2 = 33 -> 3+3 = 6.
        assert personal_year_number(date(1990, 9, 22), 2000).value == 6

    @pytest.mark.parametrize("year", [1799, 2201, 0, -5])
    def test_personal_year_out_of_range(self, year: int) -> None:
        with pytest.raises(NumerologyInputError, match="between 1800 and 2200"):
            personal_year_number(date(1990, 7, 15), year)

    def test_future_birth_dates_are_refused_everywhere(self) -> None:
        future = date.today() + timedelta(days=1)
        for number in (life_path_number, birthday_number):
            with pytest.raises(NumerologyInputError, match="future"):
                number(future)
        with pytest.raises(NumerologyInputError, match="future"):
            personal_year_number(future, 2026)
        with pytest.raises(NumerologyInputError, match="future"):
            maturity_number("Ada", future)
