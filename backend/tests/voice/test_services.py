"""The speech-to-text service is chosen by STT_PROVIDER: Moonshine by default."""

from __future__ import annotations

import pytest

from src.core.settings import Settings
from src.voice_pipeline import local_stt, moonshine, services, speech

pytestmark = pytest.mark.once


class TestMakeStt:
    def test_moonshine_by_default(self, models: speech.SpeechModels) -> None:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.stt_provider == "moonshine"
        assert isinstance(services.make_stt(settings), moonshine.MoonshineSTTService)

    def test_whisper_stays_selectable(self, models: speech.SpeechModels) -> None:
        settings = Settings(_env_file=None, stt_provider="whisper")  # type: ignore[call-arg]
        stt = services.make_stt(settings)
        assert isinstance(stt, local_stt.SharedWhisperSTTService)
        assert not isinstance(stt, moonshine.MoonshineSTTService)
