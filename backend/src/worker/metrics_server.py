"""A worker machine's `/metrics`: the supervisor serves what its worker processes count.

With WORKER_METRICS_PORT set, the supervisor runs a small app with the API's own `/metrics`
route (the same METRICS_TOKEN check and error shape) on that port. Its workers write their
numbers into PROMETHEUS_MULTIPROC_DIR, which the scrape adds up; when that is not set, the
supervisor makes a fresh directory for its workers before it starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from src.api import metrics
from src.core.errors import install_error_handlers
from src.core.settings import Settings

logger = logging.getLogger(__name__)


def metrics_app(settings: Settings) -> FastAPI:
    """The app with `/metrics` alone."""
    app = FastAPI(title="Numerologist worker metrics", openapi_url=None, docs_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(metrics.router)
    return app


def ensure_multiprocess_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR for the workers about to start: a fresh one if not set."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="numerologist-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # the workers inherit it
    return directory


class _Server(uvicorn.Server):
    # The supervisor's own SIGTERM/SIGINT handlers stay: it stops this server itself.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsServer:
    """`/metrics` on WORKER_METRICS_HOST:WORKER_METRICS_PORT until stopped."""

    def __init__(self, settings: Settings) -> None:
        assert settings.worker_metrics_port is not None
        self.host, self.port = settings.worker_metrics_host, settings.worker_metrics_port
        config = uvicorn.Config(
            metrics_app(settings),
            host=self.host,
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            # Its lines go through the process's handler (JSON with LOG_FORMAT=json), not
            # uvicorn's own text handlers.
            log_config=None,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; raises if the port cannot be had."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError(f"metrics: could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.02)
        logger.info("supervisor: /metrics on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._server.should_exit = True
            await self._task
