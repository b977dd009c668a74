"""Conversations: starting them, their life and end, and reading them back."""
