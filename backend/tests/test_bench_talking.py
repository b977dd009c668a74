"""`make bench`'s load users joining (bench/talking.py), without WebRTC."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bench.talking
from bench.talking import Joined, connect_load_users

pytestmark = pytest.mark.once


class _User:
    """A load user that connects to nothing."""

    def __init__(self, _ticker: object, _phrases: object) -> None:
        self.room = ""

    async def connect(self, _client: object, room: str, _token: str) -> None:
        self.room = room


@pytest.mark.parametrize("together", [1, 4])
async def test_a_join_that_fails_leaves_those_before_it_with_the_caller(
    monkeypatch: pytest.MonkeyPatch, together: int
) -> None:
    monkeypatch.setattr(bench.talking, "LoadUser", _User)
    started: list[int] = []

    async def start(_client: object, user: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
        if len(started) == 5:
            raise RuntimeError("503 no_bot_capacity")
        started.append(int(user["i"]))
        return 0.0, 0.0, {"daily_room_url": f"room-{user['i']}", "daily_token": "t"}

    users = [{"i": str(i)} for i in range(8)]
    mine: list[Joined] = [("canary", {}, {})]  # type: ignore[list-item]
    with pytest.raises(RuntimeError):
        await connect_load_users(None, users, None, None, 8, start, 1, together, into=mine)  # type: ignore[arg-type]
    # The caller holds every conversation started, to hang them up.
    assert [u["i"] for _l, u, _b in mine[1:]] == ["1", "2", "3", "4", "5"]
    assert [b["daily_room_url"] for _l, _u, b in mine[1:]] == [f"room-{i}" for i in range(1, 6)]


async def test_a_batch_ends_every_join_before_its_failure_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench.talking, "LoadUser", _User)
    release = asyncio.Event()

    async def start(_client: object, user: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
        if user["i"] == "1":
            raise RuntimeError("503 no_bot_capacity")
        await release.wait()  # a slower start beside the one that failed
        return 0.0, 0.0, {"daily_room_url": user["i"], "daily_token": "t"}

    users = [{"i": str(i)} for i in range(4)]
    mine: list[Joined] = []
    joining = asyncio.ensure_future(
        connect_load_users(None, users, None, None, 4, start, together=4, into=mine)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    assert not joining.done()  # the failure waits for the batch's other joins
    release.set()
    with pytest.raises(RuntimeError, match="no_bot_capacity"):
        await joining
    assert sorted(u["i"] for _l, u, _b in mine) == ["0", "2", "3"]


async def test_without_a_list_of_its_own_the_joins_are_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench.talking, "LoadUser", _User)

    async def start(_client: object, user: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
        return 0.0, 0.0, {"daily_room_url": user["i"], "daily_token": "t"}

    users = [{"i": str(i)} for i in range(3)]
    joined = await connect_load_users(None, users, None, None, 5, start, together=2)  # type: ignore[arg-type]
    assert [u["i"] for _l, u, _b in joined] == ["0", "1", "2", "0", "1"]
    assert [load_user.room for load_user, _u, _b in joined] == ["0", "1", "2", "0", "1"]  # type: ignore[attr-defined]
