"""Bots: running them (the runner) and dispatching them (in this process, or to workers)."""
