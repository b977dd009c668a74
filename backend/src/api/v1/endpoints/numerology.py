"""Numerology: the signed-in user's profile, or any name and birth date."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from src.api.deps import CurrentUser
from src.core.errors import DomainError
from src.numerology import NumerologyInputError, Profile, compatibility, full_profile
from src.schemas.common import error_responses
from src.schemas.numerology import (
    CalculateRequest,
    CompatibilityRequest,
    CompatibilityResponse,
    CycleDate,
    NumerologyProfile,
    Person,
)

router = APIRouter(prefix="/numerology", tags=["numerology"])


class InvalidNumerologyInput(DomainError):
    """A name or date the engine cannot work with."""

    status_code = 422
    code = "invalid_numerology_input"
    default_detail = "That name has no letters, so this number cannot be found."


def _profile(
    full_name: str, birth_date: date, year: int | None, on: date | None
) -> NumerologyProfile:
    try:
        profile: Profile = full_profile(full_name, birth_date, year, on)
    except NumerologyInputError as exc:
        raise InvalidNumerologyInput(str(exc)) from None
    return NumerologyProfile.model_validate(profile.to_dict())


@router.get(
    "/me",
    response_model=NumerologyProfile,
    responses=error_responses(400, 401, errors=(InvalidNumerologyInput,)),
)
async def my_numbers(
    current_user: CurrentUser, on: Annotated[CycleDate, Query()] = None
) -> NumerologyProfile:
    """Your numbers, from your full name and birth date: the personal year, month and day of
    `on` (today when left out)."""
    return _profile(current_user.full_name, current_user.birth_date, None, on)


@router.post(
    "/calculate",
    response_model=NumerologyProfile,
    responses=error_responses(400, 401, errors=(InvalidNumerologyInput,)),
)
async def calculate(body: CalculateRequest, current_user: CurrentUser) -> NumerologyProfile:
    """The numbers for any full name and birth date."""
    return _profile(body.full_name, body.birth_date, body.year, body.on)


@router.post(
    "/compatibility",
    response_model=CompatibilityResponse,
    responses=error_responses(400, 401, errors=(InvalidNumerologyInput,)),
)
async def compatibility_of(
    body: CompatibilityRequest, current_user: CurrentUser
) -> CompatibilityResponse:
    """How two people go together: their life paths, and their expression numbers when both
    names are given. The first person is you unless `person` is given."""
    person = body.person or Person(
        birth_date=current_user.birth_date, full_name=current_user.full_name
    )
    try:
        reading = compatibility(
            person.birth_date, body.partner.birth_date, person.full_name, body.partner.full_name
        )
    except NumerologyInputError as exc:
        raise InvalidNumerologyInput(str(exc)) from None
    return CompatibilityResponse.model_validate(reading.to_dict())
