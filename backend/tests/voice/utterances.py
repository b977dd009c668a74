"""What users say to the built-in numerologist, with what each one asks and must be told.

Said to Ada Lovelace, born 1984-07-05, on 2026-11-22 (`USER`, `TODAY`). Several wordings per
intent, with the recognisers' typical errors ("sole urge", "life past", "carmic"), dates and
numbers spoken as words, fillers and no punctuation.

Each entry: the utterance, the intent that must answer it (`Reply.intent`), and `says`: what
the reply must contain when it gives a number (hand-worked below), or None when the right
reply has no number in it at all. `after`: turns said first, in the same conversation.

Ada's numbers, by hand:
- life path: 7 + 5 + (1984 -> 22) = 34 -> 7; birthday: 5;
- expression: ADA 1 + 4 + 1 = 6, LOVELACE 3+6+4+5+3+1+3+5 = 30 -> 3; 6 + 3 = 9;
- soul urge: A A = 2, O E A E = 17 -> 8; 2 + 8 = 10 -> 1;
- personality: D = 4, L V L C = 13 -> 4; 4 + 4 = 8; maturity: 7 + 9 = 16 -> 7;
- personal year 2026: 7 + 5 + (2026 -> 10 -> 1) = 13 -> 4; 2027: 7 + 5 + 11 = 23 -> 5;
  2025: 7 + 5 + 9 = 21 -> 3; 2030: 7 + 5 + 5 = 17 -> 8;
- personal month November: 4 + 11 = 15 -> 6; December: 4 + 3 = 7; October: 4 + 1 = 5;
- personal day the 22nd: 6 + 22 = 28 -> 1; the 23rd: 6 + 5 = 11 (kept); 2026-12-25: 7 + 7 = 14
  -> 5;
- lucky numbers 7, 5, 9; lucky days 7th, 16th, 25th; no karmic debts.
Other people: 1966-05-09: 5 + 9 + (1966 -> 22) = 36 -> 9; 2001-02-03: 2 + 3 + 3 = 8;
1990-01-29: 1 + 11 + (1990 -> 19 -> 10 -> 1) = 13 -> 4, birthday 29 -> 11; John Smith:
JOHN 20 -> 2, SMITH 24 -> 6: expression 8; vowels O = 6, I = 9: soul urge 15 -> 6; consonants
JHN 14 -> 5, SMTH 15 -> 6: personality 11. 12/25/1990: 3 + 7 + 1 = 11; 1950-03-03: 3 + 3 + 6 = 12
-> 3; 1980-06-01: 6 + 1 + 18 -> 9 = 16 -> 7. Maria Garcia's vowels: A I A = 11 (kept) twice:
soul urge 22. 1985-04-13: 4 + 4 + 5 = 13 -> 4, karmic debt 13.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

USER = ("Ada Lovelace", "Ada", date(1984, 7, 5))
TODAY = date(2026, 11, 22)


@dataclass(frozen=True)
class U:
    """One utterance and its expected answer."""

    text: str
    intent: str
    says: str | None = None
    after: tuple[str, ...] = ()


LIFE = "life path number is 7"
EXPRESSION = "expression number is 9"
SOUL = "soul urge number is 1"
PERSONALITY = "personality number is 8"
BIRTHDAY = "birthday number is 5"
MATURITY = "maturity number is 7"
YEAR = "personal year number is 4"
MONTH = "personal month number is 6"
DAY = "personal day number is 1"
MATCH_9 = "life paths are 7 and 9"
MATCH_8 = "life paths are 7 and 8"
LUCKY = "lucky numbers are 7, 5 and 9"
NO_DEBT = "No karmic debt numbers: 13, 14, 16 and 19 do not appear"

UTTERANCES: list[U] = [
    # The life path, and what the recognisers make of it.
    U("What is my life path number?", "number", LIFE),
    U("what's my life path", "number", LIFE),
    U("tell me my life path number please", "number", LIFE),
    U("What is my life past number?", "number", LIFE),
    U("what's my life pass number", "number", LIFE),
    U("what is my live path number", "number", LIFE),
    U("What is my life, Pa?", "number", LIFE),
    U("um what's my lifepath", "number", LIFE),
    U("what's my number", "number", LIFE),
    U("what is my main number", "number", LIFE),
    U("what's my life purpose number", "number", LIFE),
    U("so what is my path number", "number", LIFE),
    # The expression number, also called destiny.
    U("what's my destiny number", "number", EXPRESSION),
    U("What is my expression number?", "number", EXPRESSION),
    U("what's the number of my name", "number", EXPRESSION),
    U("what does my name say about me", "number", EXPRESSION),
    U("tell me my name number", "number", EXPRESSION),
    U("what's my full name's number", "number", EXPRESSION),
    U("my destiny please", "number", EXPRESSION),
    U("what is the number for my full name", "number", EXPRESSION),
    # The soul urge, also heart's desire.
    U("what's my soul urge", "number", SOUL),
    U("what is my sole urge number", "number", SOUL),
    U("what is my so urge number", "number", SOUL),
    U("what's my heart's desire", "number", SOUL),
    U("what's my hearts desire number", "number", SOUL),
    U("what does my heart really want", "number", SOUL),
    U("what do I want deep down", "number", SOUL),
    U("tell me about my soul number", "number", SOUL),
    U("what's my inner desire", "number", SOUL),
    # The personality number: how others see you.
    U("what is my personality number", "number", PERSONALITY),
    U("how do other people see me", "number", PERSONALITY),
    U("the number for how others see me", "number", PERSONALITY),
    U("what first impression do I make", "number", PERSONALITY),
    U("how do I come across to people", "number", PERSONALITY),
    U("what's my outer self number", "number", PERSONALITY),
    # The birthday number.
    U("what's my birthday number", "number", BIRTHDAY),
    U("the number for my birthday", "number", BIRTHDAY),
    U("what is the number of the day I was born", "number", BIRTHDAY),
    U("tell me about my birth day number", "number", BIRTHDAY),
    U("what does the day of my birth say", "number", BIRTHDAY),
    # The maturity number.
    U("what's my maturity number", "number", MATURITY),
    U("what will I be like later in life", "number", MATURITY),
    U("what happens when I'm older", "number", MATURITY),
    U("what do I grow into as I get older", "number", MATURITY),
    # The personal year.
    U("what's my personal year", "number", YEAR),
    U("tell me about my year ahead", "number", YEAR),
    U("what about this year", "number", YEAR),
    U("what does this year hold for me", "number", YEAR),
    U("what's the coming year like for me", "number", YEAR),
    U("what is my personal year number", "number", YEAR),
    U("what about next year", "number", "personal year number is 5"),
    U("and the year after this one, next year?", "number", "personal year number is 5"),
    U("what was last year for me", "number", "personal year number is 3"),
    U("what is my personal year for 2030", "number", "personal year number is 8"),
    U("what is my personal year in twenty thirty", "number", "personal year number is 8"),
    # The personal month: this month's energy.
    U("what's this month's energy", "number", MONTH),
    U("what's my personal month", "number", MONTH),
    U("what does this month hold for me", "number", MONTH),
    U("tell me about the month ahead", "number", MONTH),
    U("what about next month", "number", "personal month number is 7"),
    U("how was last month for me", "number", "personal month number is 5"),
    U("what's my monthly number", "number", MONTH),
    # The personal day: today's energy.
    U("what's today's energy", "number", DAY),
    U("what is my personal day number", "number", DAY),
    U("what's the energy for today", "number", DAY),
    U("what does today hold for me", "number", DAY),
    U("what kind of day will I have", "number", DAY),
    U("what's my daily number", "number", DAY),
    U("how is my day looking", "number", DAY),
    U("what's tomorrow's energy", "number", "personal day number is 11"),
    U("and the energy for tomorrow", "number", "personal day number is 11"),
    U("what's my personal day on December 25th 2026", "number", "personal day number is 5"),
    # Follow-ups name a new kind: that kind, never the last one.
    U(
        "and the number for how other people see me",
        "number",
        PERSONALITY,
        ("what's my destiny number",),
    ),
    U("and my soul urge?", "number", SOUL, ("what's my destiny number",)),
    U("what about my birthday number", "number", BIRTHDAY, ("what's my life path",)),
    U("and this month?", "number", MONTH, ("what's my personal year",)),
    U("and today", "number", DAY, ("what's this month's energy",)),
    U("and my heart's desire", "number", SOUL, ("what's my personality number",)),
    U("what about my expression", "number", EXPRESSION, ("what's my soul urge",)),
    U("and how do people see me", "number", PERSONALITY, ("what's my soul urge",)),
    U("ok and the maturity one", "number", MATURITY, ("what's my life path",)),
    # Follow-ups that name no kind: the same kind, for what was given.
    U("and for John Smith?", "number", "that soul urge number is 6", ("what's my soul urge",)),
    U(
        "what about someone born on February 3rd 2001",
        "number",
        "that life path number is 8",
        ("what's my life path",),
    ),
    U("How did you work that out?", "how", "7 plus 5 plus 22 makes 34", ("what's my life path",)),
    U("how did you calculate it", "how", "2 plus 8 makes 10", ("what's my soul urge",)),
    U("What does it mean?", "meaning", "7 is The Seeker", ("what's my life path",)),
    U("tell me more", "meaning", "9 is The Humanitarian", ("what's my destiny number",)),
    U("what does that mean", "meaning", "personal month 6", ("what's this month's energy",)),
    # Other people's numbers.
    U("What is the expression number for John Smith?", "number", "that expression number is 8"),
    U("what's the personality number of John Smith", "number", "that personality number is 11"),
    U("what's the soul urge for john smith", "number", "that soul urge number is 6"),
    U("what about March the third, nineteen ninety", "number", "that life path number is 7"),
    U("life path for someone born 1966-05-09", "number", "that life path number is 9"),
    U(
        "what is the life path of someone born on the ninth of may nineteen sixty six",
        "number",
        "that life path number is 9",
    ),
    U("birthday number for january 29th 1990", "number", "that birthday number is 11"),
    U("what's the life path for 1/29/1990", "number", "that life path number is 4"),
    U("life path for February third two thousand one", "number", "that life path number is 8"),
    # Someone else, without what their number comes from: ask, never use Ada's.
    U("what is my wife's life path", "other_person", None),
    U(
        "her name is Maria Garcia",
        "number",
        "that soul urge number is 22",
        ("what's my wife's soul urge",),
    ),
    U("what's my husband's destiny number", "other_person", None),
    U("what is my son's birthday number", "other_person", None),
    U("what is the life path for John Smith", "number", None),
    U("what's the soul urge of someone born May 9th 1966", "number", None),
    U("what's the life path for someone born in March 1990", "part_date", None),
    U("what's the life path for May 1966", "part_date", None),
    U("life path for someone born on the 3rd of March", "part_date", None),
    # Compatibility.
    U("My partner was born on May 9th 1966, are we compatible?", "compatibility", MATCH_9),
    U(
        "are we compatible? my husband was born may ninth nineteen sixty six",
        "compatibility",
        MATCH_9,
    ),
    U("my boyfriend's birthday is 1966-05-09 are we a good match", "compatibility", MATCH_9),
    U("compatibility with someone born February 3rd 2001", "compatibility", MATCH_8),
    U(
        "how compatible am I with someone born on the 3rd of February 2001",
        "compatibility",
        MATCH_8,
    ),
    U("is my girlfriend born 2/3/2001 a good match for me", "compatibility", MATCH_8),
    U("are we compatable she was born May 9 1966", "compatibility", MATCH_9),
    U("my wife was born on May 9th 1966", "compatibility", MATCH_9),
    U("do we match, he's born the ninth of May 1966", "compatibility", MATCH_9),
    U("are we compatible", "compatibility", None),
    U("will I get along with my partner", "compatibility", None),
    U("are we soulmates", "compatibility", None),
    U("May 9th 1966", "compatibility", MATCH_9, ("are we compatible",)),
    U(
        "she was born on the ninth of May nineteen sixty six",
        "compatibility",
        MATCH_9,
        ("are we a good match",),
    ),
    U(
        "how did you work that out",
        "how",
        "7 is one of the independent thinkers",
        ("my partner was born on May 9th 1966, are we compatible",),
    ),
    # What a number means, masters included.
    U("What does 11 mean?", "number_meaning", "11 is The Inspirer"),
    U("what does eleven mean", "number_meaning", "11 is The Inspirer"),
    U("what's the meaning of the number 7", "number_meaning", "7 is The Seeker"),
    U("what does the number seven mean", "number_meaning", "7 is The Seeker"),
    U("tell me about the number 22", "number_meaning", "22 is The Master Builder"),
    U("what does 33 stand for", "number_meaning", "33 is The Master Teacher"),
    U("what does number one mean", "number_meaning", "1 is The Leader"),
    U("what does 4 represent", "number_meaning", "4 is The Builder"),
    U("what is the meaning of eight", "number_meaning", "8 is The Achiever"),
    U("what does 10 mean", "number_meaning", "reduces to 1"),
    U("what does the number 13 mean", "number_meaning", "Karmic debt 13"),
    U("what does a life path 3 mean", "number_meaning", "3 is The Communicator"),
    U(
        "my soul urge is 5 what does that mean",
        "number_meaning",
        "your soul urge number is 1, not 5",
    ),
    U("my life path is 7, what does it mean", "number_meaning", "7 is The Seeker"),
    U("Why are 11, 22 and 33 special?", "master_numbers", "11, 22 and 33 are the master numbers"),
    U(
        "why are eleven, twenty two and thirty three special",
        "master_numbers",
        "11, 22 and 33 are the master numbers",
    ),
    U("what are master numbers", "master_numbers", "11, 22 and 33 are the master numbers"),
    U("what's special about 11", "master_numbers", "11, 22 and 33 are the master numbers"),
    U("what is a master number", "master_numbers", "11, 22 and 33 are the master numbers"),
    # Karmic debt.
    U("do I have any karmic debt", "karmic_debt", NO_DEBT),
    U("what are my karmic debt numbers", "karmic_debt", NO_DEBT),
    U("do I have carmic debt", "karmic_debt", NO_DEBT),
    U("any karma debt in my numbers", "karmic_debt", NO_DEBT),
    U("what is karmic debt 14", "karmic_debt", "Karmic debt 14"),
    U(
        "does someone born April 13th 1985 have karmic debt",
        "karmic_debt",
        "Their life path passes through 13 on its way to 4",
    ),
    U("what's my daughter's karmic debt", "other_person", None),
    U("what are my son's lucky numbers", "other_person", None),
    U("lucky numbers for 1990-01-29", "lucky_numbers", "Their lucky numbers are 4 and 11"),
    U("what does karmic debt sixteen mean", "karmic_debt", "Karmic debt 16"),
    U("tell me about karmic debt 19", "karmic_debt", "Karmic debt 19"),
    # Lucky numbers.
    U("what are my lucky numbers", "lucky_numbers", LUCKY),
    U("what's my lucky number", "lucky_numbers", LUCKY),
    U("which days are lucky for me", "lucky_numbers", LUCKY),
    U("what numbers bring me luck", "lucky_numbers", LUCKY),
    U("um lucky numbers please", "lucky_numbers", LUCKY),
    # The whole profile.
    U("what are my numbers", "all_numbers", "Your life path is 7"),
    U("give me my whole numerology reading", "all_numbers", "Your life path is 7"),
    U("tell me all of my numbers please", "all_numbers", "Your life path is 7"),
    U("can I have a reading", "all_numbers", "Your life path is 7"),
    # Thanks, help, goodbye.
    U("thank you", "thanks", None),
    U("thanks so much", "thanks", None),
    U("cheers", "thanks", None),
    U("what did we talk about last time", "last_time", None),
    U("do you remember our last conversation", "last_time", None),
    U("where did we leave off", "last_time", None),
    U("what did we discuss before", "last_time", None),
    # A name misheard after "number of": someone else's number, asked for, never the user's.
    U("what is the expression number of are you curious", "other_person", None),
    U("the soul urge number for uh the person I met", "other_person", None),
    U("what can you do", "help", None),
    U("help", "help", None),
    U("how does this work", "help", None),
    U("okay goodbye", "goodbye", None),
    U("bye", "goodbye", None),
    U("that's all for today thanks", "goodbye", None),
    U("I have to go", "goodbye", None),
    # Outside what it can do: an honest short reply, no number.
    U("what's my chinese zodiac sign", "unsupported", None),
    U("what's my star sign", "unsupported", None),
    U("what is my karmic lesson number", "unsupported", None),
    U("what's my angel number", "unsupported", None),
    U("what are my pinnacle numbers", "unsupported", None),
    U("what's my challenge number", "unsupported", None),
    U("read my horoscope", "unsupported", None),
    U("what's the universal year", "unsupported", None),
    U("what's the weather tomorrow", "unknown", None),
    U("how is the weather today", "unknown", None),
    U("hello there", "unknown", None),
    U("who won the football", "unknown", None),
    U("can you book me a taxi", "unknown", None),
    U("what's the time", "unknown", None),
    U("", "sorry", None),
    # Written after the patterns above, as a check on them; 30 of these 40 were routed right
    # before the patterns learnt from them (the other 10 got the honest fallback, no number).
    U("hey so what's my life path", "number", LIFE),
    U("could you tell me what my life path is", "number", LIFE),
    U("I'd like to know my destiny", "number", EXPRESSION),
    U("what number does my name give", "number", EXPRESSION),
    U("what's my soul's urge", "number", SOUL),
    U("what is my soul urge number please", "number", SOUL),
    U("whats my personality", "number", PERSONALITY),
    U("how do people perceive me", "number", PERSONALITY),
    U("what about my birthday", "number", BIRTHDAY),
    U("what is the energy of the day", "number", DAY),
    U("what's the vibe today", "number", DAY),
    U("what's in store for me today", "number", DAY),
    U("what's in store for me this month", "number", MONTH),
    U("what is the theme of this month", "number", MONTH),
    U("what's my year looking like", "number", YEAR),
    U("what kind of year am I having", "number", YEAR),
    U("what's my forecast for the year", "number", YEAR),
    U("what's the meaning of 9", "number_meaning", "9 is The Humanitarian"),
    U("what does the number two mean in numerology", "number_meaning", "2 is The Peacemaker"),
    U("explain the number 5", "number_meaning", "5 is The Adventurer"),
    U(
        "what is so special about master numbers",
        "master_numbers",
        "11, 22 and 33 are the master numbers",
    ),
    U(
        "my partner's birthday is June 1st 1980 are we compatible",
        "compatibility",
        "life paths are 7 and 7",
    ),
    U(
        "me and my boyfriend, he was born 12/25/1990, do we match",
        "compatibility",
        "life paths are 7 and 11",
    ),
    U("what's our compatibility", "compatibility", None),
    U("is there karmic debt in my chart", "karmic_debt", NO_DEBT),
    U("what are my luckiest days", "lucky_numbers", LUCKY),
    U("do I have a lucky number", "lucky_numbers", LUCKY),
    U(
        "can you explain how you got that",
        "how",
        "7 plus 5 plus 22 makes 34",
        ("what's my life path",),
    ),
    U("and what does that number mean", "meaning", "7 is The Seeker", ("what's my life path",)),
    U("and the one for my birthday", "number", BIRTHDAY, ("what's my life path",)),
    U("what about the number for my heart", "number", SOUL, ("what's my life path",)),
    U(
        "what's my mother's life path, she was born March 3rd 1950",
        "number",
        "that life path number is 3",
    ),
    U("what's the expression number for Marie Curie", "number", "that expression number is"),
    U("what is my numerology", "all_numbers", "Your life path is 7"),
    U("tell me everything about my numbers", "all_numbers", "Your life path is 7"),
    U("what's my moon sign", "unknown", None),
    U("tell me a joke", "unknown", None),
    U("I'm done, bye", "goodbye", None),
    U("great thanks", "thanks", None),
    U("what sorts of things can I ask", "help", None),
]
