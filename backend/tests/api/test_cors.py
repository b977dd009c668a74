"""Cross-origin browsers: CORS_ORIGINS lets the listed origins call the API, and no other."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from tests.conftest import make_settings

ALLOWED = "https://app.example.com"


@pytest.fixture
def settings(clean_db: str) -> Settings:
    """An app that lets one other origin in."""
    return make_settings(clean_db, cors_origins=f"{ALLOWED}, https://admin.example.com")


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


class TestPreflight:
    async def test_an_allowed_origin_may_start_a_conversation(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options("/api/v1/conversations/start", headers=preflight(ALLOWED))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed_headers = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "idempotency-key"} <= {
            header.strip() for header in allowed_headers.split(",")
        }
        # A real request from it carries the header too, and exposes Retry-After.
        answer = await client.get("/health/live", headers={"Origin": ALLOWED})
        assert answer.headers["access-control-allow-origin"] == ALLOWED
        assert "retry-after" in answer.headers["access-control-expose-headers"].lower()

    async def test_another_origin_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.options(
            "/api/v1/conversations/start", headers=preflight("https://evil.example.net")
        )
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
        answer = await client.get("/health/live", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in answer.headers


async def test_no_origin_is_allowed_by_default(clean_db: str) -> None:
    assert make_settings(clean_db).cors_origins == []
    assert make_settings(clean_db, cors_origins='["https://a.example"]').cors_origins == [
        "https://a.example"
    ]


async def test_every_method_the_api_takes_is_allowed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Every route's methods, as the OpenAPI schema lists them.
    methods = {
        method.upper()
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    for method in sorted(methods):
        headers = {**preflight(ALLOWED), "Access-Control-Request-Method": method}
        response = await client.options("/api/v1/conversations/start", headers=headers)
        assert response.status_code == 200, (method, response.text)
        assert method in response.headers["access-control-allow-methods"]
