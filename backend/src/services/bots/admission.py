"""Admission: whether this process may take another bot (its capacity, its measured load).

Both modes use it: the API in the embedded mode reserves a slot for each start, a worker
reserves one for each call it takes. A slot is held from its reservation until its bot has
ended (or the start gave up), so reserved and running bots count alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from src.contract.bot import BotCapacityReached
from src.services.bots.load import LoadMonitor


class Slot(Protocol):
    """Capacity held for one bot, from its start until it has ended."""

    def release(self) -> None:
        """Give it back (idempotent)."""

    async def release_async(self) -> None:
        """`release`, as an undo step."""


class Reservation:
    """A slot of an `Admission`; released once whatever happens to it."""

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self._admission is not None:
            self._admission._held -= 1
            self._admission._changed()
            self._admission = None

    async def release_async(self) -> None:
        """`release`, as an undo step."""
        self.release()


class Admission:
    """Counts the slots held here against the capacity, and watches the load.

    Args:
        capacity: How many bots may run here at once.
        load: The machine's measured load (none: not considered).
        load_threshold: The load (0 to 1) at or above which no new work is taken (1 or more:
            the load is not considered).
    """

    def __init__(
        self, capacity: int, *, load: LoadMonitor | None = None, load_threshold: float = 1.0
    ) -> None:
        self.capacity = capacity
        self.load = load
        self._load_threshold = load_threshold
        self._held = 0
        self._closed = False
        self._watchers: list[Callable[[], None]] = []

    def watch(self, changed: Callable[[], None]) -> None:
        """Call `changed` each time a slot is reserved or released (a worker's heartbeat tells
        the others its count at once)."""
        self._watchers.append(changed)

    def _changed(self) -> None:
        for changed in self._watchers:
            changed()

    @property
    def load_threshold(self) -> float:
        """The load at or above which no new work is taken (1 or more: not considered)."""
        return self._load_threshold

    @property
    def held(self) -> int:
        """Slots held now (bots starting or running)."""
        return self._held

    @property
    def below_capacity(self) -> bool:
        """Whether a slot may be reserved now (not closed, a slot free)."""
        return not self._closed and self._held < self.capacity

    @property
    def has_room(self) -> bool:
        """Whether to take new work now: a slot free and the load below its threshold."""
        return self.below_capacity and not self._overloaded()

    def _overloaded(self) -> bool:
        if self.load is None or self._load_threshold >= 1:
            return False
        return self.load.value >= self._load_threshold

    def reserve(self) -> Reservation:
        """Hold a slot. Work already taken is refused only for the capacity or a close, never
        for the load: the load decides what to take, not what was taken.

        Raises:
            BotCapacityReached: every slot is held, or the process is closing.
        """
        if not self.below_capacity:
            raise BotCapacityReached()
        self._held += 1
        self._changed()
        return Reservation(self)

    def close(self) -> None:
        """Reserve no more slots (a drain or shutdown began)."""
        self._closed = True
