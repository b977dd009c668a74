"""Cross-origin browsers: CORS_ORIGINS lets the listed origins call the API, and no other."""

from __future__ import annotations

import httpx
import pytest

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
