"""Worker processes that run bots in the worker mode (REDIS_URL set): `python -m src.worker`."""
