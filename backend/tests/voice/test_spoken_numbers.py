"""Spoken years and days of the month become digits; other number words stay words."""

from __future__ import annotations

from datetime import date

import pytest

from src.voice_pipeline.dialogue import find_date, normalise
from src.voice_pipeline.spoken_numbers import cardinals_as_digits, with_digits

pytestmark = pytest.mark.once


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        (
            "What about someone born on March third, nineteen hundred ninety?",
            "What about someone born on March 3rd, 1990?",
        ),
        ("July fifth, nineteen hundred eighty-four", "July 5th, 1984"),
        ("the twenty-first of June two thousand five", "the 21st of June 2005"),
        ("May the fourth, twenty twenty-two", "May the 4th, 2022"),
        ("December thirty one, nineteen ninety nine", "December 31, 1999"),
        ("born in nineteen oh five", "born in 1905"),
        ("March 3rd, 1990", "March 3rd, 1990"),
    ],
)
def test_dates_in_digits(heard: str, expected: str) -> None:
    assert with_digits(heard) == expected


@pytest.mark.parametrize(
    "heard",
    [
        "what does one mean, the first number seven",
        "master numbers eleven twenty-two and thirty-three",
        "june forty",
        "What is my life path number?",
    ],
)
def test_other_numbers_stay_words(heard: str) -> None:
    assert with_digits(heard) == heard


def test_the_dialogue_reads_the_date() -> None:
    heard = with_digits("What about someone born on March third, nineteen hundred ninety?")
    assert find_date(normalise(heard)) == date(1990, 3, 3)


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("why are eleven, twenty two and thirty-three special", "why are 11, 22 and 33 special"),
        ("what does the number seven mean", "what does the number 7 mean"),
        ("what does number one mean", "what does number 1 mean"),
        ("that one, please", "that one, please"),
        ("the 9th of May 1966", "the 9th of May 1966"),
    ],
)
def test_cardinals_in_digits(heard: str, expected: str) -> None:
    assert cardinals_as_digits(heard) == expected
