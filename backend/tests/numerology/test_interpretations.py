"""Every number has text for every kind, written to be spoken."""

from __future__ import annotations

import re

import pytest

from src.numerology import VALID_NUMBERS, interpret, meaning, personal_year_theme
from src.numerology.interpretations import KINDS

pytestmark = pytest.mark.nodb
UNSPEAKABLE = re.compile(r"[()*#_\[\]{}<>/\\|•–—]|\be\.g\.|\bi\.e\.|\betc\b")


def _speakable(text: str) -> None:
    assert text.strip() == text
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
    readings = {interpret(kind, number) for kind in KINDS}
    assert len(readings) == len(KINDS)  # each kind reads differently
    for text in readings:
        assert str(number) in text
        _speakable(text)


@pytest.mark.parametrize("year", range(1, 10))
def test_every_personal_year_has_a_theme(year: int) -> None:
    _speakable(personal_year_theme(year))


def test_unknown_numbers_and_kinds_are_errors() -> None:
    with pytest.raises(ValueError, match="not a core number"):
        interpret("life_path", 12)
    with pytest.raises(ValueError, match="Unknown kind"):
        interpret("lucky", 7)
    with pytest.raises(ValueError, match="1 to 9"):
        personal_year_theme(11)
