"""A Prometheus scrape of the running app during a real call shows the speech histograms filled.

The app runs as its own process on loopback, as `make run` starts it: embedded (bots in the API
process), and in the worker mode with a worker process beside it sharing one
PROMETHEUS_MULTIPROC_DIR, as README "Operating it" says to run them. An aiortc peer hears the
greeting, asks a question and hears the answer; /metrics is scraped before it hangs up.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually
from tests.kit.processes import stopped_at_the_end
from tests.kit.speech import answer_to
from tests.voice.conftest import models  # noqa: F401  (the session fixture)
from tests.workers.processes import ApiProc, Proc, WorkerProc, free_port, process_env
from tests.workers.test_calls import _greeted_call

SPEECH_HISTOGRAMS = (
    "numerologist_greeting_first_audio_seconds",
    "numerologist_voice_to_voice_seconds",
    "numerologist_stt_seconds",
    "numerologist_tts_seconds",
)
Histograms = dict[str, tuple[float, float]]


async def _histograms(client: httpx.AsyncClient) -> Histograms:
    """Each histogram's (count, sum) as /metrics answers them now."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            for suffix in ("_count", "_sum"):
                if sample.name.endswith(suffix) and not sample.labels:
                    found.setdefault(sample.name.removesuffix(suffix), {})[suffix] = sample.value
    return {name: (v.get("_count", 0.0), v.get("_sum", 0.0)) for name, v in found.items()}


async def _call_and_scrape(
    api: ApiProc,
    models: speech.SpeechModels,  # noqa: F811
    scrape: httpx.AsyncClient | None = None,
) -> Histograms:
    """Greeting, one question and its answer, then the scrape (of the API, or of `scrape`),
    with the peer still connected."""
    async with (
        httpx.AsyncClient(base_url=api.url, timeout=30) as client,
        _greeted_call(client, "Ada Lovelace") as (_, _, peer, _),
    ):
        await answer_to(peer, models)
        scraped: Histograms = {}

        async def filled() -> None:
            nonlocal scraped
            scraped = await _histograms(scrape or client)
            for name in SPEECH_HISTOGRAMS:
                assert scraped.get(name, (0, 0))[0] > 0, (name, scraped.get(name))

        await eventually(filled, within=10)
        return scraped


async def _scraped_during_a_call(api: ApiProc, models: speech.SpeechModels) -> None:  # noqa: F811
    """Once the API answers: a call, the scrape, and what it must hold."""
    await api.ready(within=60)
    _print_and_check(await _call_and_scrape(api, models))


def _print_and_check(scraped: Histograms) -> None:
    for name in SPEECH_HISTOGRAMS:
        count, total = scraped[name]
        print(f"{name}_count {count:.0f} {name}_sum {total:.3f}")
        assert 0 < total < 30 * count, (name, count, total)
    # This one call: one greeting, one turn, its one utterance; the answer synthesised (and
    # the greeting, unless it was synthesised ahead).
    counts = [scraped[name][0] for name in SPEECH_HISTOGRAMS]
    assert counts[:3] == [1, 1, 1], counts
    assert counts[3] in (1, 2), counts


@pytest.fixture
def multiproc_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    return directory


@pytest.fixture
async def api_proc(logs: Path) -> AsyncIterator[Callable[[dict[str, str]], ApiProc]]:
    async with stopped_at_the_end(lambda n, env: ApiProc(env, logs / f"api-{n}.log")) as spawn:
        yield spawn


@pytest.mark.once
async def test_a_scrape_of_the_embedded_app_during_a_call(
    clean_db: str,
    api_proc: Callable[[dict[str, str]], ApiProc],
    multiproc_dir: Path,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    env = process_env(clean_db, "", "", prometheus_multiproc_dir=multiproc_dir)
    del env["REDIS_URL"], env["REDIS_PREFIX"]
    await _scraped_during_a_call(api_proc(env), models)


@pytest.mark.postgresql_only
async def test_a_scrape_of_the_api_during_a_call_a_worker_serves(
    clean_db: str,
    redis_url: str,
    prefix: str,
    api_proc: Callable[[dict[str, str]], ApiProc],
    ready_worker: Callable[..., Awaitable[WorkerProc]],
    multiproc_dir: Path,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    # The API process runs no bot: whatever the histograms hold, the worker wrote.
    await ready_worker(prometheus_multiproc_dir=multiproc_dir)
    env = process_env(clean_db, redis_url, prefix, prometheus_multiproc_dir=multiproc_dir)
    await _scraped_during_a_call(api_proc(env), models)


@pytest.mark.postgresql_only
async def test_a_worker_machine_s_supervisor_serves_its_workers_metrics(
    clean_db: str,
    redis_url: str,
    prefix: str,
    redis: Redis,
    logs: Path,
    api_proc: Callable[[dict[str, str]], ApiProc],
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    # The API as on another machine (no shared multiprocess directory), the supervisor with
    # WORKER_METRICS_PORT and none set either: it makes one for its worker.
    port, token = free_port(), "scrape-" + "s" * 20
    env = process_env(
        clean_db, redis_url, prefix, workers=1, worker_metrics_port=port, metrics_token=token
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    supervisor = Proc([sys.executable, "-m", "src.worker"], env, logs / "supervisor.log")
    try:
        api = api_proc(process_env(clean_db, redis_url, prefix))
        await api.ready(within=60)
        await _a_heartbeat(redis, prefix, supervisor)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as scrape:
            refused = await scrape.get("/metrics")
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"] == "not_authenticated"
            scrape.headers["Authorization"] = f"Bearer {token}"
            _print_and_check(await _call_and_scrape(api, models, scrape))
        # Nothing reached the API's own /metrics: the worker's numbers are the supervisor's.
        async with httpx.AsyncClient(base_url=api.url) as client:
            on_the_api = await _histograms(client)
            assert on_the_api.get("numerologist_voice_to_voice_seconds", (0, 0))[0] == 0
        supervisor.signal(signal.SIGTERM)
        assert await supervisor.wait(60) == 0, supervisor.tail()
    finally:
        await supervisor.stop()


async def _a_heartbeat(redis: Redis, prefix: str, supervisor: Proc, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not [key async for key in redis.scan_iter(match=f"{prefix}alive:*")]:
        assert supervisor.popen.poll() is None, supervisor.tail()
        assert time.monotonic() < deadline, f"no worker started: {supervisor.tail()}"
        await asyncio.sleep(0.2)
