"""Letters of a name: transliteration to A-Z, Pythagorean values, vowels and consonants."""

from __future__ import annotations

import string
import unicodedata

from src.numerology.errors import NumerologyInputError

# A J S = 1, B K T = 2, ... I R = 9.
LETTER_VALUES = {letter: index % 9 + 1 for index, letter in enumerate(string.ascii_uppercase)}
VOWELS = frozenset("AEIOU")
MAX_NAME_LENGTH = 200

# Letters NFKD does not decompose into a base letter.
_SPECIAL = {
    "Æ": "AE",
    "Œ": "OE",
    "ß": "SS",
    "ẞ": "SS",
    "Ø": "O",
    "Đ": "D",
    "Ð": "D",
    "Ł": "L",
    "Þ": "TH",
    "\u0131": "I",  # dotless i
    "Ħ": "H",
    "Ŧ": "T",
    "Ŋ": "N",
    "ĸ": "K",
}


def _transliterate(char: str) -> str:
    """A-Z for one character: "" for anything that is not a letter or has no Latin form."""
    if not unicodedata.category(char).startswith("L"):
        return ""  # spaces, digits, punctuation, symbols, stray combining marks, Roman numerals
    upper = char.upper()
    special = _SPECIAL.get(upper) or _SPECIAL.get(char)
    if special:
        return special
    base = unicodedata.normalize("NFKD", upper)
    return "".join(c for c in base if c in LETTER_VALUES)


def name_parts(full_name: str) -> list[str]:
    """The name's words as A-Z letters only; accents fold to their base letter.

    Raises:
        NumerologyInputError: the name is empty, too long, or has no Latin letters.
    """
    if len(full_name) > MAX_NAME_LENGTH:
        raise NumerologyInputError(
            f"That name is too long. Please keep it to {MAX_NAME_LENGTH} characters or fewer."
        )
    if not full_name.strip():
        raise NumerologyInputError("The name is empty. Please give a full name.")
    parts = ["".join(_transliterate(c) for c in word) for word in full_name.split()]
    parts = [part for part in parts if part]
    if parts:
        return parts
    if any(unicodedata.category(c).startswith("L") for c in full_name):
        raise NumerologyInputError(
            "That name has no Latin letters to count. Please spell it with the letters A to Z."
        )
    raise NumerologyInputError(
        "That name has no letters to count. Please give a name written with letters."
    )


def is_vowel(part: str, index: int) -> bool:
    """Whether the letter at `index` is a vowel; Y is one when no neighbour is A, E, I, O or U."""
    letter = part[index]
    if letter in VOWELS:
        return True
    if letter != "Y":
        return False
    neighbours = part[max(index - 1, 0) : index] + part[index + 1 : index + 2]
    return not any(n in VOWELS for n in neighbours)


def letters_of(part: str, which: str) -> str:
    """The letters of a part: `all`, `vowels` or `consonants`."""
    if which == "all":
        return part
    want_vowels = which == "vowels"
    return "".join(c for i, c in enumerate(part) if is_vowel(part, i) == want_vowels)


def letter_sum(letters: str) -> int:
    """The sum of the letters' values."""
    return sum(LETTER_VALUES[c] for c in letters)
