"""Errors of the conversation service."""

from __future__ import annotations

from src.core.errors import Conflict, DomainError, NotFound


class ConversationNotFound(NotFound):
    """No such conversation for this user."""

    code = "conversation_not_found"
    default_detail = "No conversation with this id belongs to you."


class ConversationAlreadyEnded(Conflict):
    """The conversation is already over."""

    code = "conversation_already_ended"
    default_detail = "This conversation has already ended."


class TooManyConversations(DomainError):
    """The user already has the most live conversations allowed."""

    status_code = 429
    code = "too_many_conversations"
    default_detail = (
        "You already have too many conversations open: end one before starting another."
    )
    retry_after = 30


class ConversationStartFailed(DomainError):
    """A room or a bot could not be started; nothing was left running."""

    status_code = 500
    code = "conversation_start_failed"
    default_detail = "The voice bot could not be started, so the conversation was closed."


class RoomJoinFailed(DomainError):
    """The bot could not join the room; the conversation was closed and its room deleted."""

    status_code = 502
    code = "room_join_failed"
    default_detail = (
        "The voice room could not be joined, so the conversation was closed. Please try again."
    )


class ConversationStillLive(Conflict):
    """A live conversation cannot be deleted."""

    code = "conversation_live"
    default_detail = "This conversation is still going: end it before deleting it."


class RoomNotYetDeleted(DomainError):
    """The conversation's room could not be deleted, so its record is kept for the sweeper."""

    status_code = 503
    code = "room_not_deleted"
    default_detail = (
        "The conversation's voice room could not be removed just now, so the conversation was "
        "kept. Try again in a minute."
    )

    retry_after = 60
