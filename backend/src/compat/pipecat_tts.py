"""Audio frames from a TTS service's PCM, as pipecat's own services make them.

`TTSService._stream_audio_frames_from_iterator` cuts the audio into frames, resampled to the
pipeline's rate by the service's resampler, with the turn's context id: pipecat offers it only
to its own services.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from pipecat.frames.frames import Frame
from pipecat.services.tts_service import TTSService

from src.compat import Private

PRIVATE_NAMES = (Private(TTSService, "_stream_audio_frames_from_iterator"),)


def audio_frames(
    tts: TTSService, audio: AsyncIterator[bytes], *, sample_rate: int, context_id: str
) -> AsyncGenerator[Frame, None]:
    """`tts`'s audio frames for 16-bit mono PCM at `sample_rate`."""
    return tts._stream_audio_frames_from_iterator(
        audio, in_sample_rate=sample_rate, context_id=context_id
    )
