"""Where the first sentence of a turn is cut, so its first clause is spoken sooner (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from src.voice_pipeline.clauses import first_clause, sentences
from src.voice_pipeline.dialogue import Numerologist

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once


class TestSentences:
    def test_splits_after_a_full_stop_an_exclamation_and_a_question(self) -> None:
        assert sentences("Hello Ada! I'm here. Shall we? Yes.") == [
            "Hello Ada!",
            "I'm here.",
            "Shall we?",
            "Yes.",
        ]

    def test_keeps_numbers_with_points_whole(self) -> None:
        assert sentences("It is 1.5 times bigger. Really.") == [
            "It is 1.5 times bigger.",
            "Really.",
        ]

    def test_the_greeting_has_its_name_in_the_first_sentence_only(self) -> None:
        greeting = Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)).greeting()
        parts = sentences(greeting)
        assert "".join(parts).replace(" ", "") == greeting.replace(" ", "")
        assert ["Ada" in p for p in parts] == [True, False, False]


class TestFirstClause:
    def test_a_long_sentence_is_cut_after_its_first_clause(self) -> None:
        assert first_clause("I'm a numerologist, so numbers are all I can really help with.") == [
            "I'm a numerologist,",
            "so numbers are all I can really help with.",
        ]

    def test_a_colon_is_a_cut_too(self) -> None:
        assert first_clause("7 is The Seeker: wisdom, reflection, truth.") == [
            "7 is The Seeker:",
            "wisdom, reflection, truth.",
        ]

    @pytest.mark.parametrize(
        "sentence",
        [
            "Your life path number is 7.",  # short: synthesised whole
            "Goodbye Ada, it was a pleasure.",
            "Sorry, I didn't catch that.",
            "Your journey is about learning to seek truth and to trust your inner voice.",
        ],
    )
    def test_short_sentences_and_sentences_without_a_pause_stay_whole(self, sentence: str) -> None:
        assert first_clause(sentence) == [sentence]

    def test_a_fragment_of_one_or_two_words_is_never_cut_off(self) -> None:
        assert first_clause("Well, deep down you long to be free to choose, always.") == [
            "Well, deep down you long to be free to choose, always."
        ]
        assert first_clause("Deep down, you long to be free to choose your own direction.") == [
            "Deep down, you long to be free to choose your own direction."
        ]

    def test_a_date_keeps_its_year(self) -> None:
        sentence = "The life path for March 3rd, 1990 is 7, the number of the seeker."
        assert first_clause(sentence) == [
            "The life path for March 3rd, 1990 is 7,",
            "the number of the seeker.",
        ]

    def test_every_cut_puts_the_sentence_back_together(self) -> None:
        numerologist = Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5), today=date(2026, 1, 1))
        for question in ["what does it mean", "life path", "banana", "thanks", "how did you"]:
            first = sentences(numerologist.reply(question).text)[0]
            assert " ".join(first_clause(first)) == first
