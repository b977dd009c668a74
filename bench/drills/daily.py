"""Drills on Daily rooms: the fake Daily API on loopback fails as told, the bot a stand-in
(Daily's media servers lie outside this machine's reach; see bench.drills.app)."""

from __future__ import annotations

import time

from bench.drills.base import Drill, Line, Scenario, answer
from tests.fakes.daily import API_KEY, FakeDaily, Fault

# How long the bot may take to join a Daily room in the drills.
DAILY_JOIN = 2


def settings(daily: FakeDaily) -> dict[str, str]:
    """The app's settings for Daily rooms on the fake `daily`."""
    return {
        "ROOM_PROVIDER": "daily",
        "DAILY_API_URL": daily.url,
        "DAILY_API_KEY": API_KEY,
        "DAILY_TIMEOUT_SECONDS": "3",
        "DAILY_MAX_RETRIES": "3",
        "DAILY_RETRY_BASE_SECONDS": "0.2",
        "DAILY_JOIN_TIMEOUT_SECONDS": str(DAILY_JOIN),
    }


ROOM_NOT_CREATED = "The voice room could not be created. Please try again."


async def daily_failure(
    drill: Drill, name: str, injected: str, endpoint: str, *faults: Fault, hint: str = ""
) -> Line:
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.daily.fail(endpoint, *faults)
    logged = drill.app.log.stat().st_size
    response = await drill.start(auth)
    line.answered = answer(response)
    line.expect(response.status_code == 500, "expected 500 conversation_start_failed")
    # The user is told what happened; what to check (the key, the URL) is the operator's.
    line.expect(response.json().get("detail") == ROOM_NOT_CREATED, f"told the user {response.text}")
    if hint:
        with drill.app.log.open() as log:
            log.seek(logged)
            line.expect(hint in log.read(), f"the app's log does not say {hint!r}")
    await _one_failed(drill, line, auth, "room_error")
    return await drill.settled(line)


async def _one_failed(drill: Drill, line: Line, auth: dict[str, str], reason: str) -> None:
    listed = (await drill.client.get("/api/v1/conversations", headers=auth)).json()["items"]
    line.expect(
        [(c["status"], c.get("end_reason")) for c in listed] == [("failed", reason)],
        f"expected one failed/{reason} record, got {listed}",
    )


async def daily_join_fails(drill: Drill, name: str, injected: str, outcome: str) -> Line:
    """The bot's transport cannot join the room: 502, a failed/room_error record, no room."""
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.fault(f"join {outcome}")
    started = time.monotonic()
    response = await drill.start(auth)
    line.answered = f"{answer(response)} after {time.monotonic() - started:.1f} s"
    line.expect(response.status_code == 502, "expected 502 room_join_failed")
    line.expect(response.json().get("error") == "room_join_failed", "expected room_join_failed")
    await _one_failed(drill, line, auth, "room_error")
    line.expect(drill.daily.count("DELETE /rooms") >= 1, "the room was never deleted")
    return await drill.settled(line)


async def daily_recovers(drill: Drill, name: str, injected: str, *faults: Fault) -> Line:
    assert drill.daily is not None
    line = Line(name, injected)
    auth, _ = await drill.user()
    drill.daily.fail("POST /rooms", *faults)
    started = time.monotonic()
    response = await drill.start(auth)
    line.answered = f"{answer(response)} after {time.monotonic() - started:.1f} s"
    line.expect(response.status_code == 200, "expected 200 after the retries")
    if response.status_code == 200:
        line.expect(len(drill.daily.rooms) == 1, f"{len(drill.daily.rooms)} Daily rooms, not 1")
        ended = await drill.end(auth, response.json()["conversation_id"])
        line.expect(ended.status_code == 200, f"end answered {answer(ended)}")
    return await drill.settled(line, [response.json().get("conversation_id", "")])


async def daily_delete_fails(drill: Drill) -> Line:
    assert drill.daily is not None
    line = Line("daily: delete fails at the end", "DELETE /rooms 503 x4, then Daily is back")
    auth, _ = await drill.user()
    body = (await drill.start(auth)).json()
    drill.daily.fail("DELETE /rooms", *[Fault(503)] * 4)
    ended = await drill.end(auth, body["conversation_id"])
    line.answered = f"end {answer(ended)}"
    line.expect(ended.status_code == 200, "the end must not fail because the delete did")
    line.expect(len(drill.daily.rooms) == 1, "the room should still be owed at this point")
    # The sweep retries rooms of conversations ended over 30 s ago.
    return await drill.settled(line, [body["conversation_id"]], within=60)


def scenarios() -> list[Scenario]:
    """On Daily rooms (the fake Daily API injects the faults), with a stand-in bot."""
    failure, recovers = daily_failure, daily_recovers
    return [
        (
            "daily-401",
            lambda d: failure(
                d,
                "daily: 401",
                "POST /rooms 401 (bad key)",
                "POST /rooms",
                Fault(401, "authentication-error"),
                hint="check DAILY_API_KEY",
            ),
        ),
        (
            "daily-429",
            lambda d: recovers(
                d,
                "daily: 429 then success",
                "POST /rooms 429 Retry-After 1, then 200",
                Fault(429, "rate-limit-error", {"Retry-After": "1"}),
            ),
        ),
        (
            "daily-503",
            lambda d: failure(
                d,
                "daily: persistent 503",
                "POST /rooms 503 every try",
                "POST /rooms",
                *[Fault(503)] * 4,
            ),
        ),
        (
            "daily-hang",
            lambda d: recovers(
                d, "daily: 10 s hang", "POST /rooms hangs 10 s (timeout 3 s)", Fault(200, delay=10)
            ),
        ),
        (
            "daily-lost",
            lambda d: recovers(
                d,
                "daily: answer lost",
                "POST /rooms made the room, answer hangs 10 s",
                Fault(lost=True, delay=10),
            ),
        ),
        (
            "daily-token",
            lambda d: failure(
                d,
                "daily: token after room",
                "POST /meeting-tokens 400 after the room",
                "POST /meeting-tokens",
                Fault(400, "invalid-request-error"),
            ),
        ),
        (
            "daily-malformed-room",
            lambda d: failure(
                d,
                "daily: malformed room reply",
                "POST /rooms 200 without url (room made)",
                "POST /rooms",
                Fault(reply={"name": "conv-x", "privacy": "private"}),
                hint="lacks or mangles url",
            ),
        ),
        (
            "daily-malformed-token",
            lambda d: failure(
                d,
                "daily: malformed token reply",
                "POST /meeting-tokens 200 without token",
                "POST /meeting-tokens",
                Fault(reply={"room_name": "conv-x"}),
                hint="lacks or mangles token",
            ),
        ),
        (
            "daily-join-error",
            lambda d: daily_join_fails(
                d,
                "daily: join refused",
                "the bot's join completes with an error",
                "error: drill: the meeting token is not valid",
            ),
        ),
        (
            "daily-join-hang",
            lambda d: daily_join_fails(
                d, "daily: join hangs", f"the join never completes ({DAILY_JOIN} s)", "hang"
            ),
        ),
        ("daily-delete", daily_delete_fails),
    ]
