"""The core numbers, each carrying the arithmetic that produced it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from src.numerology.errors import NumerologyInputError
from src.numerology.kinds import NumberKind
from src.numerology.letters import letter_sum, letters_of, name_parts

MASTER_NUMBERS = frozenset({11, 22, 33})
VALID_NUMBERS = frozenset(range(1, 10)) | MASTER_NUMBERS
# The calendar years a personal year can be asked for.
MIN_YEAR, MAX_YEAR = 1800, 2200


def _digit_sum(n: int) -> int:
    return sum(int(d) for d in str(n))


def reduction_chain(n: int, *, keep_masters: bool = True) -> tuple[int, ...]:
    """Every step of reducing `n`: (34, 7), or (29, 11) when master numbers are kept."""
    if n < 0:
        raise NumerologyInputError("Numbers to reduce must not be negative.")
    chain = [n]
    while chain[-1] > 9 and not (keep_masters and chain[-1] in MASTER_NUMBERS):
        chain.append(_digit_sum(chain[-1]))
    return tuple(chain)


def reduce(n: int) -> int:
    """Sum the digits until one digit is left, stopping at the master numbers 11, 22 and 33."""
    return reduction_chain(n)[-1]


def reduce_fully(n: int) -> int:
    """Sum the digits until one digit is left, masters included: 11 -> 2, 29 -> 2."""
    return reduction_chain(n, keep_masters=False)[-1]


@dataclass(frozen=True)
class Component:
    """One ingredient of a number: a date part or a name part, and what it reduces to.

    Attributes:
        label: What it is ("month 12", "Ada").
        raw: Its value before reducing (the month, or the sum of the letters).
        reduced: Its reduced value.
        letters: For name parts, which letters were added ("letters", "vowels",
            "consonants"); empty otherwise.
        stated: Whether the explanation names it even when it does not reduce.
    """

    label: str
    raw: int
    reduced: int
    letters: str = ""
    stated: bool = False

    def spoken(self) -> str:
        """How it was found, as a clause ("year 1984 reduces to 22"); empty if nothing to say."""
        reduces = f", which reduces to {self.reduced}" if self.raw != self.reduced else ""
        if self.letters:
            return f"the {self.letters} of {self.label} add up to {self.raw}{reduces}"
        if self.stated:
            return f"{self.label} is {self.raw}{reduces}"
        return f"{self.label} reduces to {self.reduced}" if reduces else ""


@dataclass(frozen=True)
class NumberResult:
    """A core number and how it was reached.

    Attributes:
        kind: Which kind of number it is.
        value: The number.
        components: The reduced ingredients that were added up.
        chain: The reduction of their sum, ending with `value`.
    """

    kind: NumberKind
    value: int
    components: tuple[Component, ...]
    chain: tuple[int, ...]

    @property
    def total(self) -> int:
        """The sum of the reduced components."""
        return self.chain[0]

    def explain(self, *, brief: bool = False) -> str:
        """The arithmetic as short spoken sentences; `brief` leaves out reducing each part."""
        steps = [spoken for c in self.components if (spoken := c.spoken())]
        if not self.components and self.kind is NumberKind.BIRTHDAY:
            steps = [f"you were born on day {self.chain[0]}"]
        joined = "; ".join(steps)
        sentences = [joined[:1].upper() + joined[1:] + "." if steps and not brief else ""]
        if len(self.components) > 1:
            added = " plus ".join(str(c.reduced) for c in self.components)
            sentences.append(f"{added} makes {self.total}.")
        for before, after in zip(self.chain, self.chain[1:], strict=False):
            digits = " plus ".join(str(before))
            sentences.append(f"{digits} is {after}.")
        if not brief:
            sentences.append(f"So the number is {self.value}.")
        return " ".join(s for s in sentences if s)

    @property
    def is_master(self) -> bool:
        """Whether the number is a master number: 11, 22 or 33."""
        return self.value in MASTER_NUMBERS

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "kind": self.kind.value,
            "value": self.value,
            "is_master": self.is_master,
            "components": [asdict(c) for c in self.components],
            "chain": list(self.chain),
            "explanation": self.explain(),
        }


def _combine(
    kind: NumberKind, components: list[Component], *, keep_masters: bool = True
) -> NumberResult:
    chain = reduction_chain(sum(c.reduced for c in components), keep_masters=keep_masters)
    return NumberResult(kind, chain[-1], tuple(components), chain)


def _check_date(birth_date: date) -> date:
    if isinstance(birth_date, datetime):
        birth_date = birth_date.date()
    if birth_date > date.today():
        raise NumerologyInputError("That birth date is in the future. Please check it.")
    return birth_date


def check_year(year: int) -> int:
    """The calendar year of a personal year, if it is between 1800 and 2200."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NumerologyInputError(f"The year must be between {MIN_YEAR} and {MAX_YEAR}.")
    return year


def _date_components(birth_date: date, year: int) -> list[Component]:
    return [
        Component(f"month {birth_date.month}", birth_date.month, reduce(birth_date.month)),
        Component(f"day {birth_date.day}", birth_date.day, reduce(birth_date.day)),
        Component(f"year {year}", year, reduce(year)),
    ]


def life_path_number(birth_date: date) -> NumberResult:
    """reduce(reduce(month) + reduce(day) + reduce(year))."""
    birth_date = _check_date(birth_date)
    return _combine(NumberKind.LIFE_PATH, _date_components(birth_date, birth_date.year))


def birthday_number(birth_date: date) -> NumberResult:
    """reduce(day)."""
    day = _check_date(birth_date).day
    return NumberResult(NumberKind.BIRTHDAY, reduce(day), (), reduction_chain(day))


def _name_number(kind: NumberKind, full_name: str, which: str) -> NumberResult:
    components = []
    for part in name_parts(full_name):
        letters = letters_of(part, which)
        if letters:
            total = letter_sum(letters)
            noun = {"all": "letters"}.get(which, which)
            components.append(Component(part.capitalize(), total, reduce(total), noun))
    if not components:
        what = "vowels" if which == "vowels" else "consonants"
        raise NumerologyInputError(f"That name has no {what}, so this number cannot be found.")
    return _combine(kind, components)


def expression_number(full_name: str) -> NumberResult:
    """Each name part reduced on its own, then their sum reduced."""
    return _name_number(NumberKind.EXPRESSION, full_name, "all")


def soul_urge_number(full_name: str) -> NumberResult:
    """The expression rule over the vowels only (Y by its neighbours)."""
    return _name_number(NumberKind.SOUL_URGE, full_name, "vowels")


def personality_number(full_name: str) -> NumberResult:
    """The expression rule over the consonants only."""
    return _name_number(NumberKind.PERSONALITY, full_name, "consonants")


def maturity_number(full_name: str, birth_date: date) -> NumberResult:
    """reduce(life path + expression)."""
    life_path = life_path_number(birth_date).value
    expression = expression_number(full_name).value
    return _combine(
        NumberKind.MATURITY,
        [
            Component("your life path", life_path, life_path, stated=True),
            Component("your expression", expression, expression, stated=True),
        ],
    )


def personal_year_number(birth_date: date, year: int) -> NumberResult:
    """Birth month, birth day and the calendar year, reduced to a single digit 1-9."""
    birth_date = _check_date(birth_date)
    components = _date_components(birth_date, check_year(year))
    # reduce() then 11 -> 2, 22 -> 4, 33 -> 6 gives the same digit as never stopping at masters.
    return _combine(NumberKind.PERSONAL_YEAR, components, keep_masters=False)


def _check_day(on: date) -> date:
    on = on.date() if isinstance(on, datetime) else on
    check_year(on.year)
    return on


def personal_month_number(birth_date: date, on: date) -> NumberResult:
    """reduce(personal year of `on`'s year + reduce(`on`'s month)); 11, 22 and 33 are kept."""
    on = _check_day(on)
    year = personal_year_number(birth_date, on.year).value
    return _combine(
        NumberKind.PERSONAL_MONTH,
        [
            Component("your personal year", year, year, stated=True),
            Component(f"month {on.month}", on.month, reduce(on.month)),
        ],
    )


def personal_day_number(birth_date: date, on: date) -> NumberResult:
    """reduce(personal month of `on` + reduce(`on`'s day)); 11, 22 and 33 are kept."""
    on = _check_day(on)
    month = personal_month_number(birth_date, on).value
    return _combine(
        NumberKind.PERSONAL_DAY,
        [
            Component("your personal month", month, month, stated=True),
            Component(f"day {on.day}", on.day, reduce(on.day)),
        ],
    )


@dataclass(frozen=True)
class _Inputs:
    full_name: str | None
    birth_date: date | None
    year: int | None
    on: date | None

    def name(self) -> str:
        if self.full_name is None:
            raise NumerologyInputError("This number needs a full name.")
        return self.full_name

    def born(self) -> date:
        if self.birth_date is None:
            raise NumerologyInputError("This number needs a birth date.")
        return self.birth_date

    def day(self) -> date:
        return date.today() if self.on is None else self.on

    def calendar_year(self) -> int:
        return self.day().year if self.year is None else self.year


# How each kind is computed, from the inputs it needs.
_COMPUTE: dict[NumberKind, Callable[[_Inputs], NumberResult]] = {
    NumberKind.LIFE_PATH: lambda i: life_path_number(i.born()),
    NumberKind.EXPRESSION: lambda i: expression_number(i.name()),
    NumberKind.SOUL_URGE: lambda i: soul_urge_number(i.name()),
    NumberKind.PERSONALITY: lambda i: personality_number(i.name()),
    NumberKind.BIRTHDAY: lambda i: birthday_number(i.born()),
    NumberKind.MATURITY: lambda i: maturity_number(i.name(), i.born()),
    NumberKind.PERSONAL_YEAR: lambda i: personal_year_number(i.born(), i.calendar_year()),
    NumberKind.PERSONAL_MONTH: lambda i: personal_month_number(i.born(), i.day()),
    NumberKind.PERSONAL_DAY: lambda i: personal_day_number(i.born(), i.day()),
}


def compute(
    kind: NumberKind,
    *,
    full_name: str | None = None,
    birth_date: date | None = None,
    year: int | None = None,
    on: date | None = None,
) -> NumberResult:
    """The number of a kind, from a name, a birth date or both; a personal year for `year`
    (default `on`'s year), a personal month or day for the date `on` (default today).

    Raises:
        NumerologyInputError: an input the kind needs is missing or one it uses is invalid.
    """
    return _COMPUTE[kind](_Inputs(full_name, birth_date, year, on))
