"""The closed sets a conversation's life is told in, shared by the ORM, the API and the bots.

They live below every layer so that a bot can say why it ended, and who spoke, without
importing an ORM module (`models` stores them; `contract` and the bots speak them).
"""

from __future__ import annotations

import enum


class ConversationStatus(enum.StrEnum):
    """Where a conversation is in its life."""

    STARTING = "starting"
    WAITING_FOR_USER = "waiting_for_user"
    ACTIVE = "active"
    ENDED = "ended"
    FAILED = "failed"


LIVE_STATUSES = (
    ConversationStatus.STARTING,
    ConversationStatus.WAITING_FOR_USER,
    ConversationStatus.ACTIVE,
)


class EndReason(enum.StrEnum):
    """Why a conversation ended."""

    USER_ENDED = "user_ended"
    USER_LEFT = "user_left"
    USER_NEVER_JOINED = "user_never_joined"
    MAX_DURATION = "max_duration"
    BOT_ERROR = "bot_error"
    ROOM_ERROR = "room_error"
    SERVER_SHUTDOWN = "server_shutdown"
    SERVER_RESTART = "server_restart"
    # Its worker process died (no heartbeat): the call could not go on.
    WORKER_LOST = "worker_lost"
    # No worker took the call in time (all full, or none running).
    NO_BOT_CAPACITY = "no_bot_capacity"


# Ends that are failures of ours rather than the normal close of a conversation.
FAILURE_REASONS = frozenset(
    {EndReason.BOT_ERROR, EndReason.ROOM_ERROR, EndReason.WORKER_LOST, EndReason.NO_BOT_CAPACITY}
)


class MessageRole(enum.StrEnum):
    """Who spoke."""

    ASSISTANT = "assistant"
    USER = "user"


class MessageSource(enum.StrEnum):
    """How a line came: spoken and heard, or typed (and, for the bot, answered in text only)."""

    VOICE = "voice"
    TEXT = "text"
