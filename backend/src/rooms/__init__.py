"""Rooms: where the user and the bot meet, one package per provider (see `base`)."""
