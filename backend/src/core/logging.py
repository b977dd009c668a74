"""Log set-up: one line per event, with the time, level and logger."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_loguru(level: str) -> None:
    # pipecat logs through loguru, at DEBUG by default.
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level.upper())


def configure_logging(level: str, pipecat_level: str = "WARNING") -> None:
    """Send our logs to stderr once, at the given level (pipecat's at `pipecat_level`)."""
    root = logging.getLogger()
    if not any(getattr(h, "_numerologist", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._numerologist = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.getLogger("src").setLevel(level.upper())
    # aiortc's ICE library logs every candidate pair at INFO.
    logging.getLogger("aioice").setLevel(logging.WARNING)
    _configure_loguru(pipecat_level)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
