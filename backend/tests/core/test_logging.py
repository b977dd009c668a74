"""LOG_FORMAT=json: one JSON object per line, with the conversation and worker where known, and
never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn.config
from fastapi import FastAPI

from src.core.logging import configure_logging, set_worker_id
from src.core.settings import Settings
from tests.api.conversation_helpers import eventually, no_bots_left, row
from tests.conftest import TEST_SECRET, auth, daily_settings, make_settings, register
from tests.fakes.bots import GOODBYE, JOIN, ScriptedBot
from tests.fakes.daily import API_KEY, FakeDaily

SERVE = Path(__file__).resolve().parents[3] / "scripts" / "serve"


def _our_handler() -> logging.StreamHandler[Any]:
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_numerologist", False))
    assert isinstance(handler, logging.StreamHandler)
    return handler


@pytest.fixture
def log(app: FastAPI) -> Iterator[io.StringIO]:
    """What the app's log handler writes during the test."""
    handler, buffer = _our_handler(), io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[arg-type]


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


class TestOtherLibrariesInJson:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, log_format="json", pipecat_log_level="DEBUG")

    def test_pipecat_s_loguru_and_uvicorn_s_loggers_write_json(
        self, app: FastAPI, log: io.StringIO
    ) -> None:
        from loguru import logger as loguru_logger

        # As in the server: uvicorn configures its loggers (text handlers of their own), then
        # its factory builds the app, which configures ours.
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        configure_logging("INFO", "DEBUG", "json")
        # As a pipecat module logs (loguru names the record after its module).
        loguru_logger.patch(lambda record: record.update(name="pipecat.test")).debug(
            "a pipecat line"
        )
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
        logging.getLogger("uvicorn.access").info('127.0.0.1:1 - "GET / HTTP/1.1" 200')
        records = _records(log.getvalue().splitlines())
        assert [(r["level"], r["message"]) for r in records] == [
            ("DEBUG", "a pipecat line"),
            ("INFO", "Started server process [1]"),
            ("INFO", '127.0.0.1:1 - "GET / HTTP/1.1" 200'),
        ]
        assert [r["logger"] for r in records] == ["pipecat.test", "uvicorn.error", "uvicorn.access"]


class TestJsonLines:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, log_format="json", log_level="DEBUG")

    def test_fields_and_the_exception(self, app: FastAPI) -> None:
        handler, buffer = _our_handler(), io.StringIO()
        previous = handler.setStream(buffer)
        conversation_id = uuid.uuid4()
        try:
            log = logging.getLogger("src.test")
            log.info("conversation %s: bot ready in %.0f ms", conversation_id, 12.3)
            set_worker_id("worker-7")
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                log.exception("plain message", extra={"conversation_id": "given"})
        finally:
            set_worker_id(None)
            handler.setStream(previous)  # type: ignore[arg-type]
        first, second = _records(buffer.getvalue().splitlines())
        assert first["message"] == f"conversation {conversation_id}: bot ready in 12 ms"
        assert (first["level"], first["logger"]) == ("INFO", "src.test")
        assert first["conversation_id"] == str(conversation_id)
        assert "worker_id" not in first
        assert "exception" not in first
        assert first["time"].endswith("+00:00")
        assert second["conversation_id"] == "given"
        assert second["worker_id"] == "worker-7"
        assert "RuntimeError: boom" in second["exception"]


async def _whole_call(app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot) -> list[str]:
    """Register, sign in, start, join, say goodbye, end; the secrets that went by."""
    user = await register(client, password="a very secret passphrase")
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": user["user"]["email"], "password": user["password"]},
    )
    token = login.json()["access_token"]
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user["user"]["email"], "password": "guessed pass"}
    )
    assert wrong.status_code == 401
    started = await client.post("/api/v1/conversations/start", headers=auth(token))
    assert started.status_code == 200, started.text
    body = started.json()
    conversation_id = uuid.UUID(body["conversation_id"])
    bot.inbox(conversation_id).put_nowait(JOIN)
    await eventually(lambda: _is(app, conversation_id, "active"))
    bot.inbox(conversation_id).put_nowait(GOODBYE)
    await eventually(lambda: _is(app, conversation_id, "ended"))
    await no_bots_left(app)
    listed = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(token))
    assert listed.status_code == 200
    bot_token = bot.contexts[conversation_id].job.bot_token
    return [
        TEST_SECRET,
        token,
        user["access_token"],
        body["daily_token"],
        bot_token,
        user["password"],
        "guessed pass",
    ]


async def _is(app: FastAPI, conversation_id: uuid.UUID, status: str) -> None:
    assert (await row(app, conversation_id)).status == status


def _assert_clean(log: io.StringIO, secrets: list[str]) -> None:
    lines = log.getvalue().splitlines()
    records = _records(lines)  # every line is one JSON object
    assert any(r.get("conversation_id") for r in records), "the call was logged"
    assert any("ended" in r["message"] for r in records)
    for line in lines:
        for secret in secrets:
            assert secret not in line, f"a secret in the log: {line}"


class TestNoSecretsInTheLog:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, log_format="json", log_level="DEBUG")

    async def test_a_whole_call_in_a_local_room(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot, log: io.StringIO
    ) -> None:
        secrets = await _whole_call(app, client, bot)
        _assert_clean(log, secrets)


class TestNoSecretsInTheLogWithDaily:
    @pytest.fixture
    def settings(self, clean_db: str, fake_daily: FakeDaily) -> Settings:
        return daily_settings(clean_db, fake_daily, log_format="json", log_level="DEBUG")

    async def test_a_whole_call_in_a_daily_room(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot, log: io.StringIO
    ) -> None:
        secrets = await _whole_call(app, client, bot)
        _assert_clean(log, [*secrets, API_KEY])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.once
class TestTheServerProcess:
    async def test_every_line_it_writes_is_json(
        self, clean_db: str, redis_url: str, prefix: str
    ) -> None:
        # The real `make run` entry (scripts/serve: uvicorn and its own loggers), in the worker
        # mode without workers so that no speech model loads.
        port = _free_port()
        env = {
            **os.environ,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "PIPECAT_LOG_LEVEL": "DEBUG",
            "DATABASE_URL": clean_db,
            "JWT_SECRET": TEST_SECRET,
            "ENVIRONMENT": "development",
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "WORKERS": "0",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONWARNINGS": "default",
        }
        process = await asyncio.create_subprocess_exec(
            str(SERVE),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group: the stop below reaches uvicorn whatever the script does.
            start_new_session=True,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

                async def answers() -> None:
                    try:
                        response = await http.get("/health/live")
                    except httpx.TransportError as exc:
                        raise AssertionError(f"not serving yet: {exc}") from None
                    assert response.status_code == 200

                await eventually(answers, within=120)
                assert (await http.get("/no/such/page")).status_code == 404
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        lines = [line for line in (stdout + stderr).decode().splitlines() if line.strip()]
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                pytest.fail(f"a line that is not JSON: {line!r}")
        messages = {(r["logger"], r["message"].split(" [")[0]) for r in records}
        assert ("uvicorn.error", "Started server process") in messages
        assert ("uvicorn.error", "Waiting for application startup.") in messages
        assert ("uvicorn.error", "Shutting down") in messages
        access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
        assert any("/no/such/page" in m and "404" in m for m in access), access
        assert any(r["logger"] == "src.main" and r["message"] == "stopped" for r in records)
        # uvicorn ends by raising the signal it handled again, once it has shut down cleanly.
        assert process.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
