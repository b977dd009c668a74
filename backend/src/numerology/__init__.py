"""Pythagorean numerology: the core numbers, how they were reached, and what they mean."""

from src.numerology.core import (
    MASTER_NUMBERS,
    VALID_NUMBERS,
    Component,
    NumberResult,
    birthday_number,
    compute,
    expression_number,
    life_path_number,
    maturity_number,
    personal_year_number,
    personality_number,
    reduce,
    reduction_chain,
    soul_urge_number,
)
from src.numerology.errors import NumerologyInputError
from src.numerology.interpretations import Meaning, interpret, meaning, personal_year_theme
from src.numerology.kinds import NumberKind
from src.numerology.profile import Profile, full_profile

__all__ = [
    "MASTER_NUMBERS",
    "VALID_NUMBERS",
    "Component",
    "Meaning",
    "NumberKind",
    "NumberResult",
    "NumerologyInputError",
    "Profile",
    "birthday_number",
    "compute",
    "expression_number",
    "full_profile",
    "interpret",
    "life_path_number",
    "maturity_number",
    "meaning",
    "personal_year_number",
    "personal_year_theme",
    "personality_number",
    "reduce",
    "reduction_chain",
    "soul_urge_number",
]
