"""The database models; importing this module registers every table on `Base.metadata`."""

from src.models.conversation import Conversation, ConversationStatus, EndReason
from src.models.idempotency import IdempotencyKey
from src.models.message import ConversationMessage, MessageRole
from src.models.user import User
from src.models.webhook import WebhookEventType, WebhookOutbox

__all__ = [
    "Conversation",
    "ConversationMessage",
    "ConversationStatus",
    "EndReason",
    "IdempotencyKey",
    "MessageRole",
    "User",
    "WebhookEventType",
    "WebhookOutbox",
]
