"""Bounded inference: one gate per shared model per process, sized to the cores, not per bot.

Every bot shares the process's models (`speech.py`, `moonshine.py`), so twenty bots greeting at
once used to mean twenty Piper runs at once on two cores: slower for each, and each concurrent
run grew ONNX Runtime's memory arena to hold its own intermediate tensors (3 GB at 20 calls,
never given back). Through a gate, a model runs at most `limit` times at once and the others
wait their turn, so peak memory is `limit` runs' worth whatever the number of bots.

The sessions themselves are made with `session_options`: one thread per run (the gate gives
the parallelism) and no memory arena, so a run's tensors go back to the allocator when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
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


class InferenceGate:
    """At most `limit` runs of one model at the same time in this process.

    `run` runs a call on the gate's own threads; `slot` bounds a call made on another thread
    (pipecat runs smart-turn on a thread per bot). `active` and `peak` count the runs inside,
    so a test can see the bound hold.

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

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on one of the gate's threads, holding a slot (cancelled while it waits
        for a thread: it never runs)."""

        # Set once the caller is cancelled: a thread that takes the run after that skips it
        # (the executor's own cancel reaches its queue a loop turn later, by when a freed
        # thread may already have taken it).
        skip = threading.Event()

        def gated() -> T:
            if skip.is_set():
                raise asyncio.CancelledError
            with self.slot():
                return fn(*args)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, gated)
        except asyncio.CancelledError:
            skip.set()
            raise

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
