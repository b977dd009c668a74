"""Application settings, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections import Counter
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import limits
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from src.core.ice import IceServer, check_ice_url

BACKEND_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = BACKEND_DIR.parent
DEFAULT_SQLITE_PATH = BACKEND_DIR / "data" / "numerologist.db"

# The placeholder once documented: refused, like any weak secret, wherever others can reach us.
PLACEHOLDER_JWT_SECRET = "change-me-development-only-secret"
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", PLACEHOLDER_JWT_SECRET}
MIN_PRODUCTION_SECRET_LENGTH = 32
# A JWT secret must look random: at least this many bits by its own characters' frequencies
# (length x Shannon entropy per character; 32 random hex digits give ~115, 'a' * 32 gives 0)
# and this many distinct characters.
MIN_SECRET_BITS = 96
MIN_SECRET_DISTINCT_CHARACTERS = 8
_MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class OperationsSettings(BaseModel):
    """Where and how the process runs, what it logs and shows operators."""

    environment: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    pipecat_log_level: str = "WARNING"
    # json: one JSON object per line (time, level, logger, message, conversation_id, worker_id).
    log_format: Literal["text", "json"] = "text"

    # /metrics answers only requests bearing this token, when set; in production without it,
    # /metrics is off (404).
    metrics_token: str | None = None
    # The API's /docs, /redoc and /openapi.json: unset, on in development and off in production.
    api_docs: bool | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # Where browsers reach this service; room URLs are built from it.
    public_base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The public base URL, defaulting to the served address."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def reachable(self) -> bool:
        """Whether other machines may reach this server: production, a HOST other than
        loopback, or a PUBLIC_BASE_URL that is https or not on loopback."""
        if self.environment == "production" or not _is_loopback(self.host):
            return True
        if not self.public_base_url:
            return False
        url = urlsplit(self.public_base_url.strip())
        return url.scheme.lower() == "https" or not _is_loopback(url.hostname or "")

    @property
    def docs_enabled(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (API_DOCS, else development)."""
        return self.environment != "production" if self.api_docs is None else self.api_docs


class DatabaseSettings(BaseModel):
    """The database."""

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"


class SecuritySettings(BaseModel):
    """Sign-in tokens, other origins, brute-force protection, trusted proxies."""

    # Unset: a random one for this start (development on loopback only; tokens end with the
    # process). Required, and checked to look random, when others can reach the server.
    jwt_secret: str = ""
    _jwt_secret_generated: bool = PrivateAttr(default=False)
    # At most a day: a stolen token is good until it expires or its user signs out.
    access_token_expire_minutes: int = Field(default=60, ge=1, le=60 * 24)

    # Browser origins (scheme://host[:port]) allowed to call the API from another origin;
    # comma-separated or a JSON list. None by default: same-origin pages only.
    cors_origins: Annotated[list[str], NoDecode] = []

    # Brute-force protection, in the `limits` notation ("5/15 minutes", "20 per hour"); see
    # services/throttling.py. Sign-in failures count per (email, address) and per address (past
    # either, 429), and per email: past that, addresses that have failed on the email wait a
    # delay doubling from LOGIN_DELAY_SECONDS up to LOGIN_MAX_DELAY_SECONDS; registrations count
    # per address.
    login_failures_per_email: str = "5/15 minutes"
    login_failures_per_email_and_address: str = "5/15 minutes"
    login_failures_per_address: str = "30/15 minutes"
    login_delay_seconds: int = Field(default=1, ge=1, le=60 * 60)
    login_max_delay_seconds: int = Field(default=300, ge=1, le=24 * 60 * 60)
    registrations_per_address: str = "20/hour"
    # Reverse proxies whose X-Forwarded-For names the client (addresses or CIDR networks,
    # comma-separated or a JSON list). None by default: the peer's address is the client's.
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            try:
                items = (str(item).strip() for item in value)
                return [ip_network(item, strict=False) for item in items if item]
            except ValueError:
                raise ValueError(
                    "TRUSTED_PROXIES: write addresses or networks like 10.0.0.5,10.1.0.0/16"
                ) from None
        return value

    @field_validator(
        "login_failures_per_email",
        "login_failures_per_email_and_address",
        "login_failures_per_address",
        "registrations_per_address",
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

    @property
    def jwt_secret_generated(self) -> bool:
        """Whether JWT_SECRET was unset and this process made a random one."""
        return self._jwt_secret_generated


class RoomSettings(BaseModel):
    """The rooms a conversation happens in: the provider, Daily, ICE and TURN."""

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
    # page also gets short-lived TURN credentials of its own (TURN_CREDENTIAL_TTL_SECONDS).
    ice_servers: Annotated[list[IceServer], NoDecode] = []
    turn_urls: Annotated[list[str], NoDecode] = []
    turn_secret: str | None = None
    # TURN credentials are valid this long after they are handed out (or until the room
    # expires): enough to connect; an established relay outlives them, a copy does not.
    turn_credential_ttl_seconds: int = Field(default=300, ge=30, le=24 * 60 * 60)
    # A user's WebRTC connection still not connected (ICE and DTLS) this long after its offer is
    # closed; the user may send a new offer (pipecat's own default is 60 s).
    webrtc_connect_timeout_seconds: float = Field(default=30.0, gt=0)
    # Whether the bot uses ICE candidates on loopback addresses (a user on this same machine):
    # unset, only in development.
    ice_allow_loopback_candidates: bool | None = None

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

    @model_validator(mode="after")
    def _check_room_pairs(self) -> Self:
        if bool(self.turn_secret) != bool(self.turn_urls):
            raise ValueError("TURN_SECRET and TURN_URLS go together: set both or neither")
        if self.room_provider == "daily" and not self.daily_api_key:
            raise ValueError(
                "ROOM_PROVIDER=daily needs DAILY_API_KEY: set it or use ROOM_PROVIDER=local"
            )
        return self


class ConversationSettings(BaseModel):
    """Conversations' limits and timers, kept by the API and the bot host."""

    max_active_conversations_per_user: int = Field(default=3, ge=1)
    # Live event streams (GET /conversations/{id}/events) one user may hold open in one API
    # process; more answer 429 too_many_event_streams.
    max_event_streams_per_user: int = Field(default=5, ge=1, le=100)
    max_bots: int = Field(default=20, ge=1)
    join_timeout_seconds: float = Field(default=60.0, gt=0)
    # A bot not ready this long after its start counts as failed to start.
    bot_ready_timeout_seconds: float = Field(default=10.0, gt=0)
    max_duration_seconds: float = Field(default=1800.0, gt=0)
    idempotency_ttl_seconds: int = Field(default=24 * 60 * 60, ge=1)
    # How often ended conversations whose room deletion failed are retried.
    room_sweep_interval_seconds: float = Field(default=60.0, gt=0)


class PresenceSettings(BaseModel):
    """How long a bot waits for its user: gone quiet, or gone to rejoin."""

    # A user whose connection was lost without a goodbye or Leave may rejoin this long.
    rejoin_grace_seconds: float = Field(default=30.0, ge=0)
    # A page that stops sending data-channel pings this long is treated as gone.
    bot_idle_timeout_seconds: float = Field(default=10.0, gt=0)


class WorkerSettings(BaseModel):
    """The worker mode: bots in worker processes, their calls through Redis."""

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
    # Set: /health/ready answers 503 until a worker takes calls (a live worker, not draining,
    # below its bot count). `make run` sets it for the API when it starts the workers itself,
    # so no start is refused in the seconds the workers load their models.
    ready_requires_worker: bool = False

    @property
    def worker_mode(self) -> bool:
        """Whether bots run in worker processes (REDIS_URL set) rather than in the API."""
        return bool(self.redis_url)


class SpeechSettings(BaseModel):
    """The bot's speech and language services."""

    # Voice: offline by default; cloud services when chosen and given their keys.
    # Moonshine base-en (converted once into MODEL_CACHE_DIR) or Whisper tiny.en, both offline.
    stt_provider: Literal["moonshine", "whisper", "deepgram"] = "moonshine"
    model_cache_dir: Path = BACKEND_DIR / "data" / "models"
    deepgram_api_key: str | None = None
    # Deepgram's address (a self-hosted Deepgram, or a test's fake); unset: Deepgram's own.
    deepgram_url: str | None = None
    tts_provider: Literal["piper", "cartesia", "elevenlabs"] = "piper"
    cartesia_api_key: str | None = None
    cartesia_voice_id: str = "71a7ad14-091c-4e8e-a314-022ece01c121"
    elevenlabs_api_key: str | None = None
    elevenlabs_voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    # Piper's synthesised sentences kept per process for every bot (a reading is the same text
    # for everyone with the same number): ~100-300 kB a sentence; 0 keeps none.
    tts_cache_mb: int = Field(default=64, ge=0, le=4096)
    # The same sentences kept on disk, shared by the machine's processes and kept across
    # restarts (`sentence_store.py`): a new or restarted worker starts with what the machine has
    # already said, not with Piper's first syntheses; 0 keeps none.
    tts_store_mb: int = Field(default=256, ge=0, le=65536)
    tts_store_dir: Path = BACKEND_DIR / "data" / "synthesis"
    # Any OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, Ollama, vLLM).
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    # The longest wait for a byte from the LLM's server, before or during an answer: past it the
    # bot says its apology and the user may ask again.
    llm_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Silence after which smart-turn v3 judges whether the user has finished (its recommended
    # 0.2 s; the turn model, not this pause, keeps a sentence from being cut at a comma).
    vad_stop_secs: float = Field(default=0.2, gt=0, le=3)
    # Silence after the VAD's stop that ends the user's turn when neither smart-turn nor the
    # transcript has (`voice_pipeline/turns.py`): longer lets a user pause mid-sentence, shorter
    # answers an unfinished-sounding question sooner (pipecat's smart-turn waits 3 s).
    turn_silence_secs: float = Field(default=2.0, gt=0, le=10)
    # Speaking over the bot: "hold" (its audio held at once, a backchannel lets it go on, a
    # question stops it: voice_pipeline/turns.py BargeIn), or "vad" (pipecat's default: any
    # speech the VAD hears interrupts it).
    barge_in: Literal["hold", "vad"] = "hold"

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM is configured (otherwise the built-in numerologist answers)."""
        return bool(self.llm_base_url or self.llm_model or self.llm_api_key)

    @model_validator(mode="after")
    def _require_keys(self) -> Self:
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
        return self


class WebhookSettings(BaseModel):
    """Conversation events POSTed to a receiver."""

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

    @model_validator(mode="after")
    def _check_webhook_pair(self) -> Self:
        if bool(self.webhook_url) != bool(self.webhook_secret):
            raise ValueError(
                "WEBHOOK_URL and WEBHOOK_SECRET go together: set both to send webhooks, or neither"
            )
        return self


class BotSettings(SpeechSettings, PresenceSettings):
    """The settings a bot reads (`BotContext.settings`): its services and its watch on the
    user, nothing of the API, the database or the workers."""


class Settings(
    OperationsSettings,
    DatabaseSettings,
    SecuritySettings,
    RoomSettings,
    ConversationSettings,
    WorkerSettings,
    BotSettings,
    WebhookSettings,
    BaseSettings,
):
    """Every tunable of the service; each field is an environment variable of the same name.

    The fields live in one class per concern, above; what spans concerns (the production
    rules, the checks between settings of different concerns) lives here.
    """

    model_config = SettingsConfigDict(
        env_file=(REPO_DIR / ".env", BACKEND_DIR / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # A refused value is never echoed: it may be a secret (WEBHOOK_SECRET, JWT_SECRET).
        hide_input_in_errors=True,
    )

    @property
    def allow_loopback_candidates(self) -> bool:
        """Whether the bot uses loopback ICE candidates (ICE_ALLOW_LOOPBACK_CANDIDATES, else
        in development)."""
        if self.ice_allow_loopback_candidates is None:
            return self.environment == "development"
        return self.ice_allow_loopback_candidates

    def _check_jwt_secret(self) -> None:
        where = (
            "in production"
            if self.environment == "production"
            else "when other machines can reach the server (HOST not loopback, or PUBLIC_BASE_URL "
            "https or not on loopback)"
        )
        if not self.jwt_secret.strip():
            if self.reachable:
                raise ValueError(
                    f"JWT_SECRET is not set: it is required {where}. Set it to a random value "
                    f"of at least {MIN_PRODUCTION_SECRET_LENGTH} characters ({_MAKE_A_SECRET})"
                )
            self.jwt_secret = secrets.token_urlsafe(48)
            self._jwt_secret_generated = True
            return
        weakness = secret_weakness(self.jwt_secret)
        if weakness and self.reachable:
            raise ValueError(
                f"JWT_SECRET is {weakness}: it is refused {where}. Set it to a random value of "
                f"at least {MIN_PRODUCTION_SECRET_LENGTH} characters ({_MAKE_A_SECRET})"
            )

    @model_validator(mode="after")
    def _enforce_production_rules(self) -> Settings:
        self._check_jwt_secret()
        if self.environment == "production" and self.turn_secret and _weak(self.turn_secret):
            raise ValueError(
                "TURN_SECRET is too weak for production: use a random value of at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters (the same as coturn's "
                "static-auth-secret)"
            )
        daily = self.room_provider == "daily"
        if daily and self.daily_join_timeout_seconds >= self.bot_ready_timeout_seconds:
            # Else a slow join would end as a bot that never got ready, not as a join failure.
            raise ValueError(
                "DAILY_JOIN_TIMEOUT_SECONDS must be below BOT_READY_TIMEOUT_SECONDS "
                f"({self.bot_ready_timeout_seconds:g})"
            )
        return self

    def for_bot(self) -> BotSettings:
        """The slice a bot is given (`BotContext.settings`): a bot cannot read, even untyped,
        the database URL, the secrets or the other concerns' settings."""
        return BotSettings.model_construct(
            **{name: getattr(self, name) for name in BotSettings.model_fields}
        )

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
        if not self.metrics_token:
            found.append(
                "METRICS_TOKEN is not set: /metrics answers 404 in production; set it to scrape "
                "(with 'Authorization: Bearer <METRICS_TOKEN>')"
            )
        if self.room_provider == "local" and not self.base_url.startswith("https://"):
            found.append(
                f"PUBLIC_BASE_URL {self.base_url} is not https: browsers give the microphone "
                "to https pages only (and localhost); see README, Deploying behind HTTPS"
            )
        return found


def secret_weakness(secret: str) -> str | None:
    """Why a signing secret is too weak to be trusted (None if it is not): the documented
    placeholder or a known weak word, too short, or too regular to be random."""
    text = secret.strip()
    if text.lower() in _WEAK_SECRETS:
        return "a placeholder"
    if len(text) < MIN_PRODUCTION_SECRET_LENGTH:
        return f"shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters"
    counts = Counter(text)
    bits = -sum(n * math.log2(n / len(text)) for n in counts.values())
    if len(counts) < MIN_SECRET_DISTINCT_CHARACTERS or bits < MIN_SECRET_BITS:
        return "too regular to be random"
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _weak(secret: str) -> bool:
    secret = secret.strip()
    return secret.lower() in _WEAK_SECRETS or len(secret) < MIN_PRODUCTION_SECRET_LENGTH


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
