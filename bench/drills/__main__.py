"""`python -m bench.drills [--only KEY]`: every drill, one app configuration after another."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bench import BACKEND
from bench.drills import (
    bots,
    connections,
    daily,
    database,
    machines,
    network,
    security,
    signals,
    workers,
)
from bench.drills.base import LOCAL, Drill, Line, Scenario, running
from bench.server import PG_URL, _drop, _pg_database
from tests.fakes.daily import FakeDaily
from tests.fakes.tcp_proxy import TcpProxy

RESULTS = Path(__file__).resolve().parents[1] / "results"


def local_scenarios(tmp: Path, examples: int, seed: int) -> list[Scenario]:
    """On local rooms with the real voice bot and aiortc peers."""
    return [
        ("db-down", database.down),
        ("db-mid-call", database.lost_mid_call),
        ("crash-start", bots.crash_on_start),
        ("crash-mid-call", bots.crash_mid_call),
        ("vanish", bots.peer_vanishes),
        ("never-joins", bots.never_joins),
        ("max-duration", bots.max_duration),
        ("load", bots.load),
        ("jwt", security.jwt_attacks),
        ("other-user", security.other_users_data),
        ("floods", security.floods),
        ("schemathesis", lambda d: security.fuzz(d, tmp, examples, seed)),
        ("sigterm", signals.sigterm_mid_call),
        ("sigkill", signals.sigkill_and_restart),
    ]


async def run(tmp: Path, examples: int, seed: int, only: str | None) -> list[Line]:
    database_url = await _pg_database()
    if database_url is None:
        raise SystemExit(f"the drills need PostgreSQL at {PG_URL} (TEST_DATABASE_URL)")
    subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=BACKEND,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )
    url = make_url(database_url)
    lines: list[Line] = []

    async def go(drill: Drill, scenarios: list[Scenario]) -> None:
        for key, scenario in scenarios:
            try:
                line = await scenario(drill)
            except Exception as exc:  # a drill that breaks is a failed line, not a stop
                line = Line(key, "", "", [f"the drill raised {exc!r}"])
                drill.proxy.restore()
            _print(line)
            lines.append(line)

    def chosen(scenarios: list[Scenario]) -> list[Scenario]:
        keys = None if only is None else only.split(",")
        return [s for s in scenarios if keys is None or any(k in s[0] for k in keys)]

    daily_ones = chosen(
        [*daily.scenarios(), ("db-mid-start", database.lost_while_the_room_is_made)]
    )
    local_ones = chosen(local_scenarios(tmp, examples, seed))
    stuck_ones = chosen(connections.scenarios())
    worker_ones = chosen(workers.scenarios())
    network_ones = chosen(network.scenarios())
    machine_ones = chosen(machines.scenarios())
    try:
        async with (
            FakeDaily().serve() as fake_daily,
            TcpProxy(url.host or "127.0.0.1", url.port or 5432).serve() as proxy,
        ):
            print(f"{'scenario':<32}{'injected':<52}answered -> left behind")
            if daily_ones:
                settings = daily.settings(fake_daily)
                async with running(tmp, database_url, proxy, settings) as drill:
                    drill.daily = fake_daily
                    await go(drill, daily_ones)
            if local_ones:
                async with running(tmp, database_url, proxy, LOCAL) as drill:
                    await go(drill, local_ones)
            if stuck_ones:
                print(
                    f"{connections.MAX_BOTS} bots; a connection that never connects is given "
                    f"up on after {connections.CONNECTION_TIMEOUT} s, the join timeout is "
                    f"{connections.JOIN_TIMEOUT} s"
                )
                settings = {**LOCAL, **connections.SETTINGS}
                async with running(tmp, database_url, proxy, settings) as drill:
                    await go(drill, stuck_ones)
            if network_ones:
                print(
                    "calls over impaired networks: the user's peer behind tests/netem.py, "
                    "rejoining by itself; the default keep-alive and rejoin grace"
                )
                settings = {**LOCAL, **network.SETTINGS, "MAX_DURATION_SECONDS": "180"}
                async with running(tmp, database_url, proxy, settings) as drill:
                    await network.load_question()
                    await go(drill, network_ones)
            if worker_ones:
                print("worker mode: the API runs no bot; two worker processes run them")
                async with (
                    workers.private_redis(tmp) as redis,
                    running(
                        tmp, database_url, proxy, {**LOCAL, **workers.settings(redis)}
                    ) as drill,
                    workers.workers_for(drill, tmp, redis),
                ):
                    await go(drill, worker_ones)
            if machine_ones and not machines.possible():
                line = Line("machines", "", "", ["needs root and iproute2 (ip netns): not run"])
                _print(line)
                lines.append(line)
            elif machine_ones:
                print(
                    "machines: network namespaces on 10.77.0.0/24, 2 APIs, 2 worker machines "
                    "(one worker each), the users', Redis'; PostgreSQL forwarded from 10.77.0.1"
                )
                async with machines.machines(tmp, database_url) as drill:
                    await go(drill, machine_ones)
    finally:
        await _drop(database_url)
    return lines


def _print(line: Line) -> None:
    verdict = (
        "nothing lost or left" if not line.problems else "PROBLEM: " + "; ".join(line.problems)
    )
    print(f"{line.scenario:<32}{line.injected:<52}{line.answered} -> {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drills", description=sys.modules["bench.drills"].__doc__
    )
    parser.add_argument(
        "--examples", type=int, default=60, help="schemathesis examples per operation"
    )
    parser.add_argument("--seed", type=int, default=1, help="schemathesis' random seed")
    parser.add_argument(
        "--only", help="run only the scenarios whose key contains this (or one of these, a,b)"
    )
    args = parser.parse_args()
    # The app's log and schemathesis' output stay here for reading after the run.
    logs = RESULTS / "drills-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    lines = asyncio.run(run(logs, args.examples, args.seed, args.only))
    date = datetime.now(UTC).isoformat(timespec="seconds")
    out = RESULTS / f"drills-{date.replace(':', '')}.json"
    scenarios = [asdict(line) for line in lines]
    out.write_text(json.dumps({"date": date, "scenarios": scenarios}, indent=2))
    failed = [line for line in lines if line.problems]
    print(f"\n{len(lines) - len(failed)} of {len(lines)} scenarios clean; written to {out}")
    print(f"the app's log and schemathesis' output: {logs}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
