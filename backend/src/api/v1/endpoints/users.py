"""The signed-in user's account."""

from __future__ import annotations

from fastapi import APIRouter, Request

from src.api.deps import ClientAddress, CurrentUser, SessionDep, SettingsDep, ThrottleDep
from src.api.v1.endpoints.auth import token_for
from src.core.errors import PasswordIncorrect, TooManyAttempts
from src.schemas.common import error_responses
from src.schemas.user import (
    PasswordChange,
    PasswordConfirmation,
    TokenResponse,
    UserRead,
    UserUpdate,
)
from src.services import users
from src.services.conversations.delete import delete_account
from src.services.conversations.errors import RoomNotYetDeleted

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses=error_responses(400, 401))
async def read_me(current_user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(current_user)


@router.patch("/me", response_model=UserRead, responses=error_responses(400, 401, 422))
async def update_me(data: UserUpdate, current_user: CurrentUser, session: SessionDep) -> UserRead:
    """Change your account's settings: `remember_conversations` false and the bot no longer
    recalls your earlier conversations (true again, and it does)."""
    users.update_settings(current_user, data)
    await session.flush()
    return UserRead.model_validate(current_user)


@router.post(
    "/me/password",
    response_model=TokenResponse,
    responses=error_responses(400, 401, errors=(PasswordIncorrect, TooManyAttempts)),
)
async def change_password(
    data: PasswordChange,
    current_user: CurrentUser,
    settings: SettingsDep,
    throttle: ThrottleDep,
    address: ClientAddress,
) -> TokenResponse:
    """Change your password (the current one is asked again); every older token is revoked and
    a new one returned. Wrong current passwords count as failed sign-ins."""
    async with throttle.login_attempt(current_user.email, address):
        await users.confirm_password(current_user, data.current_password)
    await users.change_password(current_user, data.new_password)
    return token_for(current_user, settings)


@router.delete(
    "/me",
    status_code=204,
    responses={
        204: {"description": "Deleted: the account, its conversations and their lines are gone"},
        **error_responses(400, 401, errors=(PasswordIncorrect, TooManyAttempts, RoomNotYetDeleted)),
    },
)
async def delete_me(
    data: PasswordConfirmation,
    current_user: CurrentUser,
    session: SessionDep,
    request: Request,
    throttle: ThrottleDep,
    address: ClientAddress,
) -> None:
    """Delete your account and all of its data, with your password; live conversations end
    first. Wrong passwords count as failed sign-ins."""
    async with throttle.login_attempt(current_user.email, address):
        await users.confirm_password(current_user, data.password)
    await delete_account(session, current_user, request.app.state.services)
