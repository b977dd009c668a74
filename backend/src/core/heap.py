"""A process's long-lived objects kept out of the cyclic garbage collector's full collections.

A full (generation 2) collection traverses every tracked object alive: in a worker with its
models, pipecat, aiortc and the app loaded, that is most of the heap, and the event loop stops
while it runs. Measured on 2026-12-08 (a worker alone on one core, a warm-up and three steps
of 28 calls asking): nine full collections of 144 ms (p50) and up to 232 ms (1.25 s in all),
each a pause of every call's audio and answers on that core. Once the process has loaded what
it keeps for its life (177,000 objects in a worker), `freeze_startup_objects` moves them to the
permanent generation (`gc.freeze`): later full collections traverse only what was made since,
the calls' own objects (3 to 4 thousand a call): ten of 87 ms (p50) and up to 140 ms (0.77 s in
all) in the same run. They come a little more often: the collector makes a full pass once the
objects that survived since the last one are a quarter of those it tracks, fewer now.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect once, then keep every object alive now out of later collections; how many.
    Once per process: a later call (the tests start an app after another in one process)
    freezes nothing more, so that what a test leaves behind can still be collected."""
    if gc.get_freeze_count():
        return 0
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("startup objects frozen out of the garbage collector's passes: %d", frozen)
    return frozen
