"""`make drills DRILLS_ARGS="--only machines"`: the worker mode spread over machines.

Each machine is a network namespace of this drill (`mx-*`), on one bridge (in a namespace of its
own, `mx-switch`) of the private subnet 10.77.0.0/24: two API machines, two worker machines, the
users' machine and a Redis machine (a redis-server without persistence, which the drill kills
and starts again). The host's end of the bridge is 10.77.0.1, where a forwarder of the drill
(`tests.fakes.tcp_proxy`) hands PostgreSQL's connections to 127.0.0.1:5432: every process of the
service reaches PostgreSQL and Redis over that network, never over loopback. The users' peers
(aiortc) run in a thread of this process that entered the users' namespace (`setns`), so their
sockets are that machine's; each worker gathers its ICE candidates in its own namespace.

Scenarios: calls through either API reach both worker machines, each user's media going to its
worker's own address; the users' machine's address changes mid-call (the old one removed, a new
one added, as from Wi-Fi to mobile data): the user rejoins from the new address; Redis cut off
from one worker machine for 10 s while its media path and its database stay up; Redis killed
and started again empty during calls; a whole worker machine killed (every process in its
namespace). Besides the common checks after each one (nothing live without a bot, no bot for an
ended call), the rule: a call is never ended in the database while its bot still runs, and its
bot never runs on after the database says it ended.

Every namespace is removed at the end, also on failure, and the leftovers of an earlier run
that crashed are removed at the start. Needs root (`ip netns`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import make_url

from bench.drills import network, workers
from bench.drills.base import (
    LIVE,
    LOCAL,
    App,
    Drill,
    Line,
    Scenario,
    answer,
    connected_peer,
    ended,
    reason,
    running,
)
from bench.drills.workers import WORKER_LOST_WITHIN, Workers
from bench.peers import ask
from tests.fakes.tcp_proxy import TcpProxy
from tests.kit.processes import PrivateRedis, heartbeats, wait_for_workers
from tests.voice.peer import Peer

SWITCH = "mx-switch"
HOST_END = "mx-host"
HOST_ADDRESS = "10.77.0.1"
REDIS, API1, API2, WORKER1, WORKER2, USERS = (
    "mx-redis",
    "mx-api1",
    "mx-api2",
    "mx-worker1",
    "mx-worker2",
    "mx-users",
)
ADDRESSES = {
    REDIS: "10.77.0.2",
    API1: "10.77.0.11",
    API2: "10.77.0.12",
    WORKER1: "10.77.0.21",
    WORKER2: "10.77.0.22",
    USERS: "10.77.0.31",
}
PREFIX_LENGTH = 24
# A link-layer address no machine has: frames sent to it go nowhere (a silent cut).
NOWHERE = "02:00:00:00:00:77"
CUT_SECONDS = 10.0
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def possible() -> bool:
    """Whether this drill can build its machines: root and iproute2's `ip netns`."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def kill_machine(netns: str) -> list[int]:
    """SIGKILL every process in the namespace; their pids."""
    pids = [int(pid) for pid in _ip("netns", "pids", netns, check=False).split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def remove_network() -> None:
    """Remove this drill's namespaces (their processes killed first) and the host's end."""
    existing = {line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()}
    for netns in [*ADDRESSES, SWITCH]:
        if netns in existing:
            kill_machine(netns)
            _ip("netns", "del", netns)
    _ip("link", "del", HOST_END, check=False)


def build_network() -> None:
    """The bridge, one veth pair a machine, each machine's address; the host's end."""
    remove_network()
    _ip("netns", "add", SWITCH)
    _ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
    _ip("-n", SWITCH, "link", "set", "br0", "up")
    for i, (netns, address) in enumerate(ADDRESSES.items()):
        _ip("netns", "add", netns)
        port = f"port{i}"
        veth = ["type", "veth", "peer", "name", "eth0", "netns", netns]
        _ip("-n", SWITCH, "link", "add", port, *veth)
        _ip("-n", SWITCH, "link", "set", port, "master", "br0", "up")
        _ip("-n", netns, "addr", "add", f"{address}/{PREFIX_LENGTH}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
    _ip("link", "add", HOST_END, "type", "veth", "peer", "name", "uplink", "netns", SWITCH)
    _ip("-n", SWITCH, "link", "set", "uplink", "master", "br0", "up")
    _ip("addr", "add", f"{HOST_ADDRESS}/{PREFIX_LENGTH}", "dev", HOST_END)
    _ip("link", "set", HOST_END, "up")


def cut_off(netns: str, addresses: list[str]) -> None:
    """The machine's frames to `addresses` go to a link-layer address nobody has: silently
    lost, as on a cut cable; everything else it sends (the users' media) still arrives."""
    for address in addresses:
        neighbour = [address, "lladdr", NOWHERE, "dev", "eth0", "nud", "permanent"]
        _ip("-n", netns, "neigh", "replace", *neighbour)


def reconnect(netns: str, addresses: list[str]) -> None:
    for address in addresses:
        _ip("-n", netns, "neigh", "del", address, "dev", "eth0")


class UsersMachine:
    """The users' machine: a thread in its network namespace running the peers' event loop."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"users-{netns}", daemon=True)
        # One a machine of the API: a user signals to the API that started their call.
        self.clients: list[httpx.AsyncClient] = []

    def _main(self) -> None:
        try:
            _enter(self.netns)
        except BaseException as exc:
            self._failed = exc
            self._started.set()
            return
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()
        self.loop.close()

    async def start(self, apis: list[str]) -> None:
        """Enter the namespace; clients for the APIs at `apis` (base URLs)."""
        self._thread.start()
        await asyncio.to_thread(self._started.wait)
        if self._failed is not None:
            raise self._failed
        self.clients = [await self.run(_new_client(api)) for api in apis]

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the users' loop (its sockets in their namespace); its result."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def stop(self) -> None:
        if self._thread.is_alive():
            for client in self.clients:
                with contextlib.suppress(Exception):
                    await self.run(client.aclose())
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self._thread.join, 10)


async def _new_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=60)


def _enter(netns: str) -> None:
    """Move the calling thread into the network namespace (setns: Python 3.11 has no
    os.setns); its sockets are made there from now on."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns} failed")
    finally:
        os.close(fd)


class Fleet(Workers):
    """The machines: the workers (in their namespaces), both APIs, the users' machine."""

    def __init__(self, drill: Drill, logs: Path, redis: PrivateRedis, api2: App) -> None:
        super().__init__(drill.app.env, logs, redis)
        self.apis = [drill.client, httpx.AsyncClient(base_url=api2.url, timeout=60)]
        self.api2 = api2
        self.users = UsersMachine(USERS)

    async def machine_of(self, drill: Drill, conversation_id: str) -> str:
        """The namespace of the worker that runs the call."""
        owner = await self.owner(drill.db, conversation_id)
        return str(owner.netns)

    async def stop(self) -> None:
        await self.users.stop()
        await self.apis[1].aclose()
        await super().stop()
        await self.api2.stop(grace=30)


def _fleet(drill: Drill) -> Fleet:
    assert isinstance(drill.workers, Fleet)
    return drill.workers


@dataclass
class Call:
    """A user's call: through which API, on which worker machine, over which addresses."""

    auth: dict[str, str]
    id: str
    api: int
    peer: Peer
    machine: str
    addresses: tuple[str, str]

    @property
    def media_direct(self) -> bool:
        """Whether the user's media goes from the users' address to its worker's own."""
        return self.addresses == (ADDRESSES[USERS], ADDRESSES[self.machine])


async def _joined(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[Peer, tuple[str, str]]:
    peer = await connected_peer(client, body)
    return peer, peer.selected_addresses()


async def place(drill: Drill, api: int) -> Call:
    """A new user's call started through API `api` (0 or 1), joined from the users' machine
    and greeted."""
    fleet = _fleet(drill)
    auth, _ = await drill.user()
    response = await fleet.apis[api].post("/api/v1/conversations/start", headers=auth)
    response.raise_for_status()
    body = response.json()
    peer, addresses = await fleet.users.run(_joined(fleet.users.clients[api], body))
    machine = await fleet.machine_of(drill, body["conversation_id"])
    return Call(auth, body["conversation_id"], api, peer, machine, addresses)


async def spread_calls(drill: Drill, at_least: int = 2, most: int = 10) -> list[Call]:
    """Calls, alternating between the APIs, until both worker machines run one (and at least
    `at_least`), `most` at most. Once `at_least` have all gone to one machine, the next waits
    2 s: a worker takes no call while the machine's CPU, averaged over 2.5 s, is over
    WORKER_LOAD_THRESHOLD, and both workers share this machine's two cores (a drill before
    this one may have left it busy)."""
    calls: list[Call] = []
    while len(calls) < most:
        if len(calls) >= at_least:
            await asyncio.sleep(2)
        calls.append(await place(drill, len(calls) % 2))
        if len(calls) >= at_least and {c.machine for c in calls} == {WORKER1, WORKER2}:
            break
    return calls


async def hang_up(drill: Drill, call: Call) -> httpx.Response:
    fleet = _fleet(drill)
    ending = await fleet.apis[call.api].post(
        f"/api/v1/conversations/{call.id}/end", headers=call.auth
    )
    await fleet.users.run(call.peer.close())
    return ending


async def answered(drill: Drill, call: Call) -> bool:
    """The user asks a question; whether the bot answered."""
    fleet = _fleet(drill)
    return await fleet.users.run(ask(call.peer, network.question())) is not None


async def _end_all(drill: Drill, line: Line, calls: list[Call], expected: str) -> None:
    """Hang up every call still live; each must end `expected`."""
    for call in calls:
        row = await drill.row(call.id)
        if row is not None and row["status"] in LIVE:
            await hang_up(drill, call)
            row = await drill.row(call.id)
            line.ended_as(row, expected)
        else:
            await _fleet(drill).users.run(call.peer.close())


def _where(calls: list[Call]) -> str:
    per = {m: sum(c.machine == m for c in calls) for m in (WORKER1, WORKER2)}
    return f"{per[WORKER1]}+{per[WORKER2]} on the 2 worker machines"


async def both_machines(drill: Drill) -> Line:
    line = Line("machines: spread", "4 calls, through both APIs")
    calls = await spread_calls(drill, at_least=4)
    direct = sum(c.media_direct for c in calls)
    apis = {c.api for c in calls}
    pairs = ", ".join(sorted({f"{a}->{b}" for a, b in (c.addresses for c in calls)}))
    line.answered = (
        f"{len(calls)} greeted, {_where(calls)}; media users->worker's own address "
        f"{direct}/{len(calls)} ({pairs})"
    )
    line.expect({c.machine for c in calls} == {WORKER1, WORKER2}, "one worker machine idle")
    line.expect(apis == {0, 1}, "not both APIs placed calls")
    line.expect(direct == len(calls), "media not between the users' and the worker's addresses")
    await _end_all(drill, line, calls, "user_ended")
    return await drill.settled(line, [c.id for c in calls])


async def machine_killed(drill: Drill) -> Line:
    line = Line("machines: worker machine killed", "SIGKILL to every process of mx-worker2")
    fleet = _fleet(drill)
    calls = await spread_calls(drill, at_least=3)
    lost = [c for c in calls if c.machine == WORKER2]
    kept = [c for c in calls if c.machine != WORKER2]
    killed_at = time.monotonic()
    pids = kill_machine(WORKER2)
    took: list[float] = []
    row = None
    for call in lost:
        left = killed_at + WORKER_LOST_WITHIN + 5 - time.monotonic()
        row = await ended(drill, call.id, within=max(0.0, left))
        took.append(time.monotonic() - killed_at)
        line.ended_as(row, "worker_lost")
    slowest = max(took, default=0.0)
    line.expect(slowest <= WORKER_LOST_WITHIN, f"ended after {slowest:.1f} s, not within 10 s")
    for other in kept:
        line.live(await drill.row(other.id), "a call of the other machine ended")
    heard = await answered(drill, kept[0]) if kept else False
    line.expect(heard, "the other machine's call was not answered after the kill")
    line.answered = (
        f"{len(pids)} processes killed; its {len(lost)} calls {reason(row)} within "
        f"{slowest:.1f} s; "
        f"the other machine's {len(kept)} live, answered {heard}"
    )
    await _end_all(drill, line, kept, "user_ended")
    for call in lost:
        await fleet.users.run(call.peer.close())
    await asyncio.gather(*(c.wait(10) for c in fleet.children if c.netns == WORKER2))
    await fleet.add(WORKER2)
    return await drill.settled(line, [c.id for c in calls])


async def redis_cut(drill: Drill) -> Line:
    line = Line("machines: Redis cut 10 s", "mx-worker1 cut off from Redis (media, DB up)")
    fleet = _fleet(drill)
    calls = await spread_calls(drill)
    cut = [c for c in calls if c.machine == WORKER1]
    cut_worker = next(c for c in fleet.children if c.netns == WORKER1)
    began = time.monotonic()
    await asyncio.to_thread(cut_off, WORKER1, [ADDRESSES[REDIS]])
    try:
        await asyncio.sleep(CUT_SECONDS / 2)
        beats = await heartbeats(fleet.redis, fleet.prefix)
        unseen = all(b["pid"] != cut_worker.pid for b in beats)
        other = await place(drill, 1)
        calls.append(other)
        heard = await answered(drill, cut[0])
        during = await drill.row(cut[0].id)
        await asyncio.sleep(max(0.0, began + CUT_SECONDS - time.monotonic()))
        after_cut = await drill.row(cut[0].id)
    finally:
        await asyncio.to_thread(reconnect, WORKER1, [ADDRESSES[REDIS]])
    restored = time.monotonic()
    await wait_for_workers(fleet.redis, fleet.prefix, None, 2, within=30)
    back = time.monotonic() - restored
    line.expect(unseen, "the cut machine's heartbeat was still seen: no cut")
    line.expect(other.machine == WORKER2, "a call started during the cut went to the cut machine")
    # What is right (README, Scaling out): a worker that still reaches the database holds its
    # calls; it is not declared lost for a Redis cut alone.
    line.live(during, "the cut machine's call ended during the cut")
    line.live(after_cut, "the cut machine's call ended by the cut's end")
    line.expect(heard, "the cut machine's bot did not answer during the cut")
    line.answered = (
        f"during: heartbeat unseen {unseen}, its call {reason(during)}, answered {heard}; "
        f"a new start went to "
        f"{other.machine}; after: {reason(after_cut)}, its heartbeat back {back:.1f} s after"
    )
    await _end_all(drill, line, calls, "user_ended")
    return await drill.settled(line, [c.id for c in calls])


def _media_closed(peer: Peer) -> bool:
    """Whether the bot closed the user's connection (DTLS closed: the bot stopped)."""
    return bool(peer.pc.getTransceivers()[0].sender.transport.state == "closed")


async def _media_closed_on(drill: Drill, call: Call) -> bool:
    async def check() -> bool:
        return _media_closed(call.peer)

    return await _fleet(drill).users.run(check())


async def partition(drill: Drill) -> Line:
    line = Line("machines: cut off 10 s", "mx-worker1 cut off from Redis and PostgreSQL")
    calls = await spread_calls(drill)
    cut = next((c for c in calls if c.machine == WORKER1), None)
    if cut is None:
        line.expect(False, f"no call went to {WORKER1} ({_where(calls)})")
        await _end_all(drill, line, calls, "user_ended")
        return await drill.settled(line, [c.id for c in calls])
    began = time.monotonic()
    stopped_at = ended_at = None
    row = None
    data = [ADDRESSES[REDIS], HOST_ADDRESS]
    await asyncio.to_thread(cut_off, WORKER1, data)
    try:
        while time.monotonic() < began + CUT_SECONDS:
            # The row first: a bot seen stopped after the row's end was running at that end.
            row = await drill.row(cut.id)
            if ended_at is None and row is not None and row["status"] not in LIVE:
                ended_at = time.monotonic() - began
            if stopped_at is None and await _media_closed_on(drill, cut):
                stopped_at = time.monotonic() - began
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(reconnect, WORKER1, data)
    await wait_for_workers(_fleet(drill).redis, _fleet(drill).prefix, None, 2, within=30)
    line.ended_as(row, "worker_lost")
    line.expect(stopped_at is not None, "its bot did not stop")
    line.expect(
        stopped_at is not None and (ended_at is None or stopped_at < ended_at),
        "the call was ended in the database while its bot still ran",
    )
    for same in (c for c in calls if c.machine == WORKER1 and c is not cut):
        line.ended_as(await drill.row(same.id), "worker_lost")
    others = [c for c in calls if c.machine != WORKER1]
    for other in others:
        line.live(await drill.row(other.id), "a call of the other machine ended")
    line.answered = (
        f"its bot stopped after {_seconds(stopped_at)}, its call ended {reason(row)} after "
        f"{_seconds(ended_at)}; the other machine's {len(others)} live"
    )
    await _end_all(drill, line, calls, "user_ended")
    return await drill.settled(line, [c.id for c in calls])


# The users' machine's address after its network changed (as from Wi-Fi to mobile data).
MOVED_ADDRESS = "10.77.0.32"


def move(netns: str, old: str, new: str) -> None:
    """The machine's address changes: the old one is gone (what is sent to it goes nowhere,
    sockets bound to it can no longer send), the new one is up."""
    _ip("-n", netns, "addr", "del", f"{old}/{PREFIX_LENGTH}", "dev", "eth0")
    _ip("-n", netns, "addr", "add", f"{new}/{PREFIX_LENGTH}", "dev", "eth0")


class _MovingNetwork:
    """What a phone's OS tells an app of its network, for `Peer.rejoin_by_itself`: the address
    changed (`changes`); always reachable (the new network is up at once)."""

    def __init__(self) -> None:
        self.changes = 0

    def reachable(self) -> bool:
        return True

    def attach(self, pc: Any) -> None:
        pass  # the real network, not the harness: nothing to impair


async def _rejoining_client(base_url: str) -> httpx.AsyncClient:
    # A connection per request: a kept one is bound to the address that went away.
    return httpx.AsyncClient(
        base_url=base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )


async def address_change(drill: Drill) -> Line:
    line = Line(
        "machines: address change",
        f"mx-users -> {MOVED_ADDRESS} mid-call, old one gone",
    )
    fleet = _fleet(drill)
    call = await place(drill, 0)
    network = _MovingNetwork()
    client = await fleet.users.run(_rejoining_client(str(fleet.users.clients[0].base_url)))
    token = call.auth["Authorization"].removeprefix("Bearer ")

    async def watch() -> None:
        call.peer.rejoin_by_itself(client, call.id, token, network=network)

    await fleet.users.run(watch())
    before = call.addresses
    changed = time.monotonic()
    await asyncio.to_thread(move, USERS, ADDRESSES[USERS], MOVED_ADDRESS)
    network.changes += 1
    try:
        connected = heard = None
        deadline = changed + 30
        while time.monotonic() < deadline and heard is None:
            recovery = call.peer.recoveries[-1] if call.peer.recoveries else None
            if connected is None and recovery is not None and recovery.connected_at is not None:
                connected = recovery.connected_at - changed
            sound = call.peer.first_sound_after(changed + (connected or 30))
            if connected is not None and sound is not None:
                heard = sound - changed
            await asyncio.sleep(0.1)

        async def selected() -> tuple[str, str]:
            return call.peer.selected_addresses()

        after = await fleet.users.run(selected()) if connected is not None else None
        right = await answered(drill, call) if connected is not None else False
        row = await drill.row(call.id)
    finally:
        await asyncio.to_thread(move, USERS, MOVED_ADDRESS, ADDRESSES[USERS])
    line.live(row, "the call ended with the address change")
    line.expect(connected is not None, "the user did not connect again")
    line.expect(heard is not None, "the user did not hear the bot after the change")
    line.expect(
        after is not None and after[0] == MOVED_ADDRESS,
        "the new connection is not from the new address",
    )
    line.expect(right, "the question after the change was not answered")
    line.answered = (
        f"media {before[0]}->{before[1]}, then {after[0] if after else '?'}->"
        f"{after[1] if after else '?'}; connected {_seconds(connected)}, heard the bot "
        f"{_seconds(heard)} after the change; {len(call.peer.recoveries)} rejoin(s), "
        f"answered after: {right}"
    )
    await fleet.users.run(client.aclose())
    await _end_all(drill, line, [call], "user_ended")
    return await drill.settled(line, [call.id])


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


async def redis_restart(drill: Drill) -> Line:
    line = Line("machines: Redis restarted empty", "redis-server SIGKILLed, started again empty")
    fleet = _fleet(drill)
    calls = await spread_calls(drill)
    await fleet.redis_server.exit_code(signal.SIGKILL, within=10)
    fleet.redis_server.spawn()
    await fleet.redis_server.ready()
    await fleet.reconnect()
    keys = await fleet.redis.dbsize()
    await asyncio.sleep(5)
    rows = [await drill.row(c.id) for c in calls]
    for row in rows:
        line.live(row, "a call ended with Redis' restart")
    heard = [await answered(drill, c) for c in (calls[0], calls[-1])]
    line.expect(all(heard), "a call was not answered after the restart")
    await wait_for_workers(fleet.redis, fleet.prefix, None, 2, within=30)
    again = await workers._start_when_back(drill, calls[0].auth)
    line.expect(again.status_code == 200, "no start succeeded after Redis came back")
    line.answered = (
        f"{keys} keys after the restart; {_where(calls)} live 5 s later: "
        f"{sum(r is not None and r['status'] == 'active' for r in rows)}/{len(calls)}, "
        f"answered {sum(heard)}/2; next start {answer(again)}"
    )
    if again.status_code == 200:
        await drill.end(calls[0].auth, again.json()["conversation_id"])
    await _end_all(drill, line, calls, "user_ended")
    return await drill.settled(line, [c.id for c in calls])


def scenarios() -> list[Scenario]:
    """The machines' scenarios, in the order they run (the machine kill last)."""
    return [
        ("machines-spread", both_machines),
        ("machines-address-change", address_change),
        ("machines-redis-cut", redis_cut),
        ("machines-redis-restart", redis_restart),
        ("machines-cut-off", partition),
        ("machines-kill", machine_killed),
    ]


@contextlib.asynccontextmanager
async def machines(tmp: Path, database: str) -> AsyncIterator[Drill]:
    """The namespaces, PostgreSQL's forwarder, Redis, both APIs, both workers, the users."""
    logs = tmp / "machines"
    logs.mkdir(exist_ok=True)
    url = make_url(database)
    await asyncio.to_thread(build_network)
    try:
        async with contextlib.AsyncExitStack() as stack:
            proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432, HOST_ADDRESS)
            await stack.enter_async_context(proxy.serve())
            redis = PrivateRedis(logs / "redis.log", 6379, ADDRESSES[REDIS], REDIS)
            stack.push_async_callback(redis.stop, 10)
            await redis.ready()
            env = {
                **LOCAL,
                **workers.settings(redis),
                # Reachable from other machines: a weak secret is refused.
                "JWT_SECRET": secrets.token_urlsafe(48),
            }
            drill = await stack.enter_async_context(
                running(logs, database, proxy, env, host=ADDRESSES[API1], netns=API1)
            )
            api2 = _second_api(drill, logs)
            fleet = Fleet(drill, logs, redis, api2)
            drill.workers = fleet
            stack.push_async_callback(fleet.stop)
            await asyncio.gather(
                api2.start(),
                fleet.add(WORKER1),
                fleet.add(WORKER2),
                fleet.users.start([drill.app.url, api2.url]),
                network.load_question(),
            )
            yield drill
    finally:
        await asyncio.to_thread(remove_network)


def _second_api(drill: Drill, logs: Path) -> App:
    return App(logs, drill.app.env, host=ADDRESSES[API2], netns=API2)
