"""A fake OpenAI-compatible chat completions server that streams a scripted tool call.

First request: the model calls `life_path_number` for the user's birth date. Once the tool's
result comes back in the messages, it answers with text built from that result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.fakes.loopback import serve_on_loopback

API_KEY = "fake-llm-key"


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
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)

    async def _complete(self, request: Request) -> Any:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        tools = [m for m in body["messages"] if m.get("role") == "tool"]
        if not tools:
            return StreamingResponse(self._tool_call(), media_type="text/event-stream")
        result = json.loads(tools[-1]["content"])
        self.tool_results.append(result)
        return StreamingResponse(self._answer(result), media_type="text/event-stream")

    async def _tool_call(self) -> AsyncIterator[str]:
        arguments = json.dumps({"birth_date": self.birth_date})
        yield _chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "life_path_number", "arguments": ""},
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
            yield self
