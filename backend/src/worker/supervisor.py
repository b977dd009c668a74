"""The worker supervisor: starts WORKERS worker processes on this machine and keeps them up.

Each worker is its own process (spawned, not forked: ONNX Runtime and CTranslate2 start thread
pools when their models load, and a fork copies none of those threads) that loads the models
once. A worker that dies is replaced after a short pause (its calls end as `worker_lost`).
SIGTERM is passed on to every worker, which drains (its calls go on until they end); SIGINT
(Ctrl-C) stops them now, their calls ending as `server_shutdown`. The supervisor exits 0 once
all have exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from src.core import metrics
from src.core.logging import configure_logging
from src.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0


class Supervisor:
    """Keeps `count` worker processes running until told to stop."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._stopping = asyncio.Event()
        self._procs: dict[int, asyncio.subprocess.Process] = {}

    async def run(self) -> int:
        """Run the workers until `stop`; 0 if every worker drained cleanly."""
        slots = [asyncio.create_task(self._keep(slot)) for slot in range(self.count)]
        codes = await asyncio.gather(*slots)
        failed = [code for code in codes if code != 0]
        logger.info("supervisor: all workers exited (%s)", codes)
        return 1 if failed else 0

    async def _keep(self, slot: int) -> int:
        while True:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "src.worker.process", stdin=asyncio.subprocess.DEVNULL
            )
            self._procs[slot] = proc
            logger.info("supervisor: worker slot %d started, pid %d", slot, proc.pid)
            code = await proc.wait()
            metrics.process_exited(proc.pid)
            if self._stopping.is_set():
                return code
            logger.error(
                "supervisor: worker pid %d exited unexpectedly (%d), restarting", proc.pid, code
            )
            await asyncio.sleep(RESTART_PAUSE_SECONDS)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Pass the signal on to every worker (SIGTERM: they drain) and restart none."""
        self._stopping.set()
        for proc in self._procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)


def worker_count(settings: Settings) -> int:
    """WORKERS, or this machine's cores."""
    return settings.workers if settings.workers is not None else (os.cpu_count() or 1)


async def supervise(settings: Settings) -> int:
    """Run the supervisor until SIGTERM/SIGINT; its exit code."""
    count = worker_count(settings)
    if count == 0:
        logger.info("supervisor: WORKERS=0, nothing to run")
        return 0
    supervisor = Supervisor(count)
    server = None
    if settings.worker_metrics_port is not None:
        from src.worker.metrics_server import MetricsServer, ensure_multiprocess_dir

        ensure_multiprocess_dir()  # before the workers start: they write there
        server = MetricsServer(settings)
        await server.start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, supervisor.stop, signal.SIGTERM)
    # Ctrl-C reaches the whole process group: the workers stop on their own copy of SIGINT.
    loop.add_signal_handler(signal.SIGINT, supervisor.stop, signal.SIGINT)
    logger.info("supervisor: starting %d workers", count)
    try:
        return await supervisor.run()
    finally:
        if server is not None:
            await server.stop()


def main() -> None:
    """Command line entry point."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.pipecat_log_level, settings.log_format)
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: workers take their calls from Redis.")
    sys.exit(asyncio.run(supervise(settings)))
