"""The built-in numerologist's dialogue, without audio."""

from __future__ import annotations

from datetime import date

import pytest

from src.numerology import NumberKind, expression_number, life_path_number, personal_year_number
from src.voice_pipeline.dialogue import (
    INTENTS,
    KIND_PATTERNS,
    Numerologist,
    find_date,
    find_kind,
    find_name,
    is_complete_request,
    normalise,
)

pytestmark = pytest.mark.once


@pytest.fixture
def ada() -> Numerologist:
    return Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5), today=date(2026, 11, 22))


def test_greeting_uses_the_first_name(ada: Numerologist) -> None:
    assert ada.greeting().startswith("Hello Ada!")


@pytest.mark.parametrize(
    ("utterance", "kind"),
    [
        ("What is my life path number?", "life_path"),
        (" What is my life, path number?", "life_path"),
        ("What is my lifepath number?", "life_path"),
        # The end of "path" lost by the recogniser under load.
        ("What is my life, Pa?", "life_path"),
        ("what is my life pat number", "life_path"),
        ("What is my live path number?", "life_path"),
        ("where do you live, Pat?", None),
        ("what life patterns do you see", None),
        ("does my life pay off", None),
        ("tell me my soul urge", "soul_urge"),
        ("what is my sole urge number", "soul_urge"),
        ("What is the so-urge number for Maria Garcia?", "soul_urge"),
        ("what is my so urge number", "soul_urge"),
        ("what's my heart's desire", "soul_urge"),
        ("my destiny number please", "expression"),
        ("and my personality?", "personality"),
        ("what about this year", "personal_year"),
        ("what's my birthday number", "birthday"),
        ("maturity number", "maturity"),
        ("hello there", None),
    ],
)
def test_kinds(utterance: str, kind: str | None) -> None:
    assert find_kind(normalise(utterance)) == kind


def test_every_kind_is_recognised_and_answered(ada: Numerologist) -> None:
    assert set(KIND_PATTERNS) == set(NumberKind)
    for kind in NumberKind:
        reply = ada.reply(f"what is my {kind.words} number?")
        assert reply.text.startswith(f"Your {kind.label} is "), reply
        assert reply.kinds == (kind,)


def test_replies_say_which_kinds_they_discussed(ada: Numerologist) -> None:
    assert ada.reply("hello there").kinds == ()
    summary = ada.reply("what are my numbers?")
    assert summary.kinds == (NumberKind.LIFE_PATH, NumberKind.EXPRESSION, NumberKind.PERSONAL_YEAR)
    assert ada.reply("What does it mean?").kinds == (NumberKind.LIFE_PATH,)
    ada.reply("my soul urge")
    assert ada.reply("How did you work that out?").kinds == (NumberKind.SOUL_URGE,)
    assert ada.reply("what is the soul urge for Brt").kinds == ()  # no vowels: no answer
    assert ada.reply("thank you").kinds == ()


def test_answers_carry_the_engines_numbers(ada: Numerologist) -> None:
    life = ada.reply("What is my life path number?").text
    assert life.startswith(f"Your life path number is {life_path_number(date(1984, 7, 5)).value}.")
    assert "journey" in life
    how = ada.reply("How did you work that out?").text
    assert "7 plus 5 plus 22 makes 34" in how
    assert f"is {expression_number('Ada Lovelace').value}." in ada.reply("my expression").text
    year = personal_year_number(date(1984, 7, 5), 2026).value
    assert f"personal year number is {year}." in ada.reply("what about this year?").text


def test_meaning_follows_the_last_number(ada: Numerologist) -> None:
    ada.reply("what's my life path")
    assert ada.reply("What does it mean?").text.startswith("7 is The Seeker")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what about march 3rd, 1990", date(1990, 3, 3)),
        ("the 3rd of march 1990", date(1990, 3, 3)),
        ("born 3/14/1985", date(1985, 3, 14)),
        ("1985-03-14", date(1985, 3, 14)),
        ("february 30 1990", None),
        ("nothing here", None),
    ],
)
def test_dates(text: str, expected: date | None) -> None:
    assert find_date(text) == expected


def test_other_people(ada: Numerologist) -> None:
    assert find_name("what is the expression number for john smith") == "John Smith"
    assert find_name("what is my expression number for me") is None
    reply = ada.reply("What is the expression number for John Smith?").text
    assert reply.startswith(f"That expression number is {expression_number('John Smith').value}.")
    other = ada.reply("what about March 3rd, 1990?").text
    assert other.startswith(f"That life path number is {life_path_number(date(1990, 3, 3)).value}")


def test_honest_about_everything_else(ada: Numerologist) -> None:
    reply = ada.reply("What's the weather tomorrow?")
    assert "numbers are all I can really help with" in reply.text
    assert not reply.end


def test_thanks_and_goodbye(ada: Numerologist) -> None:
    assert "welcome" in ada.reply("thank you so much").text
    goodbye = ada.reply("Okay, goodbye!")
    assert goodbye.end
    assert "Goodbye Ada" in goodbye.text


@pytest.mark.parametrize(
    ("utterance", "complete"),
    [
        ("What is my life path number?", True),
        ("What does it mean?", True),
        ("What about this year?", True),
        ("Tell me the expression number for. Marie Curie.", True),
        ("the life path for March 3rd, 1990", True),
        ("How did you work it out?", True),
        ("Thank you.", True),
        ("Goodbye.", True),
        # A pause mid-sentence: the words so far stop where no sentence ends.
        ("Tell me the expression number for", False),
        ("What is the life path number of", False),
        ("What is my life path number and", False),
        ("the life path for someone born March", False),
        ("the life path for someone born March 3rd", False),
        ("My birthday is", False),
        ("What is my", False),
        # Nothing the dialogue understands: left to smart-turn and the silence.
        ("How is the weather today?", False),
        ("", False),
    ],
)
def test_complete_requests(utterance: str, complete: bool) -> None:
    assert is_complete_request(utterance) is complete


def test_full_stops_between_segments_do_not_hide_a_name(ada: Numerologist) -> None:
    # One turn recognised in two segments reaches the dialogue as two sentences.
    reply = ada.reply("Tell me the expression number for. Marie Curie.")
    assert reply.text.startswith(
        f"That expression number is {expression_number('Marie Curie').value}."
    )
    assert normalise("Born 3.3.1990. Thanks.") == "born 3.3.1990 thanks"


def test_a_follow_up_is_the_kind_named_now(ada: Numerologist) -> None:
    # Issue 23: "That expression number is 3" was the answer, the last turn's kind carried
    # over and "how other people see me" read as a name.
    assert ada.reply("what's my destiny number").kinds == (NumberKind.EXPRESSION,)
    assert find_name("and the number for how other people see me") is None
    reply = ada.reply("and the number for how other people see me")
    assert reply.text.startswith("Your personality number is 8.")
    assert reply.kinds == (NumberKind.PERSONALITY,)


def test_a_follow_up_naming_no_kind_keeps_the_last_one(ada: Numerologist) -> None:
    ada.reply("what's my soul urge")
    # John Smith's vowels: O = 6, I = 9: 15 -> 6.
    assert ada.reply("and for John Smith?").text.startswith("That soul urge number is 6.")


def test_someone_elses_number_is_never_worked_from_the_users(ada: Numerologist) -> None:
    # A life path needs their birth date, a soul urge their name: asked for, not guessed.
    asked = ada.reply("what is the life path for John Smith")
    assert asked.text == "The life path number comes from the birth date. What is their birth date?"
    assert asked.kinds == ()
    # The answer to the question: 1966-05-09 is 5 + 9 + 22 = 36 -> 9.
    assert ada.reply("May 9th 1966").text.startswith("That life path number is 9.")
    assert ada.reply("what's my wife's soul urge").intent == "other_person"
    assert ada.reply("what is the soul urge of someone born May 9th 1966").kinds == ()


def test_compatibility_asks_for_the_partners_date(ada: Numerologist) -> None:
    asked = ada.reply("are we compatible?")
    assert "What is their birth date" in asked.text
    answer = ada.reply("He was born on the ninth of May nineteen sixty six.")
    assert answer.intent == "compatibility"
    assert answer.text.startswith("Your life paths are 7 and 9: a complementary match.")
    assert "65 out of 100" in answer.text
    # Only the turn straight after the question.
    ada.reply("thanks")
    assert ada.reply("May 9th 1966").intent == "number"


def test_cycles_for_other_days(ada: Numerologist) -> None:
    # Today 2026-11-22: personal year 4, month 4 + 11 = 15 -> 6, day 6 + 22 = 28 -> 1.
    assert ada.reply("what's today's energy").text.startswith("Your personal day number is 1.")
    assert ada.reply("and tomorrow").text.startswith("Tomorrow, your personal day number is 11.")
    assert ada.reply("next month?").text.startswith("Next month, your personal month number is 7.")
    december = ada.reply("my personal day on December 25th 2026")
    assert december.text.startswith("On December 25, your personal day number is 5.")


def test_unsupported_and_unknown_say_what_it_can_do(ada: Numerologist) -> None:
    for said in ("what's my chinese zodiac sign", "what is the weather today"):
        reply = ada.reply(said)
        assert reply.text.endswith(
            "Ask me for any of your numbers, today's energy, compatibility with a partner, "
            "or what a number means."
        )
        assert not any(c.isdigit() for c in reply.text)


def test_the_intent_table() -> None:
    names = [intent.name for intent in INTENTS]
    assert len(names) == len(set(names))
    assert names[-1] == "unknown"


@pytest.mark.parametrize(
    "utterance",
    [
        "My partner was born on May 9th 1966, are we compatible?",
        "What does 11 mean?",
        "Why are 11, 22 and 33 special?",
        "Do I have any karmic debt?",
        "What are my lucky numbers?",
        "What's today's energy?",
    ],
)
def test_the_new_readings_are_complete_requests(utterance: str) -> None:
    assert is_complete_request(utterance)
