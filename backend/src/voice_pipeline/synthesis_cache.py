"""Synthesised sentences kept per process, shared by every bot, bounded in bytes and entries.

The bot's sentences repeat across users: the greeting's after the name, and every reading is
the same text for everyone with the same number. Piper is the largest CPU cost of a talking
user (bench/README.md, "A cheaper talking user"), so each sentence is synthesised once per
process and then served from here, least recently used out first when a bound is reached.

Bots asking for the same sentence at the same moment wait for one synthesis instead of making
their own, due when the first of them needs it; a bot that stops waiting (cancelled: its call
ended, the user barged in) does not cancel what the others wait for, and a synthesis nobody
waits for any more is cancelled (one not yet started in its gate never starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from src.core import metrics
from src.voice_pipeline.inference import Due

# More entries than any bot's repertoire (a few hundred sentences), fewer than would make the
# dictionary itself a cost.
MAX_ENTRIES = 4096


@dataclass
class _Waiters:
    """The callers waiting for one pending synthesis: how many, and the deadline it runs by
    (the first caller's, hastened by each that needs it sooner; None: it was given none)."""

    count: int = 0
    due: Due | None = None


class SynthesisCache:
    """Audio by key (the voice, the text, the synthesis settings), least recently used out first.

    Args:
        max_bytes: The most audio kept, in bytes (0: nothing is kept; concurrent requests for
            one key still share one synthesis).
        max_entries: The most sentences kept.
    """

    def __init__(self, max_bytes: int, max_entries: int = MAX_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        # Each entry keeps what its key names by id (the voice) alive, so no id is reused.
        self._kept: OrderedDict[Hashable, tuple[object, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, asyncio.Future[bytes]] = {}
        self._waiters: dict[asyncio.Future[bytes], _Waiters] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._kept

    def resize(self, max_bytes: int) -> None:
        """Change the byte bound, dropping the oldest entries over it."""
        with self._lock:
            self.max_bytes = max_bytes
            self._trim()

    def clear(self) -> None:
        """Forget every kept sentence (in-flight syntheses go on for their waiters)."""
        with self._lock:
            self._kept.clear()
            self.bytes = 0

    async def get(
        self,
        key: Hashable,
        synthesise: Callable[[], Awaitable[bytes]],
        owner: object = None,
        due: Due | None = None,
    ) -> bytes:
        """The audio for `key`: kept, being synthesised for another caller, or `synthesise()`d.

        Args:
            key: The voice's id, the text and the synthesis settings.
            synthesise: Makes the audio when it is neither kept nor pending.
            owner: Kept alive with the entry (the voice whose id is in `key`).
            due: When this caller needs it, the deadline `synthesise` runs by; a caller that
                joins a pending synthesis hastens that one's to its own, if sooner (None: now).
        """
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        joined = pending is not None and pending.get_loop() is loop and not pending.cancelled()
        self._count(kept is not None or joined)
        if kept is not None:
            return kept[1]
        if pending is None or not joined:
            pending = self._pending[key] = asyncio.ensure_future(synthesise())
            pending.add_done_callback(lambda done: self._remember(key, owner, done))
            waiters = self._waiters[pending] = _Waiters(due=due)
        else:
            # None: its last waiter left as it finished, before it was forgotten (nothing to
            # hasten: it has run).
            waiters = self._waiters.setdefault(pending, _Waiters())
            if waiters.due is not None:
                waiters.due.hasten(None if due is None else due.at)
        waiters.count += 1
        try:
            # Shielded: one caller giving up does not cancel what the others wait for...
            return await asyncio.shield(pending)
        finally:
            waiters.count -= 1
            if not waiters.count:
                del self._waiters[pending]
                # ...but when nobody waits any more, a synthesis not yet started never starts
                # (awaited: its gate knows it is cancelled before this caller goes on).
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        metrics.synthesis_cache("hit" if hit else "miss")

    def _remember(self, key: Hashable, owner: object, done: asyncio.Future[bytes]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if done.cancelled() or done.exception() is not None:
            return
        audio = done.result()
        with self._lock:
            if len(audio) > self.max_bytes:
                return
            old = self._kept.pop(key, None)
            if old is not None:
                self.bytes -= len(old[1])
            self._kept[key] = (owner, audio)
            self.bytes += len(audio)
            self._trim()

    def _trim(self) -> None:
        while self._kept and (self.bytes > self.max_bytes or len(self._kept) > self.max_entries):
            _, (_, audio) = self._kept.popitem(last=False)
            self.bytes -= len(audio)
