"""Which answers of a webhook receiver are a delivery, worth a retry, or final."""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass

import httpx

from src.core.clock import as_utc, utcnow


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered, or why not and whether it is worth retrying."""

    delivered: bool
    cause: str = ""
    retry: bool = False
    retry_after: float | None = None


def classify(response: httpx.Response) -> Outcome:
    """2xx delivered; 408, 429 and 5xx worth retrying (after `Retry-After`); the rest final."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True)
    cause = f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        return Outcome(False, cause, retry=True, retry_after=retry_after(response))
    return Outcome(False, cause)


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), if the answer has one.

    Not bounded above (`inf` stays `inf`): the sender clamps it to its retry schedule's maximum.
    """
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, (as_utc(when) - utcnow()).total_seconds())
