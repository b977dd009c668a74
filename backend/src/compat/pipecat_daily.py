"""pipecat's `DailyTransportClient` of a `DailyTransport`, which holds it privately.

Joining ahead of the pipeline (to report a failed join before the call is answered) needs the
client the pipeline will use: `DailyTransport` has no public accessor for it.
"""

from __future__ import annotations

from typing import Any

from pipecat.transports.daily.transport import DailyTransport

from src.compat import Private

PRIVATE_NAMES = (Private(DailyTransport, "_client"),)


def daily_client(transport: DailyTransport) -> Any:
    """The transport's `DailyTransportClient`, shared with its pipeline."""
    return transport._client
