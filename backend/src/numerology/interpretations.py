"""What the numbers mean: original text written to be spoken aloud (short, plain sentences).

Each number has a title, keywords, strengths, challenges and the phrases that the readings of
each kind of number are built from; the nine personal years have a theme each.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.numerology.core import MASTER_NUMBERS, reduce, reduce_fully, reduction_chain
from src.numerology.errors import NumerologyInputError
from src.numerology.kinds import NumberKind, spoken_list


@dataclass(frozen=True)
class Meaning:
    """The meaning of one number.

    Attributes:
        title: A short name for the number.
        keywords: A few words that sum it up.
        strengths: What comes easily to it.
        challenges: What it has to work on.
        path: What a life on this path is about (life path).
        talent: The gifts it shows the world (expression).
        longing: What the heart wants (soul urge).
        impression: How others first see it (personality).
        gift: The extra talent of a birthday with this number (birthday).
        later: What later life grows toward (maturity).
    """

    title: str
    keywords: tuple[str, ...]
    strengths: str
    challenges: str
    path: str
    talent: str
    longing: str
    impression: str
    gift: str
    later: str


MEANINGS: dict[int, Meaning] = {
    1: Meaning(
        "The Leader",
        ("independence", "courage", "new beginnings"),
        "You start things, decide quickly and stand on your own feet.",
        "You can be impatient and find it hard to ask for help.",
        "learning to lead and to trust your own ideas",
        "starting projects and showing others the way",
        "to be free to choose your own direction",
        "confident, direct and ready to act",
        "taking the first step when everyone else hesitates",
        "quiet self-reliance and the courage to begin again",
    ),
    2: Meaning(
        "The Peacemaker",
        ("harmony", "partnership", "sensitivity"),
        "You listen well, notice feelings and bring people together.",
        "You may avoid conflict and put your own needs last.",
        "learning cooperation, patience and the strength of gentleness",
        "diplomacy, teamwork and careful detail",
        "close, loving partnerships and a calm home",
        "kind, tactful and easy to talk to",
        "sensing what others need before they say it",
        "deep partnerships and a gift for making peace",
    ),
    3: Meaning(
        "The Communicator",
        ("creativity", "joy", "expression"),
        "You speak, write and create with warmth and humour.",
        "You can scatter your energy and skip the hard parts.",
        "learning to express yourself and to share your joy",
        "words, art and lifting the mood of any room",
        "to create, to be heard and to enjoy life",
        "bright, friendly and full of stories",
        "finding the words that make people smile",
        "creative work that finally feels fully yours",
    ),
    4: Meaning(
        "The Builder",
        ("stability", "order", "hard work"),
        "You are reliable, practical and you finish what you start.",
        "You may resist change and carry too much alone.",
        "learning to build something solid, one step at a time",
        "planning, organising and making ideas real",
        "security, order and a home you can count on",
        "steady, serious and trustworthy",
        "patience with details that others skip",
        "lasting foundations for yourself and your family",
    ),
    5: Meaning(
        "The Adventurer",
        ("freedom", "change", "curiosity"),
        "You adapt fast, love new places and learn by doing.",
        "You can get restless and struggle with routine.",
        "learning to use freedom wisely and to welcome change",
        "selling ideas, travel and handling the unexpected",
        "variety, adventure and room to move",
        "lively, curious and a little daring",
        "turning surprises into opportunities",
        "wisdom gathered from many experiences",
    ),
    6: Meaning(
        "The Nurturer",
        ("care", "responsibility", "family"),
        "You look after people and make any place feel like home.",
        "You may worry too much and try to fix everyone.",
        "learning to care for others without losing yourself",
        "teaching, healing and creating beauty",
        "a loving family and a community to serve",
        "warm, protective and responsible",
        "making people feel safe and welcome",
        "a life centred on love, service and balance",
    ),
    7: Meaning(
        "The Seeker",
        ("wisdom", "reflection", "truth"),
        "You think deeply, ask good questions and trust your intuition.",
        "You can seem distant and keep your feelings hidden.",
        "learning to seek truth and to trust your inner voice",
        "research, analysis and understanding what lies beneath",
        "quiet time, knowledge and real answers",
        "calm, thoughtful and a little mysterious",
        "seeing what others overlook",
        "inner peace and a wisdom others come to for advice",
    ),
    8: Meaning(
        "The Achiever",
        ("ambition", "power", "abundance"),
        "You set big goals, manage well and turn effort into results.",
        "You may work too hard and measure yourself by success alone.",
        "learning to use power and money with fairness",
        "leadership in business and handling resources",
        "achievement, recognition and financial freedom",
        "strong, capable and in charge",
        "knowing how to make things pay off",
        "success that also serves the people around you",
    ),
    9: Meaning(
        "The Humanitarian",
        ("compassion", "generosity", "completion"),
        "You see the big picture and give freely to others.",
        "You may find it hard to let go of the past.",
        "learning compassion and service to the wider world",
        "inspiring others and working for a cause",
        "to make the world kinder and fairer",
        "generous, open and wise beyond your years",
        "understanding people from every walk of life",
        "a generous life that leaves the world better",
    ),
    11: Meaning(
        "The Inspirer",
        ("intuition", "vision", "inspiration"),
        "You sense things before they happen and inspire others.",
        "You can feel nervous tension and doubt your own light.",
        "learning to trust your intuition and to inspire by example",
        "vision, spiritual insight and uplifting others",
        "meaning, inspiration and a higher purpose",
        "sensitive, magnetic and quietly intense",
        "moments of insight that feel like a flash of light",
        "becoming a guide who helps others see their own path",
    ),
    22: Meaning(
        "The Master Builder",
        ("vision", "mastery", "large achievement"),
        "You can turn a great vision into something real and lasting.",
        "You may feel the weight of your own potential.",
        "learning to build something that serves many people",
        "large projects, leadership and practical genius",
        "to leave something real and useful behind",
        "capable, grounded and impressive",
        "seeing the whole plan and every brick in it",
        "a lasting work that outlives you",
    ),
    33: Meaning(
        "The Master Teacher",
        ("compassion", "healing", "guidance"),
        "You heal and teach through love and example.",
        "You may carry other people's burdens as your own.",
        "learning to guide and heal with love",
        "teaching, counselling and caring on a large scale",
        "to uplift others through love",
        "gentle, wise and deeply caring",
        "comforting people when they need it most",
        "a life of loving guidance for many",
    ),
}

# The reading of each kind that is built from a Meaning; a personal year has a theme instead.
_TEMPLATES: dict[NumberKind, str] = {
    NumberKind.LIFE_PATH: "Your life path is {n}, {title}. Your journey is about {m.path}.",
    NumberKind.EXPRESSION: "Your expression number is {n}, {title}. "
    "You have a talent for {m.talent}.",
    NumberKind.SOUL_URGE: "Your soul urge is {n}, {title}. Deep down, you long {longing}.",
    NumberKind.PERSONALITY: "Your personality number is {n}, {title}. People first see you as "
    "{m.impression}.",
    NumberKind.BIRTHDAY: "Your birthday number is {n}, {title}. It gives you a gift for {m.gift}.",
    NumberKind.MATURITY: "Your maturity number is {n}, {title}. Later in life, you grow toward "
    "{m.later}.",
}
# The kinds whose reading is built from a Meaning: every kind but the personal cycles.
KINDS = tuple(_TEMPLATES)

# The theme of each personal cycle number and what to do with it, said of a year, a month or a
# day; a personal year is 1 to 9, a personal month or day keeps 11, 22 and 33.
_CYCLE_THEMES: dict[int, tuple[str, str]] = {
    1: ("new beginnings", "Plant seeds, start fresh and trust your own ideas."),
    2: ("patience and partnership", "Relationships grow when you slow down and listen."),
    3: ("joy and expression", "Create, socialise and let yourself be seen."),
    4: ("building", "Steady work now lays foundations that will last."),
    5: ("change and freedom", "Say yes to new experiences and stay flexible."),
    6: ("home and responsibility", "Family, love and care take centre stage."),
    7: ("reflection", "Study, rest and listen to your inner voice."),
    8: ("achievement", "Ambition pays off, so take charge of your goals."),
    9: ("completion", "Finish what is done, let go, and make room for what comes next."),
    11: ("insight and inspiration", "Trust your intuition and share what you see."),
    22: ("building on a large scale", "Turn a big plan into real, practical steps."),
    33: ("compassion and service", "Help and teach with love, and look after yourself too."),
}
_PERIODS = {
    NumberKind.PERSONAL_YEAR: "year",
    NumberKind.PERSONAL_MONTH: "month",
    NumberKind.PERSONAL_DAY: "day",
}
PERSONAL_YEARS: dict[int, str] = {
    n: f"A year of {theme}. {advice}" for n, (theme, advice) in _CYCLE_THEMES.items() if n < 10
}

MASTER_NUMBERS_EXPLAINED = (
    "11, 22 and 33 are the master numbers. When a total comes to one of them, it is not reduced "
    "any further, because the doubled digit carries its root number twice over: 11 holds the 2, "
    "22 holds the 4 and 33 holds the 6, at a higher pitch. They bring bigger gifts and bigger "
    "pressure: 11 is intuition and inspiration, 22 is the master builder, 33 the master teacher."
)

# The karmic debt numbers: a 13, 14, 16 or 19 on the way to a core number.
KARMIC_DEBTS: dict[int, str] = {
    13: "Karmic debt 13 is about work: shortcuts do not pay, patient effort and focus do.",
    14: "Karmic debt 14 is about freedom: learning moderation and keeping your commitments "
    "while life keeps changing.",
    16: "Karmic debt 16 is about the ego: old structures may fall so that humility and a truer "
    "self can be built.",
    19: "Karmic debt 19 is about power: learning to stand on your own while still accepting "
    "help from others.",
}


def meaning(number: int) -> Meaning:
    """The meaning of a number (1-9, 11, 22, 33)."""
    try:
        return MEANINGS[number]
    except KeyError:
        raise NumerologyInputError(
            f"{number} is not a core number: they are 1 to 9, 11, 22 and 33."
        ) from None


def interpret(kind: str, number: int) -> str:
    """A short spoken reading of a number of a given kind (life_path, expression, ...)."""
    try:
        kind = NumberKind(kind)
    except ValueError:
        raise NumerologyInputError(
            f"Unknown kind of number {kind!r}: use one of {spoken_list(list(NumberKind))}."
        ) from None
    if kind.is_cycle:
        return cycle_theme(kind, number)
    m = meaning(number)
    longing = m.longing if m.longing.startswith("to ") else f"for {m.longing}"
    reading = _TEMPLATES[kind].format(n=number, title=m.title, m=m, longing=longing)
    if number in MASTER_NUMBERS:
        reading += f" {number} is a master number, so it asks more of you and gives more back."
    return reading


def personal_year_theme(number: int) -> str:
    """The theme of a personal year (1-9)."""
    return cycle_theme(NumberKind.PERSONAL_YEAR, number)


def cycle_theme(kind: NumberKind, number: int) -> str:
    """The theme of a personal year (1-9), month or day (1-9, 11, 22, 33)."""
    period = _PERIODS[kind]
    if kind is NumberKind.PERSONAL_YEAR and number not in PERSONAL_YEARS:
        raise NumerologyInputError("Personal years run from 1 to 9.")
    try:
        theme, advice = _CYCLE_THEMES[number]
    except KeyError:
        raise NumerologyInputError(f"A personal {period} is 1 to 9, 11, 22 or 33.") from None
    return f"This is a personal {period} {number}. A {period} of {theme}. {advice}"


def number_meaning(number: int) -> str:
    """What a number means in general: a core number's meaning (with a word on the masters), a
    karmic debt's lesson, or, for any other whole number, what it reduces to and that meaning.
    """
    if number < 1:
        raise NumerologyInputError("Numerology reads whole numbers from 1 upwards.")
    if number in KARMIC_DEBTS:
        root = reduce(number)
        return f"{KARMIC_DEBTS[number]} It reduces to {root}, {meaning(root).title}."
    if number not in MEANINGS:
        chain = reduction_chain(number)
        steps = ", then ".join(str(n) for n in chain[1:])
        return f"{number} is not a core number; it reduces to {steps}. " + number_meaning(chain[-1])
    m = meaning(number)
    text = f"{number} is {m.title}: {', '.join(m.keywords)}. {m.strengths} {m.challenges}"
    if number in MASTER_NUMBERS:
        root = reduce_fully(number)
        text += (
            f" {number} is a master number: it is not reduced to {root}, and it asks more of "
            "you and gives more back."
        )
    return text
