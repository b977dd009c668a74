"""Synthesised sentences on disk: shared by the processes of one machine, kept across restarts.

The process's cache (`synthesis_cache.py`) starts empty in every new process, so a new worker's
first calls waited for Piper to say each reading for the first time (every user of a step asking
the same numbers waited for the same syntheses): a new pinned worker's first step of 16 calls
answered in p50 1.4 to 2.9 s, the next in 0.65 to 1.1 s (bench/README.md, "Sentences kept on
disk"). Kept here, a sentence is synthesised once per machine: a second worker, a restarted one
or the next deploy's reads it instead.

One file per sentence, named by a digest of everything the audio depends on (the voice, its
synthesis settings, the text), written whole and renamed into place, so a reader never sees half
a file; a file whose header does not match is ignored and removed. Bounded by TTS_STORE_MB: when
a write takes the directory over it, the least recently used files go (a read touches its file).
Every method blocks on the disk: call it off the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

# A file: this magic, the audio's length (8 bytes, big-endian), the audio.
MAGIC = b"NSS1"
_HEADER = struct.Struct(">4sQ")
SUFFIX = ".pcm"
# After a trim the directory holds at most this share of its bound: not a trim on every write.
TRIM_TO = 0.9
# A half-written file this old is a write whose process died.
STALE_PART_SECONDS = 60.0
# Every this many writes the directory is counted again: the machine's other processes write
# to it too, and each counts only its own writes between two counts.
RECOUNT_EVERY = 32


def sentence_name(*parts: object) -> str:
    """A file name for the audio that `parts` (the voice, its settings, the text) make."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest + SUFFIX


class SentenceStore:
    """Sentences' audio in one directory, at most `max_bytes` of it.

    Args:
        directory: Where the files are (made on the first write).
        max_bytes: The most audio kept on disk, headers included.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # What the directory holds, as far as this process knows (None: not counted yet).
        # Another process's writes are counted at this process's next count.
        self._bytes: int | None = None
        self._writes = 0

    def load(self, name: str) -> bytes | None:
        """The audio stored under `name`, or None (none, or a damaged file, then removed)."""
        path = self.directory / name
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) < _HEADER.size or _HEADER.unpack_from(data) != (
            MAGIC,
            len(data) - _HEADER.size,
        ):
            self._damaged(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: the last to go
        return data[_HEADER.size :]

    def save(self, name: str, audio: bytes) -> None:
        """Store `audio` under `name` (never raises: a full or read-only disk only logs)."""
        if _HEADER.size + len(audio) > self.max_bytes:
            return
        path = self.directory / name
        part = path.with_name(f".{name}.{uuid.uuid4().hex[:8]}.part")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            part.write_bytes(_HEADER.pack(MAGIC, len(audio)) + audio)
            os.replace(part, path)
        except OSError as exc:
            logger.warning("synthesis store: could not keep a sentence in %s: %s", path, exc)
            with contextlib.suppress(OSError):
                part.unlink()
            return
        with self._lock:
            self._writes += 1
            if self._bytes is not None:
                self._bytes += _HEADER.size + len(audio)
            if (
                self._bytes is None
                or self._bytes > self.max_bytes
                or not self._writes % RECOUNT_EVERY
            ):
                self._trim()

    def _trim(self) -> None:
        files: list[tuple[float, int, Path]] = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in entries:
            if entry.name.endswith(".part"):
                # A write that never finished (its process died): gone after a while.
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat().st_mtime > STALE_PART_SECONDS:
                        os.unlink(entry.path)
                continue
            if not entry.name.endswith(SUFFIX):
                continue
            with contextlib.suppress(OSError):
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        total = sum(size for _at, size, _path in files)
        if total > self.max_bytes:
            for _at, size, path in sorted(files):
                if total <= self.max_bytes * TRIM_TO:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size
        self._bytes = total

    def _damaged(self, path: Path) -> None:
        logger.warning("synthesis store: %s is damaged; removed", path.name)
        with contextlib.suppress(OSError):
            path.unlink()
