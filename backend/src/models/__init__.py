"""The database models; importing this module registers every table on `Base.metadata`."""

from src.models.conversation import Conversation
from src.models.user import User

__all__ = ["Conversation", "User"]
