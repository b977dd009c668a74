"""Drills on the bot's life with local rooms and the real voice bot: it crashes, its user
vanishes or never joins, its call outlives the maximum duration, and a storm of starts."""

from __future__ import annotations

from bench.drills.base import (
    JOIN_TIMEOUT,
    MAX_DURATION,
    PING_TIMEOUT,
    REJOIN_GRACE,
    Drill,
    Line,
    answer,
    call_ends_as,
    ends_as,
    storm,
)
from tests.voice.peer import Peer


async def crash_on_start(drill: Drill) -> Line:
    line = Line("bot crashes on start", "the bot raises before it is ready")
    auth, _ = await drill.user()
    drill.fault("crash-on-start")
    response = await drill.start(auth)
    listed = (await drill.client.get("/api/v1/conversations", headers=auth)).json()["items"]
    line.answered = f"{answer(response)}; {[c['end_reason'] for c in listed]}"
    line.expect(response.status_code == 500, "expected 500")
    line.expect([c["end_reason"] for c in listed] == ["bot_error"], "expected one bot_error")
    return await drill.settled(line)


async def crash_mid_call(drill: Drill) -> Line:
    line = Line("bot crashes mid-call", "the real bot raises 5 s after it started")
    drill.fault("crash-after 5")
    return await call_ends_as(drill, line, "bot_error", within=REJOIN_GRACE + 15)


async def peer_vanishes(drill: Drill) -> Line:
    line = Line(
        "peer vanishes", f"the page stops pinging ({PING_TIMEOUT} s), no rejoin ({REJOIN_GRACE} s)"
    )
    within = PING_TIMEOUT + REJOIN_GRACE + 10
    return await call_ends_as(drill, line, "user_left", within, then=Peer.stop_pings)


async def never_joins(drill: Drill) -> Line:
    line = Line("user never joins", f"no offer (join timeout {JOIN_TIMEOUT} s)")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    await ends_as(drill, line, body, "user_never_joined", within=JOIN_TIMEOUT + 10)
    return await drill.settled(line, [body["conversation_id"]])


async def max_duration(drill: Drill) -> Line:
    line = Line("max duration", f"a call left running (max {MAX_DURATION} s)")
    return await call_ends_as(drill, line, "max_duration", within=MAX_DURATION + 10)


async def load(drill: Drill) -> Line:
    line = Line("load", "200 starts, 50 users (limits: 3 each, 20 bots)")
    starts = await storm(drill)
    line.answered = starts.summary()
    line.expect(starts.only({200, 429, 503}), "answers other than 200, 429 and 503")
    started = len(starts.started)
    line.expect(0 < started <= 20, f"{started} started, the limit is 20 bots")
    line.expect(starts.rows == started, f"{starts.rows} rows for {started} 200s")
    return await drill.settled(line, await starts.end(drill))
