"""Log set-up: one line per event, as text or as one JSON object (LOG_FORMAT=json).

A line about a conversation names it: messages written "conversation %s: ..." (the codebase's
convention) or logged with ``extra={"conversation_id": ...}`` carry its id as a field; a worker
process's lines carry its worker id.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONVERSATION_PREFIX = "conversation %s"

# This process's worker id (set by a worker process), added to every line.
_worker_id: str | None = None


def set_worker_id(worker_id: str | None) -> None:
    """Name this process's worker on every log line from now on."""
    global _worker_id
    _worker_id = worker_id


class ContextFilter(logging.Filter):
    """Adds `conversation_id` and `worker_id` to a record where they are known."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "conversation_id", None) is None:
            record.conversation_id = _conversation_of(record)
        if getattr(record, "worker_id", None) is None:
            record.worker_id = _worker_id
        return True


def _conversation_of(record: logging.LogRecord) -> str | None:
    message, args = record.msg, record.args
    if not (isinstance(message, str) and message.startswith(_CONVERSATION_PREFIX)):
        return None
    if isinstance(args, tuple) and args and isinstance(args[0], uuid.UUID | str):
        return str(args[0])
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the conversation and worker ids
    where known, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("conversation_id", "worker_id"):
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _formatter(log_format: Literal["text", "json"]) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(_FORMAT)


def _loguru_to_logging(message: Any) -> None:
    # pipecat logs through loguru: in JSON mode its records go through our handler too.
    record = message.record
    logging.getLogger(record["name"] or "pipecat").log(
        record["level"].no, record["message"], exc_info=record["exception"] or None
    )


def _configure_loguru(level: str, log_format: Literal["text", "json"]) -> None:
    # pipecat logs through loguru, at DEBUG by default.
    from loguru import logger

    logger.remove()
    if log_format == "json":
        logging.getLogger("pipecat").setLevel(level.upper())
        logger.add(_loguru_to_logging, level=level.upper(), format="{message}")
    else:
        logger.add(sys.stderr, level=level.upper())


def configure_logging(
    level: str, pipecat_level: str = "WARNING", log_format: Literal["text", "json"] = "text"
) -> None:
    """Send our logs to stderr once, at the given level (pipecat's at `pipecat_level`), in the
    given format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_numerologist", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._numerologist = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(_formatter(log_format))
    logging.getLogger("src").setLevel(level.upper())
    # aiortc's ICE library logs every candidate pair at INFO.
    logging.getLogger("aioice").setLevel(logging.WARNING)
    _configure_loguru(pipecat_level, log_format)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
