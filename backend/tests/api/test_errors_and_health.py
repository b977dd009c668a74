"""One error shape everywhere, and the health check."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from src.main import create_app
from tests.api.conversation_helpers import start, user_token
from tests.conftest import auth, make_settings
from tests.fakes.bots import ScriptedBot


async def test_unknown_route_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong_method = await client.put("/api/v1/users/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


async def test_health_runs_a_real_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "mode": "embedded",
        "bots": 0,
        "rooms": 0,
    }


async def test_health_counts_the_bots_running_and_the_rooms_open(
    client: httpx.AsyncClient,
) -> None:
    token = await user_token(client)
    started = await start(client, token)
    assert (await client.get("/health")).json() == {
        "status": "ok",
        "database": "ok",
        "mode": "embedded",
        "bots": 1,
        "rooms": 1,
    }
    conversation = started.json()["conversation_id"]
    ended = await client.post(f"/api/v1/conversations/{conversation}/end", headers=auth(token))
    assert ended.status_code == 200
    health = (await client.get("/health")).json()
    assert (health["bots"], health["rooms"]) == (0, 0)


async def test_health_is_503_when_the_database_is_unreachable() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    app = create_app(settings, run_bot=ScriptedBot())
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable"
    assert body["error"] == "database_unreachable"
    assert "127.0.0.1" not in body["detail"]


async def test_the_openapi_document_describes_the_errors_as_they_are_sent(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    operations = [
        operation
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for operation in item.values()
    ]
    assert operations
    for operation in operations:
        responses = operation["responses"]
        assert {"400", "422", "503"} <= set(responses), operation["operationId"]
        schema = responses["422"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ValidationErrorResponse"}
    unparsable = await client.post(
        "/api/v1/auth/register",
        content=b"\xff{",
        headers={"Content-Type": "application/json"},
    )
    assert unparsable.status_code == 400
    assert set(unparsable.json()) == {"error", "detail"}
