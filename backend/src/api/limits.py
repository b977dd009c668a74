"""Request bodies bounded before anything parses them, per route.

A pure ASGI middleware: it refuses a declared `Content-Length` over the route's limit at once,
and otherwise reads the body as it streams in (chunked bodies have no length), counting bytes,
before the app sees any of it. Past the limit it answers 413 `request_too_large` and the route's
handler never runs; within it, the app reads the buffered body as usual. Buffering is bounded by
the limit itself (16 KiB for the JSON API, 128 KiB for the routes that take an SDP offer).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Registration, sign-in, starts and the rest of the JSON API: a few hundred bytes each.
DEFAULT_BODY_LIMIT = 16 * 1024
# An SDP offer (the model takes up to 100 000 characters, JSON-escaped) and its client data, and
# the same route's PATCH of trickled candidates (64 at most).
OFFER_BODY_LIMIT = 128 * 1024
# The room signalling routes: the room page's and the room URL the client SDK posts to.
_OFFER_ROUTES = re.compile(r"/api/v1/rooms/[^/]+/offer|/rooms/[^/]+")


def body_limit(path: str) -> int:
    """The largest request body, in bytes, the route at `path` takes."""
    return OFFER_BODY_LIMIT if _OFFER_ROUTES.fullmatch(path) else DEFAULT_BODY_LIMIT


class BodyTooLarge(Exception):
    """The body went past its route's limit while it was read."""


class BodyLimitMiddleware:
    """Answers 413 to a body over its route's limit before the app reads a byte of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        try:
            body = await _read_body(receive, limit)
        except BodyTooLarge:
            await _too_large(send, limit)
            return
        await self.app(scope, _replay(body, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we are called
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away: the app sees an empty body and then the disconnect.
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    # The whole body in one message, then the server's own messages (the disconnect that
    # ends a streamed answer).
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _too_large(send: Send, limit: int) -> None:
    payload: dict[str, Any] = {
        "error": "request_too_large",
        "detail": f"The request body is larger than this route takes ({limit // 1024} KiB).",
    }
    content = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                # The rest of the body is not read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
