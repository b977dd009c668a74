"""Bounded inference: one gate per shared model per process, sized to the cores, not per bot.

Every bot shares the process's models (`speech.py`, `moonshine.py`), so twenty bots greeting at
once used to mean twenty Piper runs at once on two cores: slower for each, and each concurrent
run grew ONNX Runtime's memory arena to hold its own intermediate tensors (3 GB at 20 calls,
never given back). Through a gate, a model runs at most `limit` times at once and the others
wait their turn, so peak memory is `limit` runs' worth whatever the number of bots.

Waiting runs are taken earliest deadline first (a run's deadline: when its result is needed;
by default the moment it is asked for, so first come, first served). Piper's runs are given
the moment their audio will be played: a bot's next sentence, due when the audio it has
queued runs out, waits behind another bot's first sentence, due now (`piper_tts.py`). A
waiting run's deadline can move earlier (`Due.hasten`): a sentence one bot needs later and
another bot now is synthesised by the sooner.

The sessions themselves are made with `session_options`: one thread per run (the gate gives
the parallelism) and no memory arena, so a run's tensors go back to the allocator when it ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def cores() -> int:
    """The cores this process may run on (the CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Due:
    """When a run's result is needed (`time.monotonic()`; None: now). It only moves earlier,
    while the run waits (`hasten`); the gate reads it each time it takes a waiting run."""

    def __init__(self, at: float | None = None) -> None:
        self.at = time.monotonic() if at is None else at

    def hasten(self, at: float | None = None) -> None:
        """Needed by `at` (None: now), if that is sooner."""
        self.at = min(self.at, time.monotonic() if at is None else at)


class InferenceGate:
    """At most `limit` runs of one model at the same time in this process.

    `run` runs a call on the gate's own threads, the waiting run with the earliest deadline
    first; `slot` bounds a call made on another thread (pipecat runs smart-turn on a thread per
    bot). `active` and `peak` count the runs inside, so a test can see the bound hold.

    Args:
        name: The model's name (for logs and tests).
        limit: How many runs may be inside at once.
    """

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.active = 0
        self.peak = 0
        self._slots = threading.BoundedSemaphore(limit)
        self._count = threading.Lock()
        # The model's own threads: its runs never queue behind the default executor's jobs
        # (aiortc encodes every outgoing audio frame there).
        self._executor = ThreadPoolExecutor(limit, thread_name_prefix=f"inference-{name}")
        # The runs waiting for a thread: (deadline, order asked, result, fn, args). Each run
        # hands the executor one `_run_next`, which takes whichever waiting run is due first
        # (a scan, not a heap: a deadline may move while it waits; a few dozen wait at most).
        self._waiting: list[tuple[Due, int, concurrent.futures.Future[Any], Any, Any]] = []
        self._waiting_lock = threading.Lock()
        self._order = itertools.count()

    async def run(self, fn: Callable[..., T], *args: Any, deadline: float | Due | None = None) -> T:
        """`fn(*args)` on one of the gate's threads, holding a slot (cancelled while it waits
        for a thread: it never runs).

        Args:
            deadline: When the result is needed (`time.monotonic()`, or a `Due` that may be
                hastened while the run waits); waiting runs are taken earliest deadline first,
                those with the same deadline in the order asked. None: now.
        """
        result: concurrent.futures.Future[T] = concurrent.futures.Future()
        due = deadline if isinstance(deadline, Due) else Due(deadline)
        with self._waiting_lock:
            self._waiting.append((due, next(self._order), result, fn, args))
        self._executor.submit(self._run_next)
        try:
            return await asyncio.wrap_future(result)
        except asyncio.CancelledError:
            # At once: a thread that takes the run after this skips it (the wrapped future's
            # own cancel reaches it a loop turn later, by when a freed thread may have taken it).
            result.cancel()
            raise

    def _run_next(self) -> None:
        """On a gate's thread: the waiting run due first, unless it was cancelled."""
        with self._waiting_lock:
            first = min(
                range(len(self._waiting)),
                key=lambda i: (self._waiting[i][0].at, self._waiting[i][1]),
            )
            _due, _order, result, fn, args = self._waiting.pop(first)
        if not result.set_running_or_notify_cancel():
            return
        try:
            with self.slot():
                value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, as an executor does
            result.set_exception(exc)
        else:
            result.set_result(value)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the gate's slots for the duration of a run, waiting for one if needed."""
        with self._slots:
            with self._count:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                yield
            finally:
                with self._count:
                    self.active -= 1


_gates: dict[str, InferenceGate] = {}
_gates_lock = threading.Lock()


def gate(name: str) -> InferenceGate:
    """The process's gate for one model, made on first use with one slot per core."""
    with _gates_lock:
        if name not in _gates:
            _gates[name] = InferenceGate(name, cores())
        return _gates[name]


def session_options() -> Any:
    """ONNX Runtime options for a shared session: one thread per run, no memory arena.

    Without the arena, ONNX Runtime allocates each run's tensors and frees them after it; with
    it (the default), the arena keeps the largest total ever used at once, forever.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = False
    return options
