"""The Daily.co room provider, over Daily's REST API (https://docs.daily.co/reference/rest-api).

Rooms are private, expire after ROOM_TTL_SECONDS and eject everyone at expiry; the user and the
bot get separate meeting tokens. 429 and 5xx answers and network failures are retried with
backoff (honouring Retry-After); other 4xx answers are not. Every answer is validated
(`daily_replies`); each call's duration and retries are logged and go to the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from src.core import metrics
from src.core.clock import utcnow
from src.core.settings import Settings
from src.rooms.base import (
    ProviderName,
    Room,
    RoomAccess,
    RoomJob,
    RoomProviderError,
    room_name_for,
)
from src.rooms.daily.replies import DeleteReply, RoomReply, TokenReply
from src.rooms.daily.transport import DailyBotTransport

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 30.0

ReplyT = TypeVar("ReplyT", bound=BaseModel)


class DailyReplyMalformed(RoomProviderError):
    """Daily answered with success but without what the answer must hold."""

    code = "daily_reply_malformed"


class DailyRoomProvider:
    """Creates and deletes Daily rooms through one shared HTTP client."""

    name: ClassVar[ProviderName] = "daily"
    uses_our_ice_servers: ClassVar[bool] = False

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        if not settings.daily_api_key:
            raise RoomProviderError("ROOM_PROVIDER=daily needs DAILY_API_KEY to be set.")
        self._settings = settings
        self._retry_base = settings.daily_retry_base_seconds
        self._client = client or httpx.AsyncClient(
            base_url=settings.daily_api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.daily_api_key}"},
            timeout=httpx.Timeout(settings.daily_timeout_seconds),
        )

    @property
    def signalling(self) -> None:
        """None: the user's WebRTC signalling goes to Daily, not through this app."""
        return None

    async def create_room(self, conversation_id: uuid.UUID, *, user_name: str) -> Room:
        """Create a private room and two meeting tokens; on any failure delete what was made."""
        name = room_name_for(conversation_id)
        expires_at = utcnow() + timedelta(seconds=self._settings.room_ttl_seconds)
        exp = int(expires_at.timestamp())
        body = {
            "name": name,
            "privacy": "private",
            "properties": {"exp": exp, "eject_at_room_exp": True, "max_participants": 2},
        }
        created = await self._create(name, body)
        try:
            user_token = await self._token(name, exp, str(conversation_id), user_name, owner=False)
            bot_token = await self._token(
                name, exp, f"bot-{conversation_id}", "Numerologist", owner=True
            )
        except RoomProviderError:
            await self._delete_quietly(name)
            raise
        return Room(
            name=created.name,
            url=created.url,
            user_token=user_token,
            bot_token=bot_token,
            expires_at=expires_at,
            provider=self.name,
        )

    async def _create(self, name: str, body: dict[str, Any]) -> RoomReply:
        """POST /rooms. A try that timed out may have made the room all the same: a later try
        then finds the name taken and takes that room; if every try fails, the room is deleted
        in case one of them made it (and so is a room whose answer is malformed)."""
        uncertain: list[bool] = []
        try:
            created = await self._call(
                "POST", "/rooms", "create the room", RoomReply, json=body, uncertain=uncertain
            )
            assert created is not None  # only a call with missing_ok answers None
            return created
        except DailyReplyMalformed:
            await self._delete_quietly(name)
            raise
        except RoomProviderError as exc:
            if uncertain and exc.upstream_status == 400:
                # Daily answers 400 invalid-request-error when the name is taken.
                found = await self._find(name)
                if found is not None:
                    logger.info("room %s: made by a try whose answer was lost", name)
                    return found
            if uncertain:
                await self._delete_quietly(name)
            raise

    async def _find(self, name: str) -> RoomReply | None:
        try:
            found = await self._call(
                "GET", f"/rooms/{name}", "find the room", RoomReply, missing_ok=True
            )
        except DailyReplyMalformed:
            await self._delete_quietly(name)
            raise
        return found if found is not None and found.name == name else None

    async def _token(
        self, room: str, exp: int, user_id: str, user_name: str, *, owner: bool
    ) -> str:
        properties = {
            "room_name": room,
            "exp": exp,
            "user_id": user_id,
            "user_name": user_name,
            "is_owner": owner,
            "eject_at_token_exp": True,
        }
        what = "create the bot's meeting token" if owner else "create the user's meeting token"
        answer = await self._call(
            "POST", "/meeting-tokens", what, TokenReply, json={"properties": properties}
        )
        assert answer is not None  # only a call with missing_ok answers None
        return answer.token

    async def user_access(
        self, conversation_id: uuid.UUID, name: str, *, user_name: str, expires_at: datetime
    ) -> RoomAccess:
        """The room's URL (GET /rooms/{name}) and a new meeting token for the user (a rejoin)."""
        room = await self._call("GET", f"/rooms/{name}", "find the room", RoomReply)
        assert room is not None  # only a call with missing_ok answers None
        exp = int(expires_at.timestamp())
        token = await self._token(name, exp, str(conversation_id), user_name, owner=False)
        return RoomAccess(url=room.url, user_token=token)

    async def delete_room(self, name: str) -> None:
        """Delete a room; a room Daily no longer knows counts as deleted."""
        answer = await self._call(
            "DELETE", f"/rooms/{name}", "delete the room", DeleteReply, missing_ok=True
        )
        if answer is not None and not answer.deleted:
            raise DailyReplyMalformed(f"Daily answered that room {name} was not deleted.")

    async def _delete_quietly(self, name: str) -> None:
        try:
            await self.delete_room(name)
        except RoomProviderError as exc:
            logger.error("room %s: could not delete after a failed start: %s", name, exc.detail)

    def bot_transport(self, job: RoomJob) -> DailyBotTransport:
        """The bot's transport: it joins the Daily room with the bot's meeting token."""
        return DailyBotTransport(job, self._settings.daily_join_timeout_seconds)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        reply: type[ReplyT],
        *,
        json: Any = None,
        missing_ok: bool = False,
        uncertain: list[bool] | None = None,
    ) -> ReplyT | None:
        """One API call with retries, its answer validated as `reply`, timed, logged and
        counted; None for a 404 that `missing_ok` allows. `uncertain` gets an entry for each
        try that may have reached Daily without its answer reaching us (a timeout or a
        dropped connection)."""
        operation = _OPERATIONS[method, path.split("/")[1]]
        progress = _Progress()
        began = time.monotonic()
        try:
            answer = await self._tries(method, path, what, json, missing_ok, uncertain, progress)
            parsed = None if answer is None else _parse(reply, answer, what)
        except DailyReplyMalformed:
            progress.outcome = "malformed"
            raise
        finally:
            seconds = time.monotonic() - began
            outcome = progress.outcome
            metrics.daily_call(operation, outcome, seconds, progress.tries - 1)
            log = logger.info if outcome in ("ok", "not_found") else logger.warning
            log(
                "daily %s%s: %s in %.0f ms, %d tries",
                operation,
                f" {path.split('/')[2]}" if path.count("/") > 1 else "",
                outcome,
                seconds * 1000,
                progress.tries,
            )
        return parsed

    async def _tries(
        self,
        method: str,
        path: str,
        what: str,
        json: Any,
        missing_ok: bool,
        uncertain: list[bool] | None,
        progress: _Progress,
    ) -> dict[str, Any] | None:
        attempts = self._settings.daily_max_retries + 1
        for attempt in range(1, attempts + 1):
            progress.tries = attempt
            last = attempt == attempts
            try:
                response = await self._client.request(method, path, json=json)
            except httpx.TimeoutException as exc:
                if uncertain is not None and not isinstance(exc, httpx.ConnectTimeout):
                    uncertain.append(True)
                if last:
                    progress.outcome = "timeout"
                    raise RoomProviderError(
                        f"Daily did not answer in time when trying to {what} ({attempts} "
                        "attempts): check DAILY_API_URL and the network, then try again."
                    ) from None
            except httpx.TransportError as exc:
                if uncertain is not None and not isinstance(exc, httpx.ConnectError):
                    uncertain.append(True)
                if last:
                    progress.outcome = "network"
                    raise RoomProviderError(
                        f"Could not reach Daily to {what} ({type(exc).__name__}, {attempts} "
                        "attempts): check DAILY_API_URL and the network."
                    ) from None
            else:
                if missing_ok and response.status_code == 404:
                    progress.outcome = "not_found"
                    return None
                if response.is_success:
                    return _json(response)
                if not _retryable(response.status_code) or last:
                    progress.outcome = f"http_{response.status_code}"
                    raise _error(response, what)
                await asyncio.sleep(self._delay(attempt, response))
                continue
            await asyncio.sleep(self._delay(attempt, None))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = _retry_after(response)
            if retry_after is not None:
                return retry_after
        return float(self._retry_base * 2 ** (attempt - 1))


_OPERATIONS = {
    ("POST", "rooms"): "create_room",
    ("GET", "rooms"): "get_room",
    ("DELETE", "rooms"): "delete_room",
    ("POST", "meeting-tokens"): "create_token",
}


class _Progress:
    """How far one call got: its tries so far and how it ended."""

    def __init__(self) -> None:
        self.tries = 0
        self.outcome = "ok"


def _parse(model: type[ReplyT], answer: dict[str, Any], what: str) -> ReplyT:
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        # Field names only: the values may hold a token.
        fields = sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()})
        raise DailyReplyMalformed(
            f"Daily's answer when trying to {what} lacks or mangles {', '.join(fields)}: check "
            "DAILY_API_URL points at Daily's REST API (https://api.daily.co/v1)."
        ) from None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        try:
            when = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")
        except ValueError:
            return None
        seconds = when.timestamp() - utcnow().replace(tzinfo=None).timestamp()
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(response: httpx.Response, what: str) -> RoomProviderError:
    status = response.status_code
    # Daily's error bodies are {"error": code, "info": text}; only the short code is shown.
    code = _json(response).get("error")
    label = (
        f"{status} {code}"
        if isinstance(code, str) and code.isascii() and len(code) < 64
        else str(status)
    )
    if status in (401, 403):
        hint = f"Daily rejected the API key ({label}) when trying to {what}: check DAILY_API_KEY."
    elif status == 429:
        hint = f"Daily is rate-limiting requests ({label}) to {what}: try again shortly."
    elif status >= 500:
        hint = f"Daily is unavailable ({label}) and could not {what}: try again later."
    elif status == 404:
        hint = f"Daily could not find what was needed to {what} ({label}): check DAILY_API_URL."
    else:
        hint = f"Daily refused to {what} ({label}): check the room settings and DAILY_API_URL."
    error = RoomProviderError(hint)
    error.upstream_status = status
    return error
