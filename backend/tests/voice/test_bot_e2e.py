"""The real bot over real WebRTC on loopback: greeting, a full turn, concurrency, cleanup.

An aiortc peer plays the user: it registers, starts a conversation, connects to the room with
the returned token, hears the bot, speaks Piper-synthesised questions, and hangs up.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.numerology import life_path_number
from src.voice_pipeline import speech
from src.voice_pipeline.dialogue import normalise
from tests.api.conversation_helpers import (
    eventually,
    no_bots_left,
    row,
    runner,
    services,
)
from tests.api.test_metrics import Samples, delta, scrape
from tests.kit.speech import LIFE_PATH_QUESTION, say
from tests.voice.calls import new_call
from tests.voice.conftest import numbers_in, synthesise, transcribe
from tests.voice.peer import RATE, rms

pytestmark = pytest.mark.once


async def _talk(
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    name: str,
    birth: date,
    delay: float = 0.0,
) -> dict[str, Any]:
    """One user's whole call: start, connect, hear the greeting, ask, hear the answer, leave."""
    await asyncio.sleep(delay)
    began = time.monotonic()
    user, body, peer = await new_call(client, full_name=name, birth_date=birth)
    try:
        # The bot's own account of when it finished (its greeting's takes can come with pauses
        # on a loaded machine), then the audio up to there.
        await peer.bot_finished_speaking(after=0)
        greeting = await peer.utterance(peer.offer_sent_at)
        greeting_delay = peer.first_sound_after(peer.offer_sent_at) - peer.offer_sent_at
        question = synthesise(models, LIFE_PATH_QUESTION)
        spoken = peer.speaking_events()
        asked = await say(peer, question)
        await peer.bot_finished_speaking(after=spoken)
        answer = await peer.utterance(asked)
        answer_delay = peer.first_sound_after(asked) - asked
    finally:
        await peer.close()
    return {
        "seconds": time.monotonic() - began,
        "question_seconds": (len(question) - RATE) / RATE,
        "conversation_id": body["conversation_id"],
        "access_token": user["access_token"],
        "peer": peer,
        "greeting": greeting,
        "greeting_text": await transcribe(models, greeting),
        "answer_text": await transcribe(models, answer),
        "greeting_delay": greeting_delay,
        "answer_delay": answer_delay,
    }


async def _ended(app: FastAPI, conversation_id: str) -> None:
    stored = await row(app, conversation_id)
    assert (stored.status, stored.end_reason) == ("ended", "user_left")
    assert stored.ended_at is not None
    assert stored.duration_seconds is not None


async def test_greeting_a_full_turn_and_cleanup(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    no_leaked_tasks: None,
) -> None:
    birth = date(1990, 7, 15)
    before = await scrape(client)
    call = await _talk(client, models, "Sarah Connor", birth)
    stored = await row(app, call["conversation_id"])
    ready_ms = (stored.bot_ready_at - stored.started_at).total_seconds() * 1000
    # The spec's "bot joins the room within 5 seconds": a local room's bot is in the room once
    # its WebRTC connection with the user is up (user_joined_at), here from the start request
    # (started_at) through the answer and the peer's offer. (Ready is only the pipeline built.)
    joined_ms = (stored.user_joined_at - stored.started_at).total_seconds() * 1000
    print(
        f"\nbot start -> ready {ready_ms:.0f} ms, -> in the room with the user {joined_ms:.0f} ms; "
        f"offer -> first greeting audio {call['greeting_delay'] * 1000:.0f} ms; end of question "
        f"-> answer {call['answer_delay'] * 1000:.0f} ms"
    )
    # In order: started, the bot ready (before the start answered), then in the room with the
    # user. How soon is the bench's to measure (`make bench`: start to bot ready, greeting
    # within 1.5 s of the offer), not a test's on a shared machine.
    assert stored.started_at <= stored.bot_ready_at <= stored.user_joined_at
    _speech_timings_recorded(before, await scrape(client), call)
    greeting = call["greeting"]
    assert rms(greeting) > 500, "the greeting is silence"
    assert len(greeting) >= RATE, "the greeting is shorter than a second"
    assert "sarah" in call["greeting_text"].lower(), call["greeting_text"]
    expected = life_path_number(birth).value
    assert expected in numbers_in(call["answer_text"]), call["answer_text"]
    messages = call["peer"].messages
    lines = [(m["role"], normalise(m["text"])) for m in messages if m.get("type") == "transcript"]
    assert lines[0][0] == "bot"
    assert lines[0][1].startswith("hello sarah i'm your numerologist")
    assert ("user", "what is my life path number") in lines
    assert any(
        r == "bot" and t.startswith(f"Your life path number is {expected}")
        for r, t in [(m["role"], m["text"]) for m in messages]
    )
    # Hanging up ends the conversation, deletes the room and releases the bot.
    await eventually(lambda: _ended(app, call["conversation_id"]), within=15)
    await no_bots_left(app)
    assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]
    # Every line the page was sent is stored, in the same order: greeting, question, answer.
    sent = [
        ("assistant" if m["role"] == "bot" else "user", m["text"])
        for m in messages
        if m.get("type") == "transcript"
    ]
    await eventually(lambda: _transcript_is(client, call, sent), within=5)


def _speech_timings_recorded(before: Samples, after: Samples, call: dict[str, Any]) -> None:
    """The call's greeting, its turn, its recognition and its syntheses are in /metrics."""
    counts = {}
    for name in ("greeting_first_audio", "voice_to_voice", "stt", "tts"):
        histogram = f"numerologist_{name}_seconds"
        counts[name] = delta(before, after, f"{histogram}_count")
        total = delta(before, after, f"{histogram}_sum")
        print(f"{histogram}: count {counts[name]:.0f}, sum {total:.3f} s")
        assert counts[name] > 0, histogram
        # Each is a part of the call: none can be longer than the whole call the peer timed.
        assert 0 < total <= call["seconds"] * counts[name], (histogram, total, call["seconds"])
    # One greeting and one question; the answer is synthesised (the greeting too, unless it was
    # synthesised ahead).
    assert (counts["greeting_first_audio"], counts["voice_to_voice"], counts["stt"]) == (1, 1, 1)
    assert counts["tts"] in (1, 2)
    # The bot's answer cannot come out before the question was recognised; the peer times the
    # same turn from its side (from the end of its words to the answer's arrival), and the bot's
    # end of speech (the VAD's estimate) lies within the question's words, so the bot's turn is
    # at most the peer's plus the words' length.
    turn = delta(before, after, "numerologist_voice_to_voice_seconds_sum")
    assert turn > delta(before, after, "numerologist_stt_seconds_sum")
    assert turn < call["answer_delay"] + call["question_seconds"], (turn, call["answer_delay"])
    # The greeting is timed from the connection, which comes after the peer's offer, to the
    # bot's first audio out, which comes before the peer hears it.
    greeting = delta(before, after, "numerologist_greeting_first_audio_seconds_sum")
    assert greeting < call["greeting_delay"], (greeting, call["greeting_delay"])


async def _transcript_is(
    client: httpx.AsyncClient, call: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    response = await client.get(
        f"/api/v1/conversations/{call['conversation_id']}/messages",
        headers={"Authorization": f"Bearer {call['access_token']}"},
    )
    stored = [(m["role"], m["text"]) for m in response.json()["items"]]
    assert stored == expected


async def test_three_concurrent_conversations_stay_independent(
    app: FastAPI, client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    people = [
        ("Sarah Connor", date(1990, 7, 15)),
        ("David Bowie", date(1984, 7, 5)),
        ("Maria Lopez", date(1987, 5, 6)),
    ]
    assert len({life_path_number(b).value for _, b in people}) == 3
    # They join one after another, then all three calls run at the same time.
    calls = await asyncio.gather(
        *(_talk(client, models, n, b, delay=1.5 * i) for i, (n, b) in enumerate(people))
    )
    for (name, birth), call in zip(people, calls, strict=True):
        first = name.split()[0].lower()
        others = {p.split()[0].lower() for p, _ in people} - {first}
        # Each page is greeted by its own name...
        greeting = next(m["text"] for m in call["peer"].messages if m.get("role") == "bot")
        assert greeting.startswith(f"Hello {name.split()[0]}!")
        # ...and hears a greeting, never another user's. (Under this three-way load on two
        # cores the greeting's first words are sometimes missing from the received audio.)
        assert rms(call["greeting"]) > 500
        assert "life path" in call["greeting_text"].lower(), call["greeting_text"]
        assert not any(o in call["greeting_text"].lower() for o in others)
        heard = [m["text"] for m in call["peer"].messages if m.get("role") == "user"]
        assert life_path_number(birth).value in numbers_in(call["answer_text"]), (
            f"{first}: the bot heard {heard}, answered {call['answer_text']!r}"
        )
        print(
            f"\n{first}: greeting after {call['greeting_delay'] * 1000:.0f} ms, answer after "
            f"{call['answer_delay'] * 1000:.0f} ms"
        )
    for call in calls:
        await eventually(lambda c=call: _ended(app, c["conversation_id"]), within=15)


async def test_ending_from_the_api_stops_a_connected_bot(
    app: FastAPI, client: httpx.AsyncClient, no_leaked_tasks: None
) -> None:
    user, body, peer = await new_call(client)
    try:
        await peer.utterance(peer.offer_sent_at)
        ended = await client.post(
            f"/api/v1/conversations/{body['conversation_id']}/end",
            headers={"Authorization": f"Bearer {user['access_token']}"},
        )
        assert ended.status_code == 200
    finally:
        await peer.close()
    stored = await row(app, body["conversation_id"])
    assert (stored.status, stored.end_reason) == ("ended", "user_ended")
    assert runner(app).active_count == 0
