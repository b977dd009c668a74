"""The greeting, synthesised before the user connects, heard through real WebRTC on loopback.

The bot prepares its greeting as soon as it is built and, in a local room, speaks it the
moment the user's media connects: the user must hear it from its first word, with their name.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from src.numerology import life_path_number
from src.voice_pipeline import piper_tts, speech
from src.voice_pipeline.clauses import sentences
from src.voice_pipeline.dialogue import Numerologist, normalise
from tests.api.conversation_helpers import eventually
from tests.conftest import register
from tests.kit.speech import greeting_and_answer
from tests.voice.conftest import numbers_in, transcribe
from tests.voice.peer import Peer, rms

pytestmark = pytest.mark.once


async def test_the_prepared_greeting_is_heard_from_its_first_word(
    client: httpx.AsyncClient, models: speech.SpeechModels, no_leaked_tasks: None
) -> None:
    # The shared sentences are kept per process: earlier tests' bots may have said them.
    piper_tts.cache.clear()
    birth = date(1988, 2, 14)
    user = await register(client, full_name="Grace Hopper", birth_date=birth)
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    body = (await client.post("/api/v1/conversations/start", headers=auth)).json()
    peer = Peer()
    greeting, answer = await greeting_and_answer(peer, client, body, models)
    assert rms(greeting) > 500
    heard = normalise(await transcribe(models, greeting))
    assert heard.startswith("hello grace"), heard
    assert life_path_number(birth).value in numbers_in(await transcribe(models, answer))
    # It went through the prepared path: the sentences every bot says alike are kept for the
    # next bots (this bot put them there: the cache was empty), the one with the name is not.
    said = Numerologist("Grace Hopper", "Grace", birth).greeting()
    assert [piper_tts.cached(models.piper_voice, s) for s in sentences(said)] == [False, True, True]
    # The page's first line is the greeting, stored as the assistant's, before the question.
    lines = [(m["role"], m["text"]) for m in peer.messages if m.get("type") == "transcript"]
    assert lines[0] == ("bot", said)

    async def stored() -> None:
        page = await client.get(
            f"/api/v1/conversations/{body['conversation_id']}/messages", headers=auth
        )
        items = [(m["role"], m["text"]) for m in page.json()["items"]]
        assert items[0] == ("assistant", said)
        assert items[1][0] == "user"
        assert "life path" in normalise(items[1][1])

    await eventually(stored, within=15)
