"""How a bot's start fails, as the runner raises it and a worker's `Failed` reply names it."""

from __future__ import annotations


class BotStartError(Exception):
    """The bot failed, or did not get ready in time, while starting."""

    # Sent by a worker in its `Failed` reply (wire.py), so the API raises the same error.
    code = "bot_error"


class BotJoinFailed(BotStartError):
    """The bot's transport could not join the room (refused, or no answer in time)."""

    code = "room_join_failed"


def start_error(code: object, detail: str) -> BotStartError:
    """The start error a worker's `Failed` reply names."""
    return BotJoinFailed(detail) if code == BotJoinFailed.code else BotStartError(detail)


class ConversationNoLongerLive(Exception):
    """The conversation ended (elsewhere) before its bot got going: the bot stops quietly."""
