"""Waiting on a page from the test, as the pages' Content-Security-Policy allows.

Playwright's `wait_for_function` compiles its predicate inside the page with `new Function`,
which the pages' CSP (script-src 'self', no 'unsafe-eval') refuses; `evaluate` goes through
the DevTools protocol, which the CSP does not govern. So the test polls.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def wait_until(page: Any, expression: str, *, within_ms: float) -> None:
    """Poll until the page's JavaScript `expression` is truthy, for at most `within_ms`."""
    deadline = time.monotonic() + within_ms / 1000
    while not await page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page never had {expression}")
        await asyncio.sleep(0.1)
