"""Figure 7: the process-per-bot design of pipecat's examples, measured like figures 2, 3 and 5.

Each bot is `python -m bench.standalone` in its own process, loading its own models, as the
examples' `bot.py`. In that design the start request spawns the process and the bot is ready
once its models are loaded, so "bot ready" runs from the spawn to its `ready` line.
Run alone (small levels): `python -m bench.process_per_bot --levels 0,1,2 --runs 2`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import BACKEND, PYTHONPATH
from bench.server import cpu_seconds, rss_mb
from tests.voice.peer import Peer

# One bot process on a free port (it says which on its `listening` line).
STANDALONE = [sys.executable, "-m", "bench.standalone", "--port", "0"]


@dataclass
class BotProcess:
    """One bot process and its peer, once connected."""

    process: asyncio.subprocess.Process
    port: int = 0
    ready_after: float = 0.0
    peer: Peer | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    async def event(self, name: str, within: float = 120) -> dict[str, Any]:
        """Wait for the process's next JSON event line called `name`."""
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), within)
            if not line:
                raise RuntimeError(f"the bot process exited before {name!r}")
            event: dict[str, Any] = json.loads(line)
            self.events.append(event)
            if event["event"] == name:
                return event

    async def connect(self) -> float:
        """Connect a silent peer; the delay from its offer to the greeting's first sound."""
        peer = self.peer = Peer()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=60) as c:
            await peer.connect(c, f"http://127.0.0.1:{self.port}/rooms/bench", "bench")
        await peer.utterance(peer.offer_sent_at, quiet=0.3)
        heard = peer.first_sound_after(peer.offer_sent_at)
        assert heard is not None
        return heard - peer.offer_sent_at

    async def stop(self) -> None:
        """Close the peer and end the process (SIGTERM, then SIGKILL)."""
        if self.peer is not None:
            await self.peer.close()
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def spawn() -> BotProcess:
    """Start one bot process and wait until it is ready (models loaded, serving offers)."""
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "LOG_LEVEL": "WARNING",
        "JOIN_TIMEOUT_SECONDS": "600",
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *STANDALONE,
        "--token",
        "bench",
        cwd=BACKEND,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    bot = BotProcess(process)
    try:
        bot.port = (await bot.event("listening"))["port"]
        await bot.event("ready")
    except BaseException:
        await bot.stop()
        raise
    bot.ready_after = time.monotonic() - started
    return bot


def _alive(bots: list[BotProcess]) -> list[BotProcess]:
    return [b for b in bots if b.process.returncode is None]


def _ended(bots: list[BotProcess]) -> list[BotProcess]:
    return [b for b in bots if b.process.returncode is not None]


def _cpu(bot: BotProcess) -> float | None:
    try:
        return cpu_seconds(bot.process.pid)
    except FileNotFoundError:
        return None


async def _end_reason(bot: BotProcess) -> str:
    """Why an exited bot process ended: its `ended` line, else its exit code."""
    assert bot.process.stdout is not None
    if not any(e["event"] == "ended" for e in bot.events):
        for line in (await bot.process.stdout.read()).splitlines():
            with contextlib.suppress(ValueError):
                bot.events.append(json.loads(line))
    ended = [e for e in bot.events if e["event"] == "ended"]
    return str(ended[-1]["reason"]) if ended else f"exit code {bot.process.returncode}"


async def _idle_row(bots: list[BotProcess]) -> dict[str, Any]:
    await asyncio.sleep(3)
    before = {id(b): _cpu(b) for b in _alive(bots)}
    wall = time.monotonic()
    await asyncio.sleep(10)
    used, rss = 0.0, 0.0
    for bot in _alive(bots):
        start, end = before.get(id(bot)), _cpu(bot)
        if start is None or end is None:
            continue  # it ended meanwhile (its peer connection dropped): left out of the sums
        used += end - start
        rss += rss_mb(bot.process.pid)
    return {
        "conversations": len(bots),
        "alive": len(_alive(bots)),
        "ended_reasons": [await _end_reason(b) for b in _ended(bots)],
        "rss_mb": rss,
        "cpu_percent_of_one_core": used / (time.monotonic() - wall) * 100,
    }


async def process_per_bot(
    levels: tuple[int, ...] = (0, 1, 5, 10, 20), runs: int = 10
) -> dict[str, Any]:
    """Bot ready and greeting latency over `runs` bots; summed RSS and CPU at each idle level."""
    ready, greeting = [], []
    for _ in range(runs):
        bot = await spawn()
        try:
            ready.append(bot.ready_after)
            greeting.append(await bot.connect())
        finally:
            await bot.stop()
    bots: list[BotProcess] = []
    rows = []
    ended_early = 0
    spawned: list[BotProcess] = []
    try:
        for level in levels:
            ended = _ended(bots)
            if ended:
                # Under CPU starvation a peer connection can drop and its bot process ends.
                print(f"  process per bot: {len(ended)} bot processes ended early", flush=True)
                ended_early += len(ended)
                bots = _alive(bots)
            while len(bots) < level:
                # Two at a time: each process loads its models on one of the two cores.
                batch = await asyncio.gather(*(spawn() for _ in range(min(2, level - len(bots)))))
                bots += batch
                spawned += batch
                await asyncio.gather(*(b.connect() for b in batch))
            rows.append(await _idle_row(bots))
            print(f"  process per bot, {level} idle: {rows[-1]}", flush=True)
        ended_early += len(_ended(bots))
    finally:
        for bot in spawned:
            with contextlib.suppress(Exception):
                await bot.stop()
    return {
        "bot_ready": ready,
        "greeting_first_audio": greeting,
        "idle": rows,
        "ended_early": ended_early,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="0,1,2", help="idle levels, comma-separated")
    parser.add_argument("--runs", type=int, default=2, help="bots for the latency figures")
    args = parser.parse_args()
    levels = tuple(int(n) for n in args.levels.split(","))
    print(json.dumps(asyncio.run(process_per_bot(levels, args.runs)), indent=2))
