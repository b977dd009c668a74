"""Start the app as its own process on loopback, on a fresh database, for a benchmark run."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclass
class Server:
    """A running app process."""

    url: str
    pid: int
    database: str


async def _pg_database() -> str | None:
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"numerologist_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(
            base.set(drivername="postgresql").render_as_string(False), timeout=3
        )
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def _drop(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    conn = await asyncpg.connect(
        make_url(PG_URL).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def serve(tmp: Path, **settings: str) -> AsyncIterator[Server]:
    """The app in a child process (PostgreSQL when reachable, else SQLite), migrated."""
    database = await _pg_database() or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    python = sys.executable
    # Set-up and tear-down block the loop before and after the measurements, never during them.
    subprocess.run(  # noqa: ASYNC221
        [python, "-m", "alembic", "upgrade", "head"],
        cwd=BACKEND,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (tmp / "server.log").open("w")  # noqa: ASYNC230
    process = subprocess.Popen(  # noqa: ASYNC220
        [
            python,
            "-m",
            "uvicorn",
            "--factory",
            "src.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the server did not start; see {tmp / 'server.log'}")
                await asyncio.sleep(0.2)
        yield Server(url, process.pid, database.split("://")[0])
    finally:
        process.terminate()
        try:
            process.wait(30)  # noqa: ASYNC221
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if database.startswith("postgresql"):
            await _drop(database)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
