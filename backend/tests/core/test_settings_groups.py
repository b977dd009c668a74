"""Settings are grouped by concern, read under the same environment names, and a bot is given
only its slice of them."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from src.contract.bot import BotContext
from src.core.settings import BotSettings, Settings

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

# The concerns Settings is made of (its bases that declare fields).
CONCERNS = [
    base
    for base in Settings.__mro__[1:]
    if issubclass(base, BaseModel) and base.__module__ == Settings.__module__
]


def _declared(cls: type[BaseModel]) -> set[str]:
    return set(vars(cls).get("__annotations__", {})) & set(Settings.model_fields)


def test_every_setting_belongs_to_exactly_one_concern() -> None:
    assert _declared(Settings) == set(), "declared on Settings itself, not in a concern"
    owners: dict[str, list[str]] = {}
    for concern in CONCERNS:
        for name in _declared(concern):
            owners.setdefault(name, []).append(concern.__name__)
    assert set(owners) == set(Settings.model_fields)
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}


def test_grouping_keeps_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # One setting from each of several concerns, by its old, flat name.
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///elsewhere.db")
    monkeypatch.setenv("MAX_BOTS", "7")
    monkeypatch.setenv("REJOIN_GRACE_SECONDS", "12")
    monkeypatch.setenv("TTS_PROVIDER", "piper")
    monkeypatch.setenv("WORKER_LOAD_THRESHOLD", "0.5")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite+aiosqlite:///elsewhere.db"
    assert settings.max_bots == 7
    assert settings.rejoin_grace_seconds == 12
    assert settings.worker_load_threshold == 0.5
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.1/32"]
    assert all(field.alias is None for field in Settings.model_fields.values())


def test_a_bot_is_typed_and_given_only_its_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert typing.get_type_hints(BotContext)["settings"] is BotSettings
    monkeypatch.setenv("REJOIN_GRACE_SECONDS", "12")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    slice_ = settings.for_bot()
    assert type(slice_) is BotSettings
    assert slice_.model_dump() == settings.model_dump(include=set(BotSettings.model_fields))
    assert slice_.rejoin_grace_seconds == 12
    for other in ("database_url", "jwt_secret", "webhook_secret", "redis_url", "max_bots"):
        assert not hasattr(slice_, other)
