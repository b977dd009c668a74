"""Log set-up: one line per event, with the time, level and logger."""

from __future__ import annotations

import logging

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send our logs to stderr once, at the given level."""
    root = logging.getLogger()
    if not any(getattr(h, "_numerologist", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._numerologist = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.getLogger("src").setLevel(level.upper())
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
