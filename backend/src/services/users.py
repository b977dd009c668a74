"""Accounts: registration, password sign-in, password changes and token revocation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.errors import EmailAlreadyRegistered, InvalidCredentials, PasswordIncorrect
from src.core.security import hash_password, verify_password
from src.models.user import User
from src.schemas.user import RegisterRequest, UserUpdate


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this email (any case), if any."""
    result = await session.execute(select(User).where(User.email == email.lower()))
    return result.scalar_one_or_none()


async def register(session: AsyncSession, data: RegisterRequest) -> User:
    """Create an account; an email already taken, in any case, is refused."""
    if await get_by_email(session, data.email) is not None:
        raise EmailAlreadyRegistered()
    user = User(
        email=data.email.lower(),
        hashed_password=await hash_password(data.password),
        full_name=data.full_name,
        birth_date=data.birth_date,
    )
    session.add(user)
    try:
        # Two registrations racing for one email: the unique index decides.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise EmailAlreadyRegistered() from None
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The active user with this email and password; the same error for every wrong case."""
    user = await get_by_email(session, email)
    valid = await verify_password(password, user.hashed_password if user else None)
    if user is None or not valid or not user.is_active:
        raise InvalidCredentials()
    return user


async def confirm_password(user: User, password: str) -> None:
    """Check a signed-in user's password again, before a change that needs it.

    Raises:
        PasswordIncorrect: it is not the user's password.
    """
    if not await verify_password(password, user.hashed_password):
        raise PasswordIncorrect()


def revoke_tokens(user: User) -> None:
    """Revoke every access token issued to the user so far (flushed with the session)."""
    user.token_version += 1


async def change_password(user: User, new_password: str) -> None:
    """Set a new password and revoke every token issued under the old one."""
    user.hashed_password = await hash_password(new_password)
    revoke_tokens(user)


def update_settings(user: User, data: UserUpdate) -> None:
    """Apply the settings given (flushed with the session); those left out stay."""
    if data.remember_conversations is not None:
        user.remember_conversations = data.remember_conversations
