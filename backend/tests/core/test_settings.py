"""Settings: the production secret guard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from src.core.settings import PLACEHOLDER_JWT_SECRET, Settings

pytestmark = pytest.mark.once
BACKEND_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("secret", ["", PLACEHOLDER_JWT_SECRET, "changeme", "short-secret"])
def test_production_refuses_a_missing_or_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None, environment="production", jwt_secret=secret)  # type: ignore[call-arg]


def test_production_accepts_a_real_secret_and_development_the_placeholder() -> None:
    real = Settings(_env_file=None, environment="production", jwt_secret="r" * 48)  # type: ignore[call-arg]
    assert real.environment == "production"
    assert Settings(_env_file=None).jwt_secret == PLACEHOLDER_JWT_SECRET  # type: ignore[call-arg]


def test_the_app_refuses_to_start_in_production_with_the_placeholder(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "JWT_SECRET": PLACEHOLDER_JWT_SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from src.main import create_app; create_app()"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "JWT_SECRET is missing or is the development placeholder" in result.stderr
    assert PLACEHOLDER_JWT_SECRET not in result.stderr.replace("JWT_SECRET", "")


@pytest.mark.parametrize(
    ("choice", "variable"),
    [
        ({"stt_provider": "deepgram"}, "DEEPGRAM_API_KEY"),
        ({"tts_provider": "cartesia"}, "CARTESIA_API_KEY"),
        ({"tts_provider": "elevenlabs"}, "ELEVENLABS_API_KEY"),
        ({"llm_base_url": "http://127.0.0.1:11434/v1"}, "LLM_MODEL"),
        ({"room_provider": "daily"}, "DAILY_API_KEY"),
    ],
)
def test_a_chosen_cloud_service_without_its_key_is_refused(
    choice: dict[str, str], variable: str
) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings(_env_file=None, **choice)  # type: ignore[arg-type]


def test_cloud_services_with_their_keys_are_accepted() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        stt_provider="deepgram",
        deepgram_api_key="k",
        tts_provider="cartesia",
        cartesia_api_key="k",
        llm_base_url="http://127.0.0.1:11434/v1",
        llm_model="llama3",
    )
    assert settings.llm_enabled


def test_the_daily_join_timeout_must_fit_in_the_bot_s_ready_timeout() -> None:
    daily = {"room_provider": "daily", "daily_api_key": "k", "daily_join_timeout_seconds": 10}
    with pytest.raises(ValidationError, match="DAILY_JOIN_TIMEOUT_SECONDS must be below"):
        Settings(_env_file=None, **daily)  # type: ignore[arg-type]
    assert Settings(_env_file=None, **daily, bot_ready_timeout_seconds=15)  # type: ignore[arg-type]
    # Local rooms join nothing: a short ready timeout is theirs to choose.
    assert Settings(_env_file=None, bot_ready_timeout_seconds=0.3)  # type: ignore[call-arg]
