"""The process-per-bot design (`python -m bench.standalone`) really serves a call.

`make bench` compares it with the service's shared-model design; this proves the thing it
measures works: the process loads its models, answers a WebRTC offer, greets the peer by name
(and reports the greeting said), refuses a wrong token, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.voice_pipeline import speech
from tests.voice.conftest import transcribe
from tests.voice.peer import Peer

pytestmark = pytest.mark.once

BACKEND = Path(__file__).resolve().parents[2]
# The bench's modules, beside backend/ (bench/__init__ puts backend/ first on the path).
REPO = BACKEND.parent


async def _event(process: asyncio.subprocess.Process, name: str) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, f"the bot process exited before {name!r}"
        event: dict[str, Any] = json.loads(line)
        if event["event"] == name:
            return event


async def test_a_bot_in_its_own_process_greets_and_stops(models: speech.SpeechModels) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.standalone",
        "--port",
        "0",
        "--full-name",
        "Grace Hopper",
        "--token",
        "room-token",
        cwd=BACKEND,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
    )
    peer = Peer()
    try:
        port = (await _event(process, "listening"))["port"]
        await _event(process, "ready")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wrong = await client.post(
                "/api/v1/rooms/r/offer",
                json={"sdp": "v=0", "type": "offer"},
                headers={"Authorization": "Bearer other"},
            )
            assert wrong.status_code == 401
            await peer.connect(client, f"http://127.0.0.1:{port}/rooms/r", "room-token")
            await _event(process, "joined")
            greeting = await peer.utterance(peer.offer_sent_at)
            # The greeting is reported said once spoken, as the service stores it.
            said = await _event(process, "said")
        assert "grace" in (await transcribe(models, greeting)).lower()
        assert said["role"] == "assistant"
        assert said["text"].startswith("Hello Grace!")
        assert said["interrupted"] is False
    finally:
        await peer.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    ended = await _event(process, "ended")
    assert ended["reason"] == "server_shutdown"
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
