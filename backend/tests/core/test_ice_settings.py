"""Settings: ICE_SERVERS, TURN_URLS and TURN_SECRET, and the production warnings."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from src.core.settings import Settings
from src.main import create_app

pytestmark = pytest.mark.once
STRONG = "GkEvbN3C4p0yq9Jx_7uT2mWfZr8LhKdA5sQeYo1V6iU"
POSTGRES = "postgresql+asyncpg://app:pw@db.internal:5432/numerologist"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class TestIceServers:
    def test_read_from_the_environment_as_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "ICE_SERVERS",
            '[{"urls": "stun:stun.example.com:3478"}, {"urls": ["turn:t.example.com?transport=tcp"'
            ', "turns:t.example.com:443"], "username": "u", "credential": "c"}]',
        )
        stun, turn = _settings().ice_servers
        assert stun.urls == ["stun:stun.example.com:3478"]
        assert (stun.username, stun.credential) == (None, None)
        assert turn.urls == ["turn:t.example.com?transport=tcp", "turns:t.example.com:443"]
        assert (turn.username, turn.credential) == ("u", "c")

    def test_none_by_default(self) -> None:
        assert _settings().ice_servers == []

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("stun:stun.example.com", "ICE_SERVERS is not JSON"),
            ('[{"urls": "http://stun.example.com"}]', "is not an ICE server URL"),
            ('[{"urls": "stun:stun.example.com?transport=udp"}]', "takes no transport"),
            ('[{"urls": "turn:t.example.com"}]', "needs a username and a credential"),
            ('[{"urls": []}]', "at least 1 item"),
            ('[{"url": "stun:stun.example.com"}]', "urls"),
        ],
    )
    def test_refused_when_malformed(
        self, monkeypatch: pytest.MonkeyPatch, value: str, message: str
    ) -> None:
        monkeypatch.setenv("ICE_SERVERS", value)
        with pytest.raises(ValidationError, match=message):
            _settings()


class TestTurn:
    def test_urls_comma_separated_or_json(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TURN_SECRET", "secret")
        monkeypatch.setenv("TURN_URLS", "turn:t.example.com:3478, turns:t.example.com:5349")
        assert _settings().turn_urls == ["turn:t.example.com:3478", "turns:t.example.com:5349"]
        monkeypatch.setenv("TURN_URLS", '["turn:t.example.com?transport=udp"]')
        assert _settings().turn_urls == ["turn:t.example.com?transport=udp"]

    def test_only_turn_urls(self) -> None:
        with pytest.raises(ValidationError, match="is not an ICE server URL"):
            _settings(turn_secret="secret", turn_urls=["stun:stun.example.com"])

    @pytest.mark.parametrize(
        "values", [{"turn_secret": "secret"}, {"turn_urls": ["turn:t.example.com"]}]
    )
    def test_secret_and_urls_go_together(self, values: dict[str, Any]) -> None:
        with pytest.raises(ValidationError, match="TURN_SECRET and TURN_URLS go together"):
            _settings(**values)

    def test_production_refuses_a_weak_secret(self) -> None:
        production = {"environment": "production", "jwt_secret": STRONG, "database_url": POSTGRES}
        turn = {"turn_urls": ["turn:t.example.com"]}
        with pytest.raises(ValidationError, match="TURN_SECRET is too weak"):
            _settings(**production, **turn, turn_secret="changeme")
        assert _settings(**production, **turn, turn_secret="t" * 40).turn_secret == "t" * 40
        # Development takes any secret (a test coturn's, for instance).
        assert _settings(**turn, turn_secret="x").turn_secret == "x"


class TestProductionWarnings:
    def test_sqlite_and_plain_http_are_warned_about(self) -> None:
        warnings = _settings(environment="production", jwt_secret=STRONG).production_warnings()
        assert len(warnings) == 3
        assert "SQLite" in warnings[0]
        assert "PostgreSQL" in warnings[0]
        assert "METRICS_TOKEN is not set: /metrics answers 404" in warnings[1]
        assert "not https" in warnings[2]
        assert "microphone" in warnings[2]

    def test_postgresql_behind_https_is_not(self) -> None:
        settings = _settings(
            environment="production",
            jwt_secret=STRONG,
            database_url=POSTGRES,
            public_base_url="https://numerologist.example.com",
            metrics_token="scrape-" + STRONG,
        )
        assert settings.production_warnings() == []

    def test_none_in_development(self) -> None:
        assert _settings().production_warnings() == []

    def test_the_app_logs_them_at_start(self, caplog: pytest.LogCaptureFixture) -> None:
        settings = _settings(
            environment="production",
            jwt_secret=STRONG,
            public_base_url="https://numerologist.example.com",
        )
        with caplog.at_level(logging.WARNING, logger="src.main"):
            create_app(settings)
        warned = [r for r in caplog.records if r.name == "src.main" and "SQLite" in r.message]
        assert len(warned) == 1
        assert warned[0].levelno == logging.WARNING
