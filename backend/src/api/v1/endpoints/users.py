"""The signed-in user's account."""

from __future__ import annotations

from fastapi import APIRouter, Request

from src.api.deps import CurrentUser, SessionDep
from src.schemas.common import error_responses
from src.schemas.user import UserRead
from src.services.conversations.delete import delete_account
from src.services.conversations.errors import RoomNotYetDeleted

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses=error_responses(400, 401))
async def read_me(current_user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(current_user)


@router.delete(
    "/me",
    status_code=204,
    responses={
        204: {"description": "Deleted: the account, its conversations and their lines are gone"},
        **error_responses(400, 401, errors=(RoomNotYetDeleted,)),
    },
)
async def delete_me(current_user: CurrentUser, session: SessionDep, request: Request) -> None:
    """Delete your account and all of its data; live conversations end first."""
    await delete_account(session, current_user, request.app.state.services)
