"""Numerology: the signed-in user's profile, or any name and birth date."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from src.api.deps import CurrentUser
from src.core.errors import DomainError
from src.numerology import NumerologyInputError, Profile, full_profile
from src.schemas.common import error_responses
from src.schemas.numerology import CalculateRequest, NumerologyProfile

router = APIRouter(prefix="/numerology", tags=["numerology"])


class InvalidNumerologyInput(DomainError):
    """A name or date the engine cannot work with."""

    status_code = 422
    code = "invalid_numerology_input"
    default_detail = "That name has no letters, so this number cannot be found."


def _profile(full_name: str, birth_date: date, year: int | None) -> NumerologyProfile:
    try:
        profile: Profile = full_profile(full_name, birth_date, year)
    except NumerologyInputError as exc:
        raise InvalidNumerologyInput(str(exc)) from None
    return NumerologyProfile.model_validate(profile.to_dict())


@router.get(
    "/me",
    response_model=NumerologyProfile,
    responses=error_responses(400, 401, errors=(InvalidNumerologyInput,)),
)
async def my_numbers(current_user: CurrentUser) -> NumerologyProfile:
    """Your numbers, from your full name and birth date, with this year's personal year."""
    return _profile(current_user.full_name, current_user.birth_date, None)


@router.post(
    "/calculate",
    response_model=NumerologyProfile,
    responses=error_responses(400, 401, errors=(InvalidNumerologyInput,)),
)
async def calculate(body: CalculateRequest, current_user: CurrentUser) -> NumerologyProfile:
    """The numbers for any full name and birth date."""
    return _profile(body.full_name, body.birth_date, body.year)
