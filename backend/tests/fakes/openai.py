"""A fake OpenAI-compatible chat completions server that streams a scripted tool call.

First request: the model calls `life_path_number` for the user's birth date. Once the tool's
result comes back in the messages, it answers with text built from that result.

A test makes the next requests fail (`fail_next`), each in one of the ways OpenAI's API does
(`FAILURES`): an error status with OpenAI's error body, no answer at all, a stream cut midway,
a tool call whose arguments are not JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.fakes.loopback import serve_on_loopback

API_KEY = "fake-llm-key"

# OpenAI's documented error statuses, with the error types its bodies carry.
_STATUSES = {
    "401": (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    "500": (500, "server_error", None, "The server had an error while processing your request."),
    "503": (503, "server_error", None, "The engine is currently overloaded."),
}
# "timeout": the request is held unanswered (until the client gives up or HANG_SECONDS pass);
# "cut": a few words of an answer, then the connection is dropped; "bad_tool_args": the model
# calls `life_path_number` with arguments that are not JSON.
FAILURES = (*_STATUSES, "timeout", "cut", "bad_tool_args")
HANG_SECONDS = 30.0


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


class FakeOpenAI:
    """The fake's state: the requests it received and the tool results it saw."""

    def __init__(self, birth_date: str) -> None:
        self.birth_date = birth_date
        self.requests: list[dict[str, Any]] = []
        self.tool_results: list[dict[str, Any]] = []
        self.url = ""
        self.failures: list[str] = []
        # The tool the model calls, and its arguments (the birth date's life path by default).
        self.tool = "life_path_number"
        self.tool_arguments: dict[str, Any] | None = None
        # With "429": the Retry-After header sent (seconds), or none.
        self.retry_after: float | None = None
        self._released = asyncio.Event()
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)

    def fail_next(self, failure: str, times: int = 1) -> None:
        """Make the next `times` requests fail as `failure` (one of FAILURES)."""
        assert failure in FAILURES, failure
        self.failures += [failure] * times

    async def _complete(self, request: Request) -> Any:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error("401")
        body = await request.json()
        self.requests.append(body)
        if self.failures:
            return await self._fail(self.failures.pop(0))
        tools = [m for m in body["messages"] if m.get("role") == "tool"]
        if not tools:
            return StreamingResponse(self._tool_call(), media_type="text/event-stream")
        result = json.loads(tools[-1]["content"])
        self.tool_results.append(result)
        return StreamingResponse(self._answer(result), media_type="text/event-stream")

    async def _fail(self, failure: str) -> Any:
        if failure in _STATUSES:
            headers = {}
            if failure == "429" and self.retry_after is not None:
                headers["retry-after"] = str(self.retry_after)
            return _error(failure, headers)
        if failure == "timeout":
            # Released when the fake stops, so that its server never waits on a held request.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), HANG_SECONDS)
            return _error("503")
        if failure == "cut":
            return StreamingResponse(self._cut(), media_type="text/event-stream")
        return StreamingResponse(
            self._tool_call('{"birth_date": "19'), media_type="text/event-stream"
        )

    async def _cut(self) -> AsyncIterator[str]:
        yield _chunk({"role": "assistant", "content": ""})
        for word in ("Your", "life", "path"):
            yield _chunk({"content": word + " "})
        # Raised inside the body: uvicorn drops the connection without ending the chunked body.
        raise ConnectionResetError("the fake's stream is cut")

    async def _tool_call(self, arguments: str | None = None) -> AsyncIterator[str]:
        if arguments is None:
            arguments = json.dumps(self.tool_arguments or {"birth_date": self.birth_date})
        yield _chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": self.tool, "arguments": ""},
                    }
                ],
            }
        )
        for part in (arguments[:10], arguments[10:]):
            yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        yield _chunk({}, "tool_calls")
        yield "data: [DONE]\n\n"

    async def _answer(self, result: dict[str, Any]) -> AsyncIterator[str]:
        text = f"Your life path number is {result.get('number')}. A fine number to live by."
        if "summary" in result:  # a reading that is not one number: its summary
            text = str(result["summary"])
        yield _chunk({"role": "assistant", "content": ""})
        for word in text.split(" "):
            yield _chunk({"content": word + " "})
        yield _chunk({}, "stop")
        yield "data: [DONE]\n\n"

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeOpenAI]:
        """Serve on a free loopback port for the duration of the block."""
        async with serve_on_loopback(self.app) as url:
            self.url = url + "/v1"
            try:
                yield self
            finally:
                self._released.set()


def _error(failure: str, headers: dict[str, str] | None = None) -> JSONResponse:
    status, kind, code, message = _STATUSES[failure]
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)
