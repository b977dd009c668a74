"""The signed-in user's account."""

from __future__ import annotations

from fastapi import APIRouter

from src.core.deps import CurrentUser
from src.schemas.common import error_responses
from src.schemas.user import UserRead

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses=error_responses(400, 401))
async def read_me(current_user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(current_user)
