"""Drills on the server process itself: SIGTERM during a call (a graceful stop), SIGKILL
during a call and a restart (the reconciliation of what the dead process left)."""

from __future__ import annotations

import signal

from bench.drills.base import Drill, Line, call, reason


async def sigterm_mid_call(drill: Drill) -> Line:
    line = Line("SIGTERM mid-call", "the server is stopped with SIGTERM during a call")
    _, body, peer = await call(drill)
    stops = drill.app.log.read_text().count("src.main: stopped")  # noqa: ASYNC240
    code = await drill.app.exit_code(signal.SIGTERM, within=40)
    row = await drill.row(body["conversation_id"])
    line.answered = f"exit {code}; recorded {reason(row)}"
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -15 is a clean exit.
    line.expect(code in (0, -signal.SIGTERM), "the server did not exit")
    graceful = drill.app.log.read_text().count("src.main: stopped") == stops + 1  # noqa: ASYNC240
    line.expect(graceful, "the app did not log its shutdown")
    line.ended_as(row, "server_shutdown")
    await peer.close()
    await drill.app.start()
    return await drill.settled(line, [body["conversation_id"]])


async def sigkill_and_restart(drill: Drill) -> Line:
    line = Line("SIGKILL and restart", "the server killed during a call, then started again")
    _, body, peer = await call(drill)
    await drill.app.exit_code(signal.SIGKILL, within=10)
    before = await drill.row(body["conversation_id"])
    await peer.close()
    await drill.app.start()
    row = await drill.row(body["conversation_id"])
    line.answered = f"after the kill {reason(before)}; after the restart {reason(row)}"
    line.ended_as(row, "server_restart")
    return await drill.settled(line, [body["conversation_id"]])
