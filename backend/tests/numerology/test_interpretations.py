"""Every number has text for every kind, written to be spoken."""

from __future__ import annotations

import re

import pytest

from src.numerology import VALID_NUMBERS, interpret, meaning, personal_year_theme
from src.numerology.interpretations import KINDS

pytestmark = pytest.mark.once
# Symbols a speech engine reads out or stumbles on, and abbreviations.
UNSPEAKABLE = re.compile(r"[()*#_\[\]{}<>/\\|&%@~^=+;\"]|\be\.g\.|\bi\.e\.|\betc\b|\bvs\b")


def _speakable(text: str) -> None:
    assert text.strip() == text
    assert text.isascii(), text  # no bullets, dashes, curly quotes or emoji
    assert text.endswith((".", "!", "?")), text
    assert "  " not in text, text
    assert not UNSPEAKABLE.search(text), text
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        assert len(sentence.split()) <= 30, sentence


@pytest.mark.parametrize("number", sorted(VALID_NUMBERS))
def test_every_number_and_kind_has_a_reading(number: int) -> None:
    m = meaning(number)
    assert m.title
    assert len(m.keywords) >= 3
    _speakable(m.strengths)
    _speakable(m.challenges)
    _speakable(m.title + ".")
    for word in m.keywords:
        _speakable(word + ".")
    readings = {interpret(kind, number) for kind in KINDS}
    assert len(readings) == len(KINDS)  # each kind reads differently
    for text in readings:
        assert str(number) in text
        assert m.title in text
        _speakable(text)
        assert ("master number" in text) == (number in {11, 22, 33})


@pytest.mark.parametrize("year", range(1, 10))
def test_every_personal_year_has_a_theme(year: int) -> None:
    _speakable(personal_year_theme(year))
    assert personal_year_theme(year).startswith(f"This is a personal year {year}.")
    assert interpret("personal_year", year) == personal_year_theme(year)


def test_titles_and_themes_are_distinct() -> None:
    assert len({meaning(n).title for n in VALID_NUMBERS}) == len(VALID_NUMBERS)
    assert len({personal_year_theme(y) for y in range(1, 10)}) == 9


@pytest.mark.parametrize(
    "bad",
    ["You lead (mostly).", "Lead \u2022 follow.", "Be bold, e.g. today.", "Go \U0001f680.", "Go"],
)
def test_the_checker_catches_unspeakable_text(bad: str) -> None:
    with pytest.raises(AssertionError):
        _speakable(bad)


def test_unknown_numbers_and_kinds_are_errors() -> None:
    with pytest.raises(ValueError, match="not a core number"):
        interpret("life_path", 12)
    with pytest.raises(ValueError, match="Unknown kind"):
        interpret("lucky", 7)
    with pytest.raises(ValueError, match="1 to 9"):
        personal_year_theme(11)
