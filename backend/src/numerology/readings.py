"""The readings built on the core numbers: compatibility, karmic debts and lucky numbers.

The rule set (one, stated here and in the README's numerology section):

- **Compatibility** of two people compares their life path numbers, and their expression
  numbers when both names are given. Each number is taken at its root (a master number at its
  reduced digit: 11 as 2, 22 as 4, 33 as 6) and placed in one of three families:
  1, 5 and 7 (independent thinkers), 2, 4 and 8 (builders and partners), 3, 6 and 9 (creative
  carers). A pair is
  *natural* (90 of 100) when the two roots differ but share a family,
  *mirror* (80) when the roots are the same,
  *complementary* (65) when one is a 3-6-9 and the other is not,
  *challenging* (40) when one is a 1-5-7 and the other a 2-4-8.
  The overall score is the life path pair's, or with names the mean of the life path and the
  expression pairs, rounded half up.
- **Karmic debt numbers** are 13, 14, 16 and 19 appearing in the reduction chain of the life
  path, expression, soul urge, personality or birthday number (the total before reducing, or a
  step on the way), as `core.reduction_chain` records it. A name part's own sum does not count.
- **Lucky numbers** are the distinct values of the life path, birthday and (with a name)
  expression numbers, in that order; the **lucky days** of a month are the days whose digits
  reduce fully to the life path's root (life path 7: the 7th, 16th and 25th).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from src.numerology.core import NumberResult, compute, reduce_fully
from src.numerology.interpretations import KARMIC_DEBTS
from src.numerology.kinds import NumberKind, ordinal, spoken_list

# The three families of roots, and the score of each kind of pair.
FAMILIES: tuple[frozenset[int], ...] = (
    frozenset({1, 5, 7}),
    frozenset({2, 4, 8}),
    frozenset({3, 6, 9}),
)
_FAMILY_NAMES = ("independent thinkers", "builders and partners", "creative carers")
SCORES = {"natural": 90, "mirror": 80, "complementary": 65, "challenging": 40}
_LEVEL_WORDS = {
    "natural": "a natural match",
    "mirror": "a mirror match",
    "complementary": "a complementary match",
    "challenging": "a challenging match",
}
_LEVEL_ADVICE = {
    "natural": "You tend to want the same things from life in different ways.",
    "mirror": "You understand each other easily, and share the same blind spots.",
    "complementary": "You are different, and each brings what the other lacks.",
    "challenging": "You see life very differently; it works with patience and respect.",
}
# The kinds karmic debts are looked for in, in speaking order.
KARMIC_KINDS = (
    NumberKind.LIFE_PATH,
    NumberKind.EXPRESSION,
    NumberKind.SOUL_URGE,
    NumberKind.PERSONALITY,
    NumberKind.BIRTHDAY,
)
_NAME_KINDS = frozenset({NumberKind.EXPRESSION, NumberKind.SOUL_URGE, NumberKind.PERSONALITY})


def _family(root: int) -> int:
    return next(i for i, family in enumerate(FAMILIES) if root in family)


def pair_level(a: int, b: int) -> str:
    """How two core numbers go together: natural, mirror, complementary or challenging."""
    ra, rb = reduce_fully(a), reduce_fully(b)
    if ra == rb:
        return "mirror"
    fa, fb = _family(ra), _family(rb)
    if fa == fb:
        return "natural"
    return "complementary" if 2 in (fa, fb) else "challenging"


@dataclass(frozen=True)
class Pair:
    """One kind of number of both people and how they go together.

    Attributes:
        kind: The kind of number compared.
        first: The first person's number.
        second: The second person's number.
        level: natural, mirror, complementary or challenging.
    """

    kind: NumberKind
    first: int
    second: int
    level: str

    @property
    def score(self) -> int:
        """The pair's score out of 100."""
        return SCORES[self.level]

    def spoken(self) -> str:
        """One sentence: "Your life paths are 7 and 9: a complementary match."."""
        return f"Your {self.kind.words}s are {self.first} and {self.second}: " + (
            f"{_LEVEL_WORDS[self.level]}."
        )

    def why(self) -> str:
        """The rule behind the level, as a sentence."""
        ra, rb = reduce_fully(self.first), reduce_fully(self.second)
        if self.level == "mirror":
            return f"Both come to {ra}."
        fa, fb = _family(ra), _family(rb)
        if fa == fb:
            return f"{ra} and {rb} are both {_FAMILY_NAMES[fa]}."
        return f"{ra} is one of the {_FAMILY_NAMES[fa]} and {rb} one of the {_FAMILY_NAMES[fb]}."


@dataclass(frozen=True)
class Compatibility:
    """How two people go together.

    Attributes:
        pairs: The life path pair, then the expression pair when both names were given.
    """

    pairs: tuple[Pair, ...]

    @property
    def score(self) -> int:
        """The overall score out of 100: the mean of the pairs' scores, rounded half up."""
        return (2 * sum(p.score for p in self.pairs) + len(self.pairs)) // (2 * len(self.pairs))

    @property
    def level(self) -> str:
        """The life path pair's level, the main one."""
        return self.pairs[0].level

    def summary(self) -> str:
        """A short spoken summary."""
        parts = [p.spoken() for p in self.pairs]
        parts.append(_LEVEL_ADVICE[self.level])
        parts.append(f"Overall, {self.score} out of 100.")
        return " ".join(parts)

    def explain(self) -> str:
        """The rule applied, for "how did you work it out?"."""
        families = "; ".join(
            f"{spoken_list([str(n) for n in sorted(f)], 'and')} are {name}"
            for f, name in zip(FAMILIES, _FAMILY_NAMES, strict=True)
        )
        whys = " ".join(p.why() for p in self.pairs)
        return (
            f"I compare the numbers at their root, in three families: {families}. {whys} "
            "The same family scores 90, the same number 80, a 3, 6 or 9 with another family "
            "65, and a 1, 5 or 7 with a 2, 4 or 8 40."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "score": self.score,
            "level": self.level,
            "pairs": [
                {
                    "kind": p.kind.value,
                    "first": p.first,
                    "second": p.second,
                    "level": p.level,
                    "score": p.score,
                }
                for p in self.pairs
            ],
            "summary": self.summary(),
            "explanation": self.explain(),
        }


def compatibility(
    first_birth_date: date,
    second_birth_date: date,
    first_name: str | None = None,
    second_name: str | None = None,
) -> Compatibility:
    """Two people's compatibility: life paths, and expressions when both names are given.

    Raises:
        NumerologyInputError: a birth date in the future or a name with no letters.
    """
    pairs = [
        _pair(NumberKind.LIFE_PATH, first_birth_date, second_birth_date, None, None),
    ]
    if first_name and second_name:
        pairs.append(_pair(NumberKind.EXPRESSION, None, None, first_name, second_name))
    return Compatibility(tuple(pairs))


def _pair(
    kind: NumberKind, da: date | None, db: date | None, na: str | None, nb: str | None
) -> Pair:
    a = compute(kind, full_name=na, birth_date=da).value
    b = compute(kind, full_name=nb, birth_date=db).value
    return Pair(kind, a, b, pair_level(a, b))


@dataclass(frozen=True)
class KarmicDebt:
    """A karmic debt number found on the way to a core number.

    Attributes:
        number: 13, 14, 16 or 19.
        kind: The core number whose reduction it appeared in.
        result: That core number, with its chain.
    """

    number: int
    kind: NumberKind
    result: NumberResult

    def spoken(self, whose: str = "your") -> str:
        """ "Your life path passes through 13 on its way to 4. Karmic debt 13 is ..."."""
        return (
            f"{whose.capitalize()} {self.kind.words} passes through {self.number} on its way to "
            f"{self.result.value}. {KARMIC_DEBTS[self.number]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "number": self.number,
            "kind": self.kind.value,
            "chain": list(self.result.chain),
            "meaning": KARMIC_DEBTS[self.number],
        }


def karmic_debts(birth_date: date, full_name: str | None = None) -> list[KarmicDebt]:
    """The karmic debt numbers of a birth date (and a name, when given), in speaking order.

    Raises:
        NumerologyInputError: a birth date in the future or a name with no letters.
    """
    debts: list[KarmicDebt] = []
    for kind in KARMIC_KINDS:
        if kind in _NAME_KINDS and not full_name:
            continue
        result = compute(kind, full_name=full_name, birth_date=birth_date)
        debts.extend(KarmicDebt(n, kind, result) for n in result.chain if n in KARMIC_DEBTS)
    return debts


def karmic_summary(debts: list[KarmicDebt], *, with_name: bool, whose: str = "your") -> str:
    """What to say about a person's karmic debts, none included."""
    if debts:
        return " ".join(d.spoken(whose) for d in debts)
    where = "life path, name numbers or birthday" if with_name else "life path or birthday"
    return f"No karmic debt numbers: 13, 14, 16 and 19 do not appear in {whose} {where}."


@dataclass(frozen=True)
class LuckyNumbers:
    """Lucky numbers and days of the month, by the rule in the module docstring.

    Attributes:
        numbers: The distinct life path, birthday and expression numbers, in that order.
        days: The days of a month whose digits reduce fully to the life path's root.
    """

    numbers: tuple[int, ...]
    days: tuple[int, ...]

    def spoken(self, whose: str = "your") -> str:
        """A short spoken answer."""
        numbers = spoken_list([str(n) for n in self.numbers], "and")
        days = spoken_list([ordinal(d) for d in self.days], "and")
        return (
            f"{whose.capitalize()} lucky numbers are {numbers}: {whose} core numbers. "
            f"{whose.capitalize()} luckiest days of the month are the {days}."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"numbers": list(self.numbers), "days": list(self.days)}


def lucky_numbers(birth_date: date, full_name: str | None = None) -> LuckyNumbers:
    """Lucky numbers and days of a birth date (and a name, when given).

    Raises:
        NumerologyInputError: a birth date in the future or a name with no letters.
    """
    kinds = [NumberKind.LIFE_PATH, NumberKind.BIRTHDAY]
    if full_name:
        kinds.append(NumberKind.EXPRESSION)
    values = [compute(k, full_name=full_name, birth_date=birth_date).value for k in kinds]
    root = reduce_fully(values[0])
    days = tuple(d for d in range(1, 32) if reduce_fully(d) == root)
    return LuckyNumbers(tuple(dict.fromkeys(values)), days)
