"""A fake of daily-python's `CallClient`, the one part of pipecat's Daily transport that needs
Daily's servers. Everything above it (pipecat's `DailyTransportClient` and `DailyTransport`,
their event handlers, daily-python's audio sources) is the real code.

It honours daily-python's documented contract (https://reference-python.daily.co/): `join`
completes with `(data, None)` or `(None, error)`, `leave` with `(None)`; every other call with a
`completion` completes with `None`; both come from daily-python's own thread, and so do the
events it sends to the `EventHandler` (`on_call_state_updated`, `on_participant_joined`,
`on_participant_left`). What a join does is scripted: `FakeCallClient.script("error: ...")`.

It is as strict as daily-python: a method `daily.CallClient` does not have raises
AttributeError, and arguments its method does not take raise TypeError (each call is bound to
the installed daily-python's own signature).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import daily

JOIN_OK, JOIN_HANG = "ok", "hang"
# "error: <message>": the join completes with that error (as daily-python reports a bad token).
JOIN_ERROR = "error: "


F = TypeVar("F", bound=Callable[..., Any])


def _daily_signature(name: str) -> inspect.Signature:
    """The installed daily-python's signature of `CallClient.<name>` (AttributeError if none)."""
    if name.startswith("_") or not hasattr(daily.CallClient, name):
        raise AttributeError(f"'daily.CallClient' object has no attribute '{name}'")
    return inspect.signature(getattr(daily.CallClient, name))


def _as_daily(method: F) -> F:
    """Refuse the arguments daily-python's method of the same name does not take."""
    signature = _daily_signature(method.__name__)

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        signature.bind(self, *args, **kwargs)
        return method(self, *args, **kwargs)

    return checked  # type: ignore[return-value]


class FakeCallClient:
    """Stands in for `daily.CallClient`; records what pipecat asked of it."""

    instances: ClassVar[list[FakeCallClient]] = []
    _script: ClassVar[deque[str]] = deque()

    def __init__(self, event_handler: Any = None) -> None:  # daily's (event_handler=None)
        self.event_handler = event_handler
        self.calls: list[str] = []
        self.joined_url: str | None = None
        self.joined_token: str | None = None
        self.left = 0
        self.released = 0
        self.in_call = False
        # The audio renderers pipecat registered, by participant: how it hears them.
        self.renderers: dict[str, Callable[..., None]] = {}
        FakeCallClient.instances.append(self)

    @classmethod
    def script(cls, *outcomes: str) -> None:
        """What the next joins do, in order (`ok` once the script is used up)."""
        cls._script.extend(outcomes)

    @classmethod
    def reset(cls) -> None:
        """Forget every client and the script."""
        cls.instances.clear()
        cls._script.clear()

    @_as_daily
    def join(
        self,
        meeting_url: str,
        meeting_token: str | None = None,
        client_settings: Any = None,
        completion: Callable[..., None] | None = None,
    ) -> None:
        self.calls.append("join")
        self.joined_url, self.joined_token = meeting_url, meeting_token
        outcome = FakeCallClient._script.popleft() if FakeCallClient._script else JOIN_OK
        if outcome == JOIN_HANG:
            return
        if outcome.startswith(JOIN_ERROR):
            _from_daily_thread(completion, None, outcome.removeprefix(JOIN_ERROR))
            return
        self.in_call = True
        data = {
            "participants": {"local": {"id": f"bot-{uuid.uuid4().hex[:8]}", "info": {}}},
            "meetingSession": {"id": uuid.uuid4().hex},
        }
        _from_daily_thread(self._joined, completion, data)

    def _joined(self, completion: Callable[..., None] | None, data: dict[str, Any]) -> None:
        self.event_handler.on_call_state_updated("joined")
        if completion is not None:
            completion(data, None)

    @_as_daily
    def leave(self, completion: Callable[..., None] | None = None) -> None:
        self.calls.append("leave")
        self.left += 1
        self.in_call = False
        _from_daily_thread(completion, None)

    @_as_daily
    def release(self) -> None:
        self.calls.append("release")
        self.released += 1

    @_as_daily
    def set_audio_renderer(
        self,
        participant_id: str,
        callback: Callable[..., None],
        audio_source: str = "microphone",
        sample_rate: int = 16000,
        callback_interval_ms: int = 20,
    ) -> None:
        self.calls.append("set_audio_renderer")
        self.renderers[participant_id] = callback

    async def speak(self, pcm16k: bytes, participant_id: str = "user-1") -> None:
        """The participant's microphone: 16 kHz mono int16, in 20 ms chunks at real-time pace,
        to the renderer pipecat registered (as daily-python calls it, from its thread)."""
        render = self.renderers[participant_id]
        chunk = 640  # 20 ms of 16 kHz int16

        def play() -> None:
            started = time.monotonic()
            for n, at in enumerate(range(0, len(pcm16k), chunk)):
                render(participant_id, _AudioData(pcm16k[at : at + chunk]), "microphone")
                time.sleep(max(0.0, started + (n + 1) * 0.02 - time.monotonic()))

        await asyncio.to_thread(play)

    @_as_daily
    def participants(self) -> dict[str, Any]:
        return {"local": {"id": "bot"}}

    @_as_daily
    def participant_counts(self) -> dict[str, Any]:
        return {"present": 1, "hidden": 0}

    def __getattr__(self, name: str) -> Callable[..., None]:
        # The many setters pipecat calls (subscriptions, publishing, renderers, app messages):
        # recorded, and completed with no error as daily-python does; only those it has, with
        # the arguments it takes.
        signature = _daily_signature(name)

        def call(*args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            self.calls.append(name)
            _from_daily_thread(bound.arguments.get("completion"), None)

        return call

    async def participant_joined(self, participant_id: str = "user-1") -> None:
        """The user joins the room (daily-python's `on_participant_joined`)."""
        participant = {"id": participant_id, "info": {"userName": "Ada", "isLocal": False}}
        await asyncio.to_thread(self.event_handler.on_participant_joined, participant)

    async def participant_left(self, participant_id: str = "user-1") -> None:
        """The user leaves (daily-python's `on_participant_left`, reason `leftCall`)."""
        participant = {"id": participant_id, "info": {"userName": "Ada", "isLocal": False}}
        await asyncio.to_thread(self.event_handler.on_participant_left, participant, "leftCall")


@dataclass(frozen=True)
class _AudioData:
    """What daily-python hands an audio renderer (`daily.AudioData`'s fields pipecat reads)."""

    audio_frames: bytes
    sample_rate: int = 16000
    num_channels: int = 1


def _from_daily_thread(callback: Callable[..., None] | None, *args: Any) -> None:
    if callback is not None:
        threading.Thread(target=callback, args=args, daemon=True).start()


def install() -> Any:
    """From now on pipecat's Daily transport builds `FakeCallClient`s; the real class."""
    from pipecat.transports.daily import transport

    FakeCallClient.reset()
    real = transport.CallClient
    transport.CallClient = FakeCallClient  # type: ignore[misc, assignment]
    return real


@contextmanager
def installed() -> Iterator[type[FakeCallClient]]:
    """pipecat's Daily transport builds `FakeCallClient`s while the block runs."""
    from pipecat.transports.daily import transport

    real = install()
    try:
        yield FakeCallClient
    finally:
        transport.CallClient = real  # type: ignore[misc]
        FakeCallClient.reset()
