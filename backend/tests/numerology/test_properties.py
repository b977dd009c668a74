"""Properties that hold for every name and date."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.numerology import (
    VALID_NUMBERS,
    expression_number,
    full_profile,
    personal_year_number,
    personality_number,
    reduce,
    soul_urge_number,
)

pytestmark = pytest.mark.nodb

ACCENTED = {
    "a": "áàâäãåā",
    "e": "éèêëẽēệễ",
    "i": "íìîïī",
    "o": "óòôöõō",
    "u": "úùûüū",
    "n": "ñń",
    "c": "çć",
    "y": "ýÿ",
    "s": "śš",
    "z": "źžż",
}
COMBINING = "\u0300\u0301\u0302\u0303\u0308\u0323"

word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12
)
names = st.lists(word, min_size=1, max_size=4).map(" ".join)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today())


@st.composite
def accented(draw: st.DrawFn, name: str) -> str:
    out = []
    for char in name:
        choice = draw(st.integers(0, 2))
        variants = ACCENTED.get(char.lower(), "")
        if choice == 1 and variants:
            accent = draw(st.sampled_from(variants))
            out.append(accent.upper() if char.isupper() else accent)
        elif choice == 2 and char.isalpha():
            out.append(char + draw(st.sampled_from(COMBINING)))
        else:
            out.append(char)
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), "".join(out))


@given(names, dates, st.integers(1900, 2200))
def test_every_number_is_a_core_number(name: str, birth: date, year: int) -> None:
    profile = full_profile(name, birth, year) if _has_vowels_and_consonants(name) else None
    if profile is None:
        assert expression_number(name).value in VALID_NUMBERS
        return
    for kind, result in profile.numbers.items():
        assert result.value in VALID_NUMBERS, kind
    assert profile.numbers["personal_year"].value in range(1, 10)


def _has_vowels_and_consonants(name: str) -> bool:
    try:
        soul_urge_number(name)
        personality_number(name)
    except ValueError:
        return False
    return True


@given(names.flatmap(lambda n: st.tuples(st.just(n), accented(n))))
def test_accents_never_change_a_result(pair: tuple[str, str]) -> None:
    plain, fancy = pair
    assert expression_number(fancy).value == expression_number(plain).value
    if _has_vowels_and_consonants(plain):
        assert soul_urge_number(fancy).value == soul_urge_number(plain).value
        assert personality_number(fancy).value == personality_number(plain).value


@given(dates, st.integers(1, 9999))
def test_personal_year_is_one_to_nine(birth: date, year: int) -> None:
    assert personal_year_number(birth, year).value in range(1, 10)


@given(st.integers(1, 10**12))
def test_reduce_gives_a_core_number_and_is_idempotent(n: int) -> None:
    assert reduce(n) in VALID_NUMBERS
    assert reduce(reduce(n)) == reduce(n)
