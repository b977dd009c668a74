"""The contract between conversations and bots (see `bot`)."""
