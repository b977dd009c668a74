"""Settings: the JWT secret guard, the cloud services' keys, webhooks, proxies."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from src.core.settings import PLACEHOLDER_JWT_SECRET, Settings, secret_weakness
from src.main import create_app

pytestmark = pytest.mark.once
BACKEND_DIR = Path(__file__).resolve().parents[2]


STRONG = "GkEvbN3C4p0yq9Jx_7uT2mWfZr8LhKdA5sQeYo1V6iU"
WEAK = [PLACEHOLDER_JWT_SECRET, "changeme", "short-secret", "a" * 32, "test-secret-" + "x" * 40]
# Each makes the server reachable from other machines.
REACHABLE = [
    {"environment": "production"},
    {"host": "0.0.0.0"},
    {"host": "192.168.1.20"},
    {"public_base_url": "https://numerologist.example.com"},
    {"public_base_url": "https://localhost:8443"},
    {"public_base_url": "http://numerologist.example.com"},
    {"public_base_url": "http://[2001:db8::1]:8000"},
]


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("reachable", REACHABLE)
@pytest.mark.parametrize("secret", ["", *WEAK])
def test_a_missing_or_weak_secret_is_refused_where_others_can_reach_us(
    secret: str, reachable: dict[str, str]
) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET is (not set|a placeholder|shorter|too)"):
        _settings(jwt_secret=secret, **reachable)


@pytest.mark.parametrize("reachable", REACHABLE)
def test_a_random_secret_is_accepted_everywhere(reachable: dict[str, str]) -> None:
    assert _settings(jwt_secret=STRONG, **reachable).jwt_secret == STRONG
    hex_secret = "3f9a0c5be1d27e4896b0a1c3d5e7f902"  # 32 hex digits (128 bits)
    assert _settings(jwt_secret=hex_secret, **reachable).jwt_secret == hex_secret


@pytest.mark.parametrize(
    "loopback",
    [{}, {"host": "localhost"}, {"host": "::1"}, {"public_base_url": "http://127.0.0.1:8000"}],
)
def test_on_loopback_in_development_a_missing_secret_is_made_up_per_start(
    loopback: dict[str, str],
) -> None:
    first, second = _settings(**loopback), _settings(**loopback)
    assert first.jwt_secret_generated
    assert second.jwt_secret_generated
    assert first.jwt_secret != second.jwt_secret
    assert secret_weakness(first.jwt_secret) is None
    # A secret the developer chose stays theirs, even a weak one, while nobody else can reach it.
    chosen = _settings(jwt_secret=PLACEHOLDER_JWT_SECRET, **loopback)
    assert chosen.jwt_secret == PLACEHOLDER_JWT_SECRET
    assert not chosen.jwt_secret_generated


def test_the_app_says_it_made_a_secret_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings()
    with caplog.at_level(logging.INFO):
        create_app(settings)
    said = [r.getMessage() for r in caplog.records if "JWT_SECRET is not set" in r.getMessage()]
    assert len(said) == 1
    assert "random" in said[0]
    assert settings.jwt_secret not in caplog.text


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
    assert "JWT_SECRET is a placeholder: it is refused in production" in result.stderr
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


GOOD_WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with whsec_"),
        ("whsec_not base64 at all!", "must be base64"),
        ("whsec_c2hvcnQ=", "24 to 64 random bytes"),
    ],
)
def test_a_malformed_webhook_secret_is_refused_without_being_shown(
    secret: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        Settings(_env_file=None, webhook_url="https://hooks.example.com/in", webhook_secret=secret)  # type: ignore[call-arg]
    assert secret not in str(raised.value)


@pytest.mark.parametrize(
    "values",
    [{"webhook_url": "https://hooks.example.com/in"}, {"webhook_secret": GOOD_WEBHOOK_SECRET}],
)
def test_a_webhook_url_and_secret_go_together(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_URL and WEBHOOK_SECRET go together") as e:
        Settings(_env_file=None, **values)  # type: ignore[arg-type]
    assert GOOD_WEBHOOK_SECRET not in str(e.value)


def test_webhooks_are_on_with_a_url_and_a_good_secret() -> None:
    assert not Settings(_env_file=None).webhooks_enabled  # type: ignore[call-arg]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url="https://hooks.example.com/in",
        webhook_secret=GOOD_WEBHOOK_SECRET,  # type: ignore[arg-type]
    )
    assert settings.webhooks_enabled
    assert GOOD_WEBHOOK_SECRET not in repr(settings)
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(_env_file=None, webhook_url="ftp://x", webhook_secret=GOOD_WEBHOOK_SECRET)  # type: ignore[call-arg, arg-type]


def test_the_daily_join_timeout_must_fit_in_the_bot_s_ready_timeout() -> None:
    daily = {"room_provider": "daily", "daily_api_key": "k", "daily_join_timeout_seconds": 10}
    with pytest.raises(ValidationError, match="DAILY_JOIN_TIMEOUT_SECONDS must be below"):
        Settings(_env_file=None, **daily)  # type: ignore[arg-type]
    assert Settings(_env_file=None, **daily, bot_ready_timeout_seconds=15)  # type: ignore[arg-type]
    # Local rooms join nothing: a short ready timeout is theirs to choose.
    assert Settings(_env_file=None, bot_ready_timeout_seconds=0.3)  # type: ignore[call-arg]


def test_trusted_proxies_are_none_by_default_and_parsed_as_networks() -> None:
    assert Settings(_env_file=None).trusted_proxies == []  # type: ignore[call-arg]
    listed = Settings(_env_file=None, trusted_proxies=" 10.0.0.0/8 , 192.0.2.10,::1 ")  # type: ignore[call-arg, arg-type]
    assert [str(net) for net in listed.trusted_proxies] == [
        "10.0.0.0/8",
        "192.0.2.10/32",
        "::1/128",
    ]
    as_json = Settings(_env_file=None, trusted_proxies='["2001:db8::/32"]')  # type: ignore[call-arg, arg-type]
    assert [str(net) for net in as_json.trusted_proxies] == ["2001:db8::/32"]
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        Settings(_env_file=None, trusted_proxies="proxy.example.com")  # type: ignore[call-arg, arg-type]
