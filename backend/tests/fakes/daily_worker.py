"""A worker process for Daily-room tests and drills: the real worker (`src.worker.process`),
with daily-python's `CallClient` replaced by `tests.fakes.daily_client` and a stand-in bot
(Daily's media servers lie outside this machine's reach).

`python -m tests.fakes.daily_worker`; FAKE_DAILY_JOINS lists what its joins do, comma-separated
(`ok`, `hang`, `error: <message>`), then every join succeeds.
"""

from __future__ import annotations

import asyncio
import os
import sys

from src.core.logging import configure_logging
from src.core.settings import get_settings
from src.worker.process import serve
from tests.fakes import daily_client
from tests.fakes.bots import ScriptedBot


def main() -> None:
    """Serve as a worker until SIGTERM or SIGINT."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.pipecat_log_level, settings.log_format)
    joins = [j.strip() for j in os.environ.get("FAKE_DAILY_JOINS", "").split(",") if j.strip()]
    with daily_client.installed() as fake:
        fake.script(*joins)
        asyncio.run(serve(settings, run_bot=ScriptedBot()))
    sys.exit(0)


if __name__ == "__main__":
    main()
