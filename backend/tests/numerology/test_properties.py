"""Properties that hold for every name and date."""

from __future__ import annotations

import unicodedata
from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.numerology import (
    VALID_NUMBERS,
    NumberKind,
    NumerologyInputError,
    expression_number,
    full_profile,
    life_path_number,
    personal_year_number,
    personality_number,
    reduce,
    reduction_chain,
    soul_urge_number,
)
from src.numerology.core import MAX_YEAR, MIN_YEAR

pytestmark = pytest.mark.once

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


NOISE = "-'.0123456789\u674e\u03b1\u0436\u216b\u2461\u200b"


@st.composite
def noisy(draw: st.DrawFn, name: str) -> str:
    """The name with non-letters and letters of other scripts slipped in (never whitespace)."""
    out = []
    for char in name:
        out.append(char)
        if char != " ":
            out.append(draw(st.text(alphabet=NOISE, max_size=2)))
    return "".join(out)


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
    assert profile.numbers[NumberKind.PERSONAL_YEAR].value in range(1, 10)


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


@given(dates, st.integers(MIN_YEAR, MAX_YEAR))
def test_personal_year_is_one_to_nine(birth: date, year: int) -> None:
    # An independent oracle: the digital root of month + day + year.
    value = personal_year_number(birth, year).value
    assert value in range(1, 10)
    assert value == 1 + (birth.month + birth.day + year - 1) % 9


@given(dates)
def test_life_path_keeps_the_digital_root(birth: date) -> None:
    # Reducing keeps a number's remainder modulo 9, so the life path must agree with the
    # plain digit sum of the date modulo 9, even when it stops at a master number.
    value = life_path_number(birth).value
    assert value in VALID_NUMBERS
    assert value % 9 == (birth.month + birth.day + birth.year) % 9


@given(names)
def test_vowels_and_consonants_add_up_to_the_expression(name: str) -> None:
    # Every letter is either a vowel or a consonant, so modulo 9 soul urge plus personality
    # equals the expression; a name without vowels or consonants has the other equal to it.
    expression = expression_number(name).value
    try:
        soul = soul_urge_number(name).value
    except NumerologyInputError:
        soul = 0
    try:
        personality = personality_number(name).value
    except NumerologyInputError:
        personality = 0
    assert (soul + personality - expression) % 9 == 0


@given(names.flatmap(lambda n: st.tuples(st.just(n), noisy(n))))
def test_non_letters_and_other_scripts_are_ignored(pair: tuple[str, str]) -> None:
    plain, noisy_name = pair
    assert expression_number(noisy_name) == expression_number(plain)
    if _has_vowels_and_consonants(plain):
        assert soul_urge_number(noisy_name) == soul_urge_number(plain)
        assert personality_number(noisy_name) == personality_number(plain)


@given(st.integers(1, 10**12))
def test_reduce_gives_a_core_number_and_is_idempotent(n: int) -> None:
    assert reduce(n) in VALID_NUMBERS
    assert reduce(reduce(n)) == reduce(n)
    assert reduce(n) % 9 == n % 9
    chain = reduction_chain(n)
    assert chain[0] == n
    assert chain[-1] == reduce(n)
    assert all(after == sum(map(int, str(before))) for before, after in pairwise(chain))
