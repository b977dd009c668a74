"""Log set-up: one line per event, as text or as one JSON object (LOG_FORMAT=json).

A line about a conversation names it: messages written "conversation %s: ..." (the codebase's
convention) or logged with ``extra={"conversation_id": ...}`` carry its id as a field; a worker
process's lines carry its worker id.

In JSON every line the process writes is one object: uvicorn's own loggers (which come with
text handlers of their own) and pipecat's loguru records go through the same handler, and
Python's warnings through the `py.warnings` logger. `scripts/serve` also gives uvicorn
`uvicorn_json_logging.json`, so that its lines before the app is loaded are JSON too.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn's loggers: each with a text handler of its own and propagation off, by default.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
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


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The process's one handler, to stderr, with the context filter; `configure_logging`
    finds it again (also when uvicorn's log config made it) instead of adding another."""

    _numerologist = True

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.addFilter(ContextFilter())


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


def _through_our_handler(names: tuple[str, ...]) -> None:
    # Their own handlers would write text: the records go up to the root's handler instead.
    for name in names:
        named = logging.getLogger(name)
        for handler in list(named.handlers):
            named.removeHandler(handler)
        named.propagate = True


def configure_logging(
    level: str, pipecat_level: str = "WARNING", log_format: Literal["text", "json"] = "text"
) -> None:
    """Send our logs to stderr once, at the given level (pipecat's at `pipecat_level`), in the
    given format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_numerologist", False)), None)
    if handler is None:
        handler = LogHandler()
        root.addHandler(handler)
    handler.setFormatter(_formatter(log_format))
    if log_format == "json":
        _through_our_handler(UVICORN_LOGGERS)
        logging.captureWarnings(True)
    logging.getLogger("src").setLevel(level.upper())
    # aiortc's ICE library logs every candidate pair at INFO.
    logging.getLogger("aioice").setLevel(logging.WARNING)
    _configure_loguru(pipecat_level, log_format)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
