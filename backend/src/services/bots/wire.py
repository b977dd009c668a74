"""The messages the API and the workers send each other through Redis (see `protocol` for
where): one class per message and one decoder, as livekit-agents' `ipc/proto.py`.

Each message is a JSON object whose ``type`` names its class. A stream entry carries one in its
``message`` field, beside the ``reply`` list that answers it; a reply list carries them as its
elements; a heartbeat key holds one. `decode` refuses anything else with a `WireError`:
unknown types, missing or extra fields, fields of the wrong type, text that is not JSON.

- On ``calls``: `StartCall`; answered `Taken`, then `Ready` or `Failed`.
- On ``control:<worker>``: `StopBot`, `Offer`, `Candidates`; answered `Stopped`, `Answer`,
  `Accepted` or `Refused`.
- At ``alive:<worker>``: `Heartbeat`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from src.contract.bot import BotJob
from src.core.enums import EndReason


class WireError(ValueError):
    """Not a message of this protocol: garbled, of an unknown type or with wrong fields."""


@dataclass(frozen=True)
class Message:
    """A message of the protocol; `type` names its class on the wire."""

    type: ClassVar[str] = ""

    def encode(self) -> str:
        """The message as JSON text."""
        values = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return json.dumps({"type": self.type, **values})


@dataclass(frozen=True)
class StartCall(Message):
    """A call to start: the job of a conversation's bot (API to any worker)."""

    type: ClassVar[str] = "start_call"
    job: BotJob


@dataclass(frozen=True)
class Taken(Message):
    """A worker took the call; `Ready` or `Failed` follows."""

    type: ClassVar[str] = "taken"
    worker_id: str


@dataclass(frozen=True)
class Ready(Message):
    """The call's bot is ready for the user."""

    type: ClassVar[str] = "ready"
    worker_id: str


@dataclass(frozen=True)
class Failed(Message):
    """The call's bot could not start; `error` is the start error's code, if any."""

    type: ClassVar[str] = "failed"
    error: str | None
    detail: str


@dataclass(frozen=True)
class StopBot(Message):
    """Stop a conversation's bot (API to the worker running it)."""

    type: ClassVar[str] = "stop_bot"
    conversation_id: uuid.UUID
    reason: EndReason


@dataclass(frozen=True)
class Offer(Message):
    """A user's WebRTC offer for a local room whose media lives in the worker."""

    type: ClassVar[str] = "offer"
    room: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Candidates(Message):
    """A user's trickled ICE candidates for a local room whose media lives in the worker."""

    type: ClassVar[str] = "candidates"
    room: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Stopped(Message):
    """The answer to `StopBot`: whether a bot was stopped (its end then deleted the room)."""

    type: ClassVar[str] = "stopped"
    stopped: bool


@dataclass(frozen=True)
class Answer(Message):
    """The answer to `Offer`: the SDP answer."""

    type: ClassVar[str] = "answer"
    answer: dict[str, Any]


@dataclass(frozen=True)
class Accepted(Message):
    """The answer to `Candidates`."""

    type: ClassVar[str] = "accepted"


@dataclass(frozen=True)
class Refused(Message):
    """A control request refused: a domain error's code and detail."""

    type: ClassVar[str] = "refused"
    error: str
    detail: str


@dataclass(frozen=True)
class Heartbeat(Message):
    """A worker's heartbeat: who it is and how loaded (it expires with the worker)."""

    type: ClassVar[str] = "heartbeat"
    id: str
    host: str
    pid: int
    bots: int
    capacity: int
    load: float
    draining: bool
    at: float


ControlRequest = StopBot | Offer | Candidates
ControlAnswer = Stopped | Answer | Accepted | Refused

MESSAGES: dict[str, type[Message]] = {
    cls.type: cls
    for cls in (
        StartCall,
        Taken,
        Ready,
        Failed,
        StopBot,
        Offer,
        Candidates,
        Stopped,
        Answer,
        Accepted,
        Refused,
        Heartbeat,
    )
}


def decode(text: str | bytes) -> Message:
    """The message `text` encodes.

    Raises:
        WireError: not a message of this protocol.
    """
    try:
        values = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise WireError("not a JSON object")
    cls = MESSAGES.get(str(values.pop("type", None)))
    if cls is None:
        raise WireError("unknown message type")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    if set(values) != names:
        raise WireError(f"{cls.type}: fields {sorted(values)}, expected {sorted(names)}")
    return cls(**{name: _typed(cls.type, name, hints[name], values[name]) for name in names})


def expect(text: str | bytes, kind: type[Message] | tuple[type[Message], ...]) -> Any:
    """`decode`, refusing messages of another kind than `kind`.

    Raises:
        WireError: not a message of this protocol, or not of that kind.
    """
    message = decode(text)
    if not isinstance(message, kind):
        raise WireError(f"unexpected {message.type}")
    return message


def _plain(value: Any) -> Any:
    if isinstance(value, BotJob):
        return json.loads(value.to_json())
    if isinstance(value, uuid.UUID | EndReason):
        return str(value.value if isinstance(value, EndReason) else value)
    return value


def _typed(kind: str, name: str, hint: Any, value: Any) -> Any:
    """The field's value as its declared type."""
    try:
        if hint is BotJob:
            return BotJob.from_json(json.dumps(value))
        if hint is uuid.UUID:
            return uuid.UUID(value)
        if hint is EndReason:
            return EndReason(value)
    except (TypeError, ValueError, AttributeError) as exc:
        raise WireError(f"{kind}.{name}: {exc}") from exc
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    accepted = tuple(
        typing.get_origin(t) or t for t in (typing.get_args(hint) if union else (hint,))
    )
    # JSON has one number type: an int is a float too (never a bool, which is an int in Python).
    if float in accepted:
        accepted = (*accepted, int)
    if type(None) in accepted and value is None:
        return value
    if isinstance(value, bool) and bool not in accepted:
        raise WireError(f"{kind}.{name}: a boolean where {hint} is expected")
    if not isinstance(value, accepted):
        raise WireError(f"{kind}.{name}: {type(value).__name__} where {hint} is expected")
    return value
