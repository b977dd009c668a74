"""Reading a Server-Sent Events stream in tests, as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """Each event as (name, decoded data); each comment as ("comment", text)."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif line == "" and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []
