"""The app as `make drills` serves it: the real app, its bot wrapped to crash when told.

`uvicorn --factory bench.drills.app:create_app`. The drill writes one fault per line to the file
named by DRILL_CONTROL; each bot that starts takes the first line:

- ``crash-on-start``: the bot raises before it is ready.
- ``crash-after <seconds>``: the real bot runs, then raises that many seconds after it started.
- ``join <outcome>`` (Daily rooms): the bot's join of the room does that (`error: <message>`,
  `hang`; see tests/fakes/daily_client.py).

With ROOM_PROVIDER=daily the bot is a stand-in that gets ready and waits (Daily's media
servers lie outside this machine's reach): pipecat's Daily transport joins the room for real,
through daily-python's `CallClient` replaced by the fake; the REST calls go to the fake Daily
API for real.

DRILL_CONNECTION_TIMEOUT_SECONDS, when set, shortens pipecat's timeout for a WebRTC connection
that never connects (60 s by default in `SmallWebRTCConnection`), so that the stuck-connection
drill keeps the default order (pipecat's timer not after the join timeout) in seconds instead of
minutes: without the app's own connect watch (issue 21), which sets pipecat's timer past its
own, that timer's close would fire and hang, as it did.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from src import main
from src.contract.bot import BotContext, RunBot
from src.core.enums import EndReason
from src.core.settings import get_settings
from tests.fakes import daily_client


def _take_fault(control: Path) -> str:
    if not control.exists():
        return ""
    lines = control.read_text().splitlines()
    control.write_text("".join(f"{line}\n" for line in lines[1:]))
    return lines[0].strip() if lines else ""


class FaultyBot:
    """Runs the bot, failing as the next line of the control file says."""

    def __init__(self, bot: RunBot, control: Path) -> None:
        self._bot = bot
        self._control = control

    async def __call__(self, ctx: BotContext) -> EndReason:
        fault = await asyncio.to_thread(_take_fault, self._control)
        if fault == "crash-on-start":
            raise RuntimeError("drill: the bot crashed while starting")
        if fault.startswith("join "):
            daily_client.FakeCallClient.script(fault.removeprefix("join "))
        if not fault.startswith("crash-after"):
            return await self._bot(ctx)
        run = asyncio.ensure_future(self._bot(ctx))
        try:
            done, _ = await asyncio.wait({run}, timeout=float(fault.split()[1]))
        except asyncio.CancelledError:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            raise
        if run in done:
            return run.result()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        raise RuntimeError("drill: the bot crashed mid-call")


async def stand_in(ctx: BotContext) -> EndReason:
    """A bot for Daily rooms: ready at once, then waits until it is stopped."""
    await ctx.events.ready()
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _shorten_connection_timeout(seconds: float) -> None:
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    init = SmallWebRTCConnection.__init__

    def shortened(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.connection_timeout_secs = seconds

    SmallWebRTCConnection.__init__ = shortened  # type: ignore[method-assign]


def create_app() -> FastAPI:
    """The app, its bot wrapped in `FaultyBot`."""
    settings = get_settings()
    if os.environ.get("DRILL_CONNECTION_TIMEOUT_SECONDS"):
        _shorten_connection_timeout(float(os.environ["DRILL_CONNECTION_TIMEOUT_SECONDS"]))
    control = Path(os.environ["DRILL_CONTROL"])
    if settings.room_provider == "daily":
        daily_client.install()
        return main.create_app(settings, run_bot=FaultyBot(stand_in, control))
    return main.create_app(settings, wrap_bot=lambda bot: FaultyBot(bot, control))
