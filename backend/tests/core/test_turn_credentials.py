"""TURN REST API credentials, checked by the real verifier: coturn with use-auth-secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aioice import stun, turn

from src.core.clock import utcnow
from src.core.security import turn_credentials
from tests.coturn import TurnServer, coturn

pytestmark = pytest.mark.once


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    with coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


async def _allocate(server: TurnServer, username: str, credential: str) -> tuple[str, int]:
    """Ask coturn for a relay address with these credentials; the address it gives."""
    transport, _ = await asyncio.wait_for(
        turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=("127.0.0.1", server.port),
            username=username,
            password=credential,
            lifetime=600,
            channel_refresh_time=300,
        ),
        timeout=20,
    )
    try:
        host, port = transport.get_extra_info("sockname")
        return host, port
    finally:
        transport.close()


async def test_coturn_relays_for_the_credentials_we_make(turn_server: TurnServer) -> None:
    conversation_id = uuid.uuid4()
    username, credential = turn_credentials(
        turn_server.secret, conversation_id, utcnow() + timedelta(minutes=10)
    )
    assert username.endswith(f":{conversation_id}")
    host, port = await _allocate(turn_server, username, credential)
    assert host == "127.0.0.1"
    assert port != turn_server.port


async def test_coturn_refuses_another_secret(turn_server: TurnServer) -> None:
    username, credential = turn_credentials(
        "not-the-secret-" + "x" * 30, uuid.uuid4(), utcnow() + timedelta(minutes=10)
    )
    with pytest.raises(stun.TransactionFailed, match="401"):
        await _allocate(turn_server, username, credential)


async def test_coturn_refuses_expired_credentials(turn_server: TurnServer) -> None:
    username, credential = turn_credentials(
        turn_server.secret, uuid.uuid4(), utcnow() - timedelta(seconds=5)
    )
    with pytest.raises(stun.TransactionFailed, match="401"):
        await _allocate(turn_server, username, credential)


async def test_an_allocation_outlives_its_short_lived_credentials(turn_server: TurnServer) -> None:
    # Why short-lived credentials do not cut a long call: coturn checks the expiry when a
    # session authenticates, then keeps the allocation going at its refreshes.
    expires = utcnow() + timedelta(seconds=2)
    username, credential = turn_credentials(turn_server.secret, uuid.uuid4(), expires)
    transport, _ = await turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=("127.0.0.1", turn_server.port),
        username=username,
        password=credential,
        lifetime=600,
        channel_refresh_time=300,
    )
    try:
        while utcnow() <= expires + timedelta(seconds=1):  # noqa: ASYNC110 (waits out a clock)
            await asyncio.sleep(0.2)
        client = transport._TurnTransport__inner_protocol  # type: ignore[attr-defined]
        refresh = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        refresh.attributes["LIFETIME"] = 600
        response, _ = await client.request_with_retry(refresh)
        assert response.attributes["LIFETIME"] == 600
        # A new allocation with the same credentials is refused.
        with pytest.raises(stun.TransactionFailed, match="401"):
            await _allocate(turn_server, username, credential)
    finally:
        transport.close()


async def test_coturn_refuses_a_username_changed_after_signing(turn_server: TurnServer) -> None:
    username, credential = turn_credentials(
        turn_server.secret, uuid.uuid4(), utcnow() + timedelta(minutes=10)
    )
    expiry, conversation = username.split(":", 1)
    # A later expiry with the same credential: the HMAC no longer matches.
    with pytest.raises(stun.TransactionFailed, match="401"):
        await _allocate(turn_server, f"{int(expiry) + 3600}:{conversation}", credential)


def test_the_credential_is_the_turn_rest_form() -> None:
    # A known answer, worked out with openssl: printf %s '1796157490:00000000-0000-0000-0000-
    # 000000000001' | openssl dgst -sha1 -hmac s3cret -binary | base64
    expires = datetime(2026, 12, 1, 20, 38, 10, 900_000, tzinfo=UTC)
    username, credential = turn_credentials("s3cret", uuid.UUID(int=1), expires)
    assert username == "1796157490:00000000-0000-0000-0000-000000000001"
    assert credential == "RMQ3ZZWeQfXoa+m8fraOdJDGR5M="
