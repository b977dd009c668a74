"""Drills on the database: PostgreSQL cut (through the drill's TCP proxy) before a start,
while Daily makes a room, and during a call."""

from __future__ import annotations

import asyncio

from bench.drills.base import REJOIN_GRACE, Drill, Line, answer, call, ended, reason
from tests.fakes.daily import Fault


async def lost_while_the_room_is_made(drill: Drill) -> Line:
    """On Daily rooms: the start's room is made, its answer comes after the cut."""
    assert drill.daily is not None
    line = Line("db lost mid-start (daily)", "PostgreSQL cut while Daily makes the room")
    auth, _ = await drill.user()
    drill.daily.fail("POST /rooms", Fault(200, delay=1.0))
    starting = asyncio.create_task(drill.start(auth))
    await asyncio.sleep(0.5)
    drill.proxy.cut()
    response = await starting
    drill.proxy.restore()
    line.answered = answer(response)
    line.expect(response.status_code == 503, "expected 503 database_unavailable")
    line.expect(drill.daily.count("DELETE /rooms") >= 1, "the room made was not deleted")
    return await drill.settled(line)


async def down(drill: Drill) -> Line:
    line = Line("db down, then back", "PostgreSQL cut for a start, then restored")
    auth, _ = await drill.user()
    before = await drill.rows()
    drill.proxy.cut()
    refused = await drill.start(auth)
    health = await drill.client.get("/health")
    drill.proxy.restore()
    again = await drill.start(auth)
    line.answered = f"{answer(refused)}, health {health.status_code}; back: {answer(again)}"
    line.expect(refused.status_code == 503, "expected 503 while the database is down")
    line.expect(again.status_code == 200, "expected 200 once it is back")
    line.expect(await drill.rows() == before + 1, "rows: only the start after restore")
    if again.status_code == 200:
        await drill.end(auth, again.json()["conversation_id"])
    return await drill.settled(line)


async def lost_mid_call(drill: Drill) -> Line:
    line = Line("db lost mid-call", "PostgreSQL cut, the user leaves, restored 3 s later")
    _, body, peer = await call(drill)
    drill.proxy.cut()
    await peer.close()
    await asyncio.sleep(3)
    drill.proxy.restore()
    row = await ended(drill, body["conversation_id"], within=REJOIN_GRACE + 15)
    line.answered = f"recorded {reason(row)}"
    line.ended_as(row, "user_left")
    return await drill.settled(line, [body["conversation_id"]])
