"""The Redis wire messages: each encodes and decodes back to itself; garbage is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from src.contract.bot import BotJob
from src.core.enums import EndReason
from src.services.bots.wire import (
    MESSAGES,
    Accepted,
    Answer,
    Candidates,
    Failed,
    Heartbeat,
    Message,
    Offer,
    Ready,
    Refused,
    StartCall,
    StopBot,
    Stopped,
    Taken,
    WireError,
    decode,
    expect,
)

JOB = BotJob(
    conversation_id=uuid.uuid4(),
    provider="local",
    room_name="conv-1",
    room_url="http://localhost/rooms/conv-1",
    bot_token="bot-token",
    expires_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
    user_full_name="Ada Lovelace",
    user_first_name="Ada",
    birth_date=date(1815, 12, 10),
)

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

EXAMPLES: list[Message] = [
    StartCall(JOB),
    Taken("w-1"),
    Ready("w-1"),
    Failed(error="room_join_failed", detail="the room refused"),
    Failed(error=None, detail="worker draining"),
    StopBot(uuid.uuid4(), EndReason.USER_ENDED),
    Offer("conv-1", {"sdp": "v=0", "type": "offer"}),
    Candidates("conv-1", {"pc_id": "p", "candidates": []}),
    Stopped(True),
    Answer({"sdp": "v=0", "type": "answer", "pc_id": "p"}),
    Accepted(),
    Refused("peer_connection_not_found", "send an offer"),
    Heartbeat("w-1", "host", 42, 1, 3, 0.25, False, 1764849600.5),
]


def test_every_message_has_an_example() -> None:
    assert {type(m) for m in EXAMPLES} == set(MESSAGES.values())


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.type)
def test_a_message_decodes_to_itself(message: Message) -> None:
    assert decode(message.encode()) == message
    assert decode(message.encode().encode()) == message


def test_a_heartbeat_load_may_travel_as_a_whole_number() -> None:
    beat = json.loads(Heartbeat("w", "h", 1, 0, 3, 0.0, False, 1.0).encode())
    beat["load"], beat["at"] = 1, 2
    assert decode(json.dumps(beat)) == Heartbeat("w", "h", 1, 0, 3, 1, False, 2)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"event": "ready", "worker_id": "w"}', "unknown message type"),
        ('{"type": "reboot"}', "unknown message type"),
        ('{"type": "taken"}', "taken: fields [], expected ['worker_id']"),
        ('{"type": "taken", "worker_id": "w", "extra": 1}', "expected ['worker_id']"),
        ('{"type": "taken", "worker_id": 7}', "taken.worker_id: int"),
        ('{"type": "stopped", "stopped": "yes"}', "stopped.stopped: str"),
        (
            '{"type": "heartbeat", "id": "w", "host": "h", "pid": true, "bots": 0, '
            '"capacity": 1, "load": 0, "draining": false, "at": 0}',
            "heartbeat.pid: a boolean",
        ),
        ('{"type": "stop_bot", "conversation_id": "x", "reason": "user_ended"}', "badly formed"),
        (
            f'{{"type": "stop_bot", "conversation_id": "{uuid.UUID(int=7)}", "reason": "bored"}}',
            "stop_bot.reason",
        ),
        ('{"type": "start_call", "job": {"conversation_id": "x"}}', "start_call.job"),
        ('{"type": "offer", "room": "r", "body": "sdp"}', "offer.body: str"),
    ],
)
def test_garbage_is_refused_saying_why(text: str | bytes, says: str) -> None:
    with pytest.raises(WireError, match=says.replace("[", r"\[").replace("]", r"\]")):
        decode(text)


def test_expect_refuses_a_message_of_another_kind() -> None:
    assert expect(Ready("w").encode(), (Ready, Failed)) == Ready("w")
    with pytest.raises(WireError, match="unexpected taken"):
        expect(Taken("w").encode(), Heartbeat)
