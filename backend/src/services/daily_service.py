"""The Daily.co room provider, over Daily's REST API (https://docs.daily.co/reference/rest-api).

Rooms are private, expire after ROOM_TTL_SECONDS and eject everyone at expiry; the user and the
bot get separate meeting tokens. 429 and 5xx answers and network failures are retried with
backoff (honouring Retry-After); other 4xx answers are not.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from src.core.clock import utcnow
from src.core.settings import Settings
from src.services.rooms import Room, RoomAccess, RoomProviderError, room_name_for
from src.voice_pipeline.job import BotJob, ProviderName

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 30.0


class DailyRoomProvider:
    """Creates and deletes Daily rooms through one shared HTTP client."""

    name: ClassVar[ProviderName] = "daily"

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
            name=str(created.get("name", name)),
            url=str(created["url"]),
            user_token=user_token,
            bot_token=bot_token,
            expires_at=expires_at,
            provider=self.name,
        )

    async def _create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /rooms. A try that timed out may have made the room all the same: a later try
        then finds the name taken and takes that room; if every try fails, the room is deleted
        in case one of them made it."""
        uncertain: list[bool] = []
        try:
            return await self._call(
                "POST", "/rooms", "create the room", json=body, uncertain=uncertain
            )
        except RoomProviderError as exc:
            if uncertain and exc.upstream_status == 400:
                # Daily answers 400 invalid-request-error when the name is taken.
                found = await self._call("GET", f"/rooms/{name}", "find the room", missing_ok=True)
                if found.get("name") == name and found.get("url"):
                    logger.info("room %s: made by a try whose answer was lost", name)
                    return found
            if uncertain:
                await self._delete_quietly(name)
            raise

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
        answer = await self._call("POST", "/meeting-tokens", what, json={"properties": properties})
        return str(answer["token"])

    async def user_access(
        self, conversation_id: uuid.UUID, name: str, *, user_name: str, expires_at: datetime
    ) -> RoomAccess:
        """The room's URL (GET /rooms/{name}) and a new meeting token for the user (a rejoin)."""
        room = await self._call("GET", f"/rooms/{name}", "find the room")
        exp = int(expires_at.timestamp())
        token = await self._token(name, exp, str(conversation_id), user_name, owner=False)
        return RoomAccess(url=str(room["url"]), user_token=token)

    async def delete_room(self, name: str) -> None:
        """Delete a room; a room Daily no longer knows counts as deleted."""
        await self._call("DELETE", f"/rooms/{name}", "delete the room", missing_ok=True)

    async def _delete_quietly(self, name: str) -> None:
        try:
            await self.delete_room(name)
        except RoomProviderError as exc:
            logger.error("room %s: could not delete after a failed start: %s", name, exc.detail)

    def bot_transport(self, job: BotJob) -> DailyBotTransport:
        """The bot's transport: it joins the Daily room with the bot's meeting token."""
        return DailyBotTransport(job)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        missing_ok: bool = False,
        uncertain: list[bool] | None = None,
    ) -> dict[str, Any]:
        """One API call with retries. `uncertain` gets an entry for each try that may have
        reached Daily without its answer reaching us (a timeout or a dropped connection)."""
        attempts = self._settings.daily_max_retries + 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await self._client.request(method, path, json=json)
            except httpx.TimeoutException as exc:
                if uncertain is not None and not isinstance(exc, httpx.ConnectTimeout):
                    uncertain.append(True)
                if last:
                    raise RoomProviderError(
                        f"Daily did not answer in time when trying to {what} ({attempts} "
                        "attempts): check DAILY_API_URL and the network, then try again."
                    ) from None
            except httpx.TransportError as exc:
                if uncertain is not None and not isinstance(exc, httpx.ConnectError):
                    uncertain.append(True)
                if last:
                    raise RoomProviderError(
                        f"Could not reach Daily to {what} ({type(exc).__name__}, {attempts} "
                        "attempts): check DAILY_API_URL and the network."
                    ) from None
            else:
                if response.is_success or (missing_ok and response.status_code == 404):
                    return _json(response)
                if not _retryable(response.status_code) or last:
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


class DailyBotTransport:
    """A bot's way into a Daily room (needs the internet; daily-python does the media)."""

    joined_event = "on_first_participant_joined"
    left_event = "on_participant_left"
    # The bot stays in the room: a user who rejoins with a new token is a participant again.
    rejoined_event = "on_participant_joined"

    def __init__(self, job: BotJob) -> None:
        self._job = job

    async def open(self) -> Any:
        """pipecat's Daily transport for the room, joining with the bot's token when run."""
        from pipecat.transports.daily.transport import DailyParams, DailyTransport

        return DailyTransport(
            self._job.room_url,
            self._job.bot_token,
            "Numerologist",
            DailyParams(audio_in_enabled=True, audio_out_enabled=True),
        )

    async def gone(self, idle_timeout: float) -> None:
        """Never returns: Daily itself reports a participant who vanished."""
        await asyncio.Event().wait()

    async def take_rejoins(self, transport: Any) -> None:
        """Nothing to wire: Daily's transport takes the user's new participant itself."""
        await asyncio.Event().wait()

    async def drop_user(self) -> None:
        """Nothing to hang up: Daily reports a vanished participant as left."""

    async def close(self) -> None:
        """Nothing to release here: the pipeline leaves the room when it ends."""


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
