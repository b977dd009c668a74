"""A fake Deepgram that refuses every key, as Deepgram refuses a revoked one.

Deepgram's live transcription is a WebSocket at `/v1/listen`, opened with the key in the
`Authorization` header; a key it does not accept gets the upgrade answered with HTTP 401, which
Deepgram's SDK raises as `ApiError(status_code=401)` and pipecat's Deepgram service takes as an
error it cannot recover from (it marks itself unusable and stops reconnecting). Driven through
our real client code: `STT_PROVIDER=deepgram` with `DEEPGRAM_URL` at this server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

# The key the fake is given (and refuses): a test checks it never reaches a log.
REFUSED_KEY = "revoked-deepgram-key"


class RefusingDeepgram:
    """Answers every WebSocket upgrade 401; `handshakes`: the paths asked for."""

    def __init__(self) -> None:
        self.url = ""
        self.handshakes: list[str] = []

    def _refuse(self, connection: ServerConnection, request: Request) -> Response:
        self.handshakes.append(request.path)
        return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid credentials.\n")

    @staticmethod
    async def _never(connection: ServerConnection) -> None:
        raise AssertionError("a refused handshake opens no connection")

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[RefusingDeepgram]:
        """Listen on a free loopback port (`url`: ws://127.0.0.1:port) until the block ends."""
        async with serve(self._never, "127.0.0.1", 0, process_request=self._refuse) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            yield self


@pytest.fixture
async def refusing_deepgram() -> AsyncIterator[RefusingDeepgram]:
    """A RefusingDeepgram on loopback for the test."""
    async with RefusingDeepgram().serve() as fake:
        yield fake


def refused_settings(fake: RefusingDeepgram) -> dict[str, str]:
    """The settings of a bot whose recogniser is Deepgram at `fake`, with a key it refuses."""
    return {"stt_provider": "deepgram", "deepgram_api_key": REFUSED_KEY, "deepgram_url": fake.url}
