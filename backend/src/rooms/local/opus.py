"""libopus, called directly: an encoder and a decoder at the rates the bot's pipeline uses.

aiortc's Opus goes through FFmpeg, which always decodes at 48 kHz stereo and encodes at 48 kHz
stereo 96 kbps; libopus itself decodes at 8-48 kHz, mono or stereo, and encodes at any of those
rates. The library is the one PyAV's wheel bundles (aiortc's own codec, already in the process),
or the system's libopus; nothing else is installed for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import weakref
from pathlib import Path

# From opus_defines.h.
_APPLICATION_VOIP = 2048
_SET_BITRATE = 4002
_SET_COMPLEXITY = 4010
_SET_SIGNAL = 4024
_SIGNAL_VOICE = 3001
# The largest Opus frame is 120 ms, and a packet decodes to one frame.
_MAX_FRAME_SECONDS = 0.12
_MAX_PACKET_BYTES = 1500


class OpusError(RuntimeError):
    """libopus is missing or refused a call."""


def _candidates() -> list[Path]:
    spec = importlib.util.find_spec("av")
    paths: list[Path] = []
    if spec is not None and spec.origin is not None:
        package = Path(spec.origin).parent
        # manylinux wheels put the bundled libraries beside the package, macOS ones inside it.
        for folder in (package.parent / "av.libs", package / ".dylibs"):
            paths += sorted(folder.glob("libopus*"))
    system = ctypes.util.find_library("opus")
    if system is not None:
        paths.append(Path(system))
    return paths


@functools.cache
def library() -> ctypes.CDLL:
    """libopus, loaded once (PyAV's bundled copy first).

    Raises:
        OpusError: no libopus was found.
    """
    for path in _candidates():
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        _declare(lib)
        return lib
    raise OpusError("libopus was not found (it comes with PyAV, which aiortc installs)")


def _declare(lib: ctypes.CDLL) -> None:
    ptr, i32, err = ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int)
    lib.opus_encoder_create.argtypes = [i32, ctypes.c_int, ctypes.c_int, err]
    lib.opus_encoder_create.restype = ptr
    lib.opus_encode.argtypes = [ptr, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, i32]
    lib.opus_encode.restype = i32
    lib.opus_encoder_destroy.argtypes = [ptr]
    lib.opus_decoder_create.argtypes = [i32, ctypes.c_int, err]
    lib.opus_decoder_create.restype = ptr
    lib.opus_decode.argtypes = [
        ptr,
        ctypes.c_char_p,
        i32,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decoder_destroy.argtypes = [ptr]
    lib.opus_strerror.argtypes = [ctypes.c_int]
    lib.opus_strerror.restype = ctypes.c_char_p
    # opus_encoder_ctl is variadic: its arguments are passed as C ints, without argtypes.
    lib.opus_encoder_ctl.restype = ctypes.c_int


def _check(code: int, what: str) -> int:
    if code < 0:
        reason = library().opus_strerror(code) or b"unknown error"
        raise OpusError(f"libopus {what}: {reason.decode()}")
    return code


class Encoder:
    """Mono 16-bit PCM at `sample_rate` (8, 12, 16, 24 or 48 kHz) to Opus packets, for speech."""

    def __init__(self, sample_rate: int, *, bitrate: int = 32_000, complexity: int = 5) -> None:
        lib = library()
        error = ctypes.c_int(0)
        handle = lib.opus_encoder_create(sample_rate, 1, _APPLICATION_VOIP, ctypes.byref(error))
        _check(error.value, "encoder")
        self._handle = handle
        self._finalizer = weakref.finalize(self, lib.opus_encoder_destroy, handle)
        for request, value in (
            (_SET_BITRATE, bitrate),
            (_SET_COMPLEXITY, complexity),
            (_SET_SIGNAL, _SIGNAL_VOICE),
        ):
            _check(lib.opus_encoder_ctl(ctypes.c_void_p(handle), request, value), "setting")
        self._out = ctypes.create_string_buffer(_MAX_PACKET_BYTES)

    def encode(self, pcm: bytes) -> bytes:
        """One Opus packet for one frame (2.5 to 60 ms of samples)."""
        size = _check(
            library().opus_encode(self._handle, pcm, len(pcm) // 2, self._out, _MAX_PACKET_BYTES),
            "encode",
        )
        return self._out.raw[:size]


class Decoder:
    """Opus packets (any rate, mono or stereo) to 16-bit PCM at `sample_rate`, `channels`."""

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        lib = library()
        error = ctypes.c_int(0)
        handle = lib.opus_decoder_create(sample_rate, channels, ctypes.byref(error))
        _check(error.value, "decoder")
        self._handle = handle
        self._finalizer = weakref.finalize(self, lib.opus_decoder_destroy, handle)
        self._max_samples = int(sample_rate * _MAX_FRAME_SECONDS)
        self._channels = channels
        self._out = ctypes.create_string_buffer(self._max_samples * channels * 2)

    def decode(self, packet: bytes) -> bytes:
        """The PCM of one packet (interleaved when stereo)."""
        lib = library()
        samples = _check(
            lib.opus_decode(self._handle, packet, len(packet), self._out, self._max_samples, 0),
            "decode",
        )
        return self._out.raw[: samples * self._channels * 2]
