"""Request bodies are bounded per route before they are parsed: 413 `request_too_large`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx

from src.api.limits import DEFAULT_BODY_LIMIT, OFFER_BODY_LIMIT, body_limit
from tests.conftest import auth, register

REGISTER = "/api/v1/auth/register"


def padded(payload: dict[str, str], size: int) -> bytes:
    """Valid JSON of `size` bytes: the payload, then whitespace (a parser takes it as is)."""
    body = json.dumps(payload).encode()
    return body + b" " * (size - len(body))


def registration(email: str) -> dict[str, str]:
    return {
        "email": email,
        "password": "correct horse battery",
        "full_name": "Ada Lovelace",
        "birth_date": "1990-07-15",
    }


async def chunks(body: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def signs_in(client: httpx.AsyncClient, email: str) -> bool:
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "correct horse battery"}
    )
    return response.status_code == 200


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"] == "request_too_large"
    assert "KiB" in body["detail"]


class TestAuthRoutes:
    async def test_a_body_within_the_limit_is_served(self, client: httpx.AsyncClient) -> None:
        email = f"ok-{uuid.uuid4().hex[:8]}@example.com"
        body = padded(registration(email), DEFAULT_BODY_LIMIT)
        response = await client.post(
            REGISTER, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 201, response.text

    async def test_a_body_over_the_limit_is_refused_and_nothing_is_registered(
        self, client: httpx.AsyncClient
    ) -> None:
        email = f"big-{uuid.uuid4().hex[:8]}@example.com"
        # Valid JSON that would register the account if it were read.
        body = padded(registration(email), DEFAULT_BODY_LIMIT + 1)
        response = await client.post(
            REGISTER, content=body, headers={"content-type": "application/json"}
        )
        assert_too_large(response)
        assert not await signs_in(client, email)

    async def test_a_chunked_body_over_the_limit_is_refused_and_nothing_is_registered(
        self, client: httpx.AsyncClient
    ) -> None:
        email = f"chunked-{uuid.uuid4().hex[:8]}@example.com"
        body = padded(registration(email), DEFAULT_BODY_LIMIT * 4)
        request = client.build_request(
            "POST", REGISTER, content=chunks(body), headers={"content-type": "application/json"}
        )
        assert "content-length" not in request.headers  # sent chunked
        response = await client.send(request)
        assert_too_large(response)
        assert not await signs_in(client, email)

    async def test_a_chunked_body_within_the_limit_is_served(
        self, client: httpx.AsyncClient
    ) -> None:
        email = f"chunked-ok-{uuid.uuid4().hex[:8]}@example.com"
        body = padded(registration(email), DEFAULT_BODY_LIMIT - 10)
        response = await client.post(
            REGISTER, content=chunks(body), headers={"content-type": "application/json"}
        )
        assert response.status_code == 201, response.text
        assert await signs_in(client, email)

    async def test_sign_in_is_refused_before_its_body_is_parsed(
        self, client: httpx.AsyncClient
    ) -> None:
        # Not even JSON: the limit answers before any parser could say 422.
        response = await client.post(
            "/api/v1/auth/login",
            content=b"x" * (DEFAULT_BODY_LIMIT + 1),
            headers={"content-type": "application/json"},
        )
        assert_too_large(response)


class TestOfferRoutes:
    def test_the_offer_routes_take_an_sdp_sized_body(self) -> None:
        assert body_limit("/api/v1/rooms/abc/offer") == OFFER_BODY_LIMIT
        assert body_limit("/rooms/abc") == OFFER_BODY_LIMIT
        assert body_limit("/api/v1/rooms/abc/leave") == DEFAULT_BODY_LIMIT
        assert body_limit("/api/v1/conversations/start") == DEFAULT_BODY_LIMIT
        assert OFFER_BODY_LIMIT > 100_000  # the Offer model's own cap on the SDP

    async def test_an_offer_over_the_small_limit_reaches_the_route(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        body = padded({"sdp": "v=0", "type": "offer"}, DEFAULT_BODY_LIMIT * 4)
        # Read and parsed: the route answers (no such room), not the limit.
        response = await client.post(
            "/api/v1/rooms/no-such-room/offer",
            content=body,
            headers={**auth(user["access_token"]), "content-type": "application/json"},
        )
        assert response.status_code != 413, response.text

    async def test_an_offer_over_its_limit_is_refused(self, client: httpx.AsyncClient) -> None:
        body = padded({"sdp": "v=0", "type": "offer"}, OFFER_BODY_LIMIT + 1)
        for path in ("/api/v1/rooms/some-room/offer", "/rooms/some-room"):
            assert_too_large(await client.post(path, content=body))
            assert_too_large(await client.patch(path, content=chunks(body)))
