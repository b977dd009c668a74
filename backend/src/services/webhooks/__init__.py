"""Webhooks about conversations: the outbox written with each change, and its sender."""
