"""Application settings, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import limits
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from src.core.ice import IceServer, check_ice_url

BACKEND_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = BACKEND_DIR.parent
DEFAULT_SQLITE_PATH = BACKEND_DIR / "data" / "numerologist.db"

# The development placeholder: accepted in development only, refused in production.
PLACEHOLDER_JWT_SECRET = "change-me-development-only-secret"
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", PLACEHOLDER_JWT_SECRET}
MIN_PRODUCTION_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Every tunable of the service; each field is an environment variable of the same name."""

    model_config = SettingsConfigDict(
        env_file=(REPO_DIR / ".env", BACKEND_DIR / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # A refused value is never echoed: it may be a secret (WEBHOOK_SECRET, JWT_SECRET).
        hide_input_in_errors=True,
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    jwt_secret: str = PLACEHOLDER_JWT_SECRET
    access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    log_level: str = "INFO"
    pipecat_log_level: str = "WARNING"
    # json: one JSON object per line (time, level, logger, message, conversation_id, worker_id).
    log_format: Literal["text", "json"] = "text"

    # Browser origins (scheme://host[:port]) allowed to call the API from another origin;
    # comma-separated or a JSON list. None by default: same-origin pages only.
    cors_origins: Annotated[list[str], NoDecode] = []

    # Brute-force protection, in the `limits` notation ("5/15 minutes", "20 per hour"). Failed
    # sign-ins count per email and per client address; registrations per address.
    login_failures_per_email: str = "5/15 minutes"
    login_failures_per_address: str = "30/15 minutes"
    registrations_per_address: str = "20/hour"

    # /metrics answers only requests bearing this token, when set.
    metrics_token: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # Where browsers reach this service; room URLs are built from it.
    public_base_url: str | None = None

    # Rooms.
    room_provider: Literal["local", "daily"] = "local"
    room_ttl_seconds: int = Field(default=2 * 60 * 60, ge=60)
    daily_api_key: str | None = None
    daily_api_url: str = "https://api.daily.co/v1"
    daily_timeout_seconds: float = Field(default=10.0, gt=0)
    daily_max_retries: int = Field(default=3, ge=0, le=10)
    daily_retry_base_seconds: float = Field(default=0.5, ge=0)
    # How long the bot may take to join its Daily room (keep it below BOT_READY_TIMEOUT_SECONDS).
    daily_join_timeout_seconds: float = Field(default=6.0, gt=0)
    # ICE for local rooms (Daily brings its own): the RTCIceServer JSON list (STUN/TURN) the room
    # page and the bot use; with TURN_SECRET (coturn's static-auth-secret) and TURN_URLS, each
    # page also gets TURN credentials of its own, valid as long as its room.
    ice_servers: Annotated[list[IceServer], NoDecode] = []
    turn_urls: Annotated[list[str], NoDecode] = []
    turn_secret: str | None = None
    # A user's WebRTC connection still not connected (ICE and DTLS) this long after its offer is
    # closed; the user may send a new offer (pipecat's own default is 60 s).
    webrtc_connect_timeout_seconds: float = Field(default=30.0, gt=0)

    # Conversations.
    max_active_conversations_per_user: int = Field(default=3, ge=1)
    max_bots: int = Field(default=20, ge=1)
    join_timeout_seconds: float = Field(default=60.0, gt=0)
    # A bot not ready this long after its start counts as failed to start.
    bot_ready_timeout_seconds: float = Field(default=10.0, gt=0)
    max_duration_seconds: float = Field(default=1800.0, gt=0)
    # A user whose connection was lost without a goodbye or Leave may rejoin this long.
    rejoin_grace_seconds: float = Field(default=30.0, ge=0)
    idempotency_ttl_seconds: int = Field(default=24 * 60 * 60, ge=1)
    # How often ended conversations whose room deletion failed are retried.
    room_sweep_interval_seconds: float = Field(default=60.0, gt=0)

    # Worker mode: with REDIS_URL set, bots run in worker processes (python -m src.worker)
    # that take calls from Redis; without it, bots run inside the API process.
    redis_url: str | None = None
    # Every key this service writes in Redis starts with this (several services can share one).
    redis_prefix: str = Field(default="numerologist:", max_length=64)
    # Worker processes the supervisor starts on this machine (default: its cores; 0: none, so
    # `make run` starts the API alone).
    workers: int | None = Field(default=None, ge=0, le=256)
    max_bots_per_worker: int = Field(default=10, ge=1)
    # Set: the supervisor serves GET /metrics on this port (and WORKER_METRICS_HOST), its
    # workers' numbers added up, behind METRICS_TOKEN like the API's: a worker machine's scrape.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # A worker takes no new call while the machine's CPU (moving average over 2.5 s, 0 to 1)
    # is above this.
    worker_load_threshold: float = Field(default=0.85, gt=0, le=1)
    # A start answers 503 no_bot_capacity if no worker takes its call this fast.
    dispatch_timeout_seconds: float = Field(default=5.0, gt=0)
    # On SIGTERM a worker takes no new call and waits this long for its calls to end.
    drain_timeout_seconds: float = Field(default=3600.0, ge=0)

    # Voice: offline by default; cloud services when chosen and given their keys.
    # Moonshine base-en (converted once into MODEL_CACHE_DIR) or Whisper tiny.en, both offline.
    stt_provider: Literal["moonshine", "whisper", "deepgram"] = "moonshine"
    model_cache_dir: Path = BACKEND_DIR / "data" / "models"
    deepgram_api_key: str | None = None
    tts_provider: Literal["piper", "cartesia", "elevenlabs"] = "piper"
    cartesia_api_key: str | None = None
    cartesia_voice_id: str = "71a7ad14-091c-4e8e-a314-022ece01c121"
    elevenlabs_api_key: str | None = None
    elevenlabs_voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    # Any OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, Ollama, vLLM).
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    # Silence after which smart-turn v3 judges whether the user has finished (its recommended
    # 0.2 s; the turn model, not this pause, keeps a sentence from being cut at a comma).
    vad_stop_secs: float = Field(default=0.2, gt=0, le=3)
    # Silence after the VAD's stop that ends the user's turn when neither smart-turn nor the
    # transcript has (`voice_pipeline/turns.py`): longer lets a user pause mid-sentence, shorter
    # answers an unfinished-sounding question sooner (pipecat's smart-turn waits 3 s).
    turn_silence_secs: float = Field(default=2.0, gt=0, le=10)
    # A page that stops sending data-channel pings this long is treated as gone.
    bot_idle_timeout_seconds: float = Field(default=10.0, gt=0)

    # Webhooks: with both set, conversation.started/active/ended are POSTed to WEBHOOK_URL,
    # signed as Standard Webhooks says with WEBHOOK_SECRET (`whsec_` + base64 of 24-64 bytes).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Retries: exponential from the base, with jitter, each wait at most the max; an event is
    # retried this long after it happened before it is given up (a day: a receiver down for
    # hours loses nothing).
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=600.0, gt=0)
    webhook_retry_for_seconds: float = Field(default=24 * 60 * 60, gt=0)
    # How often the sender looks for events to send.
    webhook_poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _parse_ice_servers(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value) if value.strip() else []
        except ValueError:
            raise ValueError(
                'ICE_SERVERS is not JSON: write a list like [{"urls": "stun:stun.example.com"}]'
            ) from None

    @field_validator("turn_urls", mode="before")
    @classmethod
    def _split_turn_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split(",")
        return value

    @field_validator("turn_urls")
    @classmethod
    def _check_turn_urls(cls, urls: list[str]) -> list[str]:
        return [check_ice_url(url, turn_only=True) for url in urls if url.strip()]

    @field_validator(
        "login_failures_per_email", "login_failures_per_address", "registrations_per_address"
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate: write it like '5/15 minutes' or '20 per hour'"
            ) from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("WEBHOOK_URL must be an http:// or https:// URL")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # The messages never include the value.
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if not secret.startswith("whsec_"):
            raise ValueError("WEBHOOK_SECRET must start with whsec_ (Standard Webhooks secrets)")
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            raise ValueError("WEBHOOK_SECRET after whsec_ must be base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError("WEBHOOK_SECRET must be whsec_ + base64 of 24 to 64 random bytes")
        return value

    @property
    def webhooks_enabled(self) -> bool:
        """Whether conversation events are sent (WEBHOOK_URL and WEBHOOK_SECRET set)."""
        return bool(self.webhook_url and self.webhook_secret)

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM is configured (otherwise the built-in numerologist answers)."""
        return bool(self.llm_base_url or self.llm_model or self.llm_api_key)

    @property
    def worker_mode(self) -> bool:
        """Whether bots run in worker processes (REDIS_URL set) rather than in the API."""
        return bool(self.redis_url)

    @property
    def base_url(self) -> str:
        """The public base URL, defaulting to the served address."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _enforce_production_rules(self) -> Settings:
        if self.environment == "production":
            if _weak(self.jwt_secret):
                raise ValueError(
                    "JWT_SECRET is missing or is the development placeholder: in production set "
                    f"JWT_SECRET to a random value of at least {MIN_PRODUCTION_SECRET_LENGTH} "
                    "characters (for example: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
        if bool(self.turn_secret) != bool(self.turn_urls):
            raise ValueError("TURN_SECRET and TURN_URLS go together: set both or neither")
        if self.environment == "production" and self.turn_secret and _weak(self.turn_secret):
            raise ValueError(
                "TURN_SECRET is too weak for production: use a random value of at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters (the same as coturn's "
                "static-auth-secret)"
            )
        self._require_keys()
        if bool(self.webhook_url) != bool(self.webhook_secret):
            raise ValueError(
                "WEBHOOK_URL and WEBHOOK_SECRET go together: set both to send webhooks, or neither"
            )
        if self.room_provider == "daily" and not self.daily_api_key:
            raise ValueError(
                "ROOM_PROVIDER=daily needs DAILY_API_KEY: set it or use ROOM_PROVIDER=local"
            )
        daily = self.room_provider == "daily"
        if daily and self.daily_join_timeout_seconds >= self.bot_ready_timeout_seconds:
            # Else a slow join would end as a bot that never got ready, not as a join failure.
            raise ValueError(
                "DAILY_JOIN_TIMEOUT_SECONDS must be below BOT_READY_TIMEOUT_SECONDS "
                f"({self.bot_ready_timeout_seconds:g})"
            )
        return self

    def production_warnings(self) -> list[str]:
        """What works but should not be run so in production (logged at start)."""
        if self.environment != "production":
            return []
        found = []
        if self.database_url.startswith("sqlite"):
            found.append(
                "ENVIRONMENT=production on SQLite: one process, one file, no worker mode; "
                "set DATABASE_URL to PostgreSQL (postgresql+asyncpg://...)"
            )
        if self.room_provider == "local" and not self.base_url.startswith("https://"):
            found.append(
                f"PUBLIC_BASE_URL {self.base_url} is not https: browsers give the microphone "
                "to https pages only (and localhost); see README, Deploying behind HTTPS"
            )
        return found

    def _require_keys(self) -> None:
        needed = {
            "STT_PROVIDER=deepgram": (
                self.stt_provider == "deepgram",
                self.deepgram_api_key,
                "DEEPGRAM_API_KEY",
            ),
            "TTS_PROVIDER=cartesia": (
                self.tts_provider == "cartesia",
                self.cartesia_api_key,
                "CARTESIA_API_KEY",
            ),
            "TTS_PROVIDER=elevenlabs": (
                self.tts_provider == "elevenlabs",
                self.elevenlabs_api_key,
                "ELEVENLABS_API_KEY",
            ),
            "an LLM": (self.llm_enabled, self.llm_model, "LLM_MODEL"),
        }
        for choice, (chosen, value, variable) in needed.items():
            if chosen and not value:
                raise ValueError(f"{choice} needs {variable} to be set.")


def _weak(secret: str) -> bool:
    secret = secret.strip()
    return secret.lower() in _WEAK_SECRETS or len(secret) < MIN_PRODUCTION_SECRET_LENGTH


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
