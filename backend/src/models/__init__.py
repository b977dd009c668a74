"""The database models; importing this module registers every table on `Base.metadata`."""

from src.models.conversation import Conversation
from src.models.idempotency import IdempotencyKey
from src.models.message import ConversationMessage
from src.models.user import User
from src.models.webhook import WebhookEventType, WebhookOutbox
from src.models.worker_lease import WorkerLease

__all__ = [
    "Conversation",
    "ConversationMessage",
    "IdempotencyKey",
    "User",
    "WebhookEventType",
    "WebhookOutbox",
    "WorkerLease",
]
