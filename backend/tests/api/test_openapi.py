"""The OpenAPI document: every route described, its error answers declared, its bodies exemplified.

Walks `app.openapi()` (what /openapi.json and /docs serve) and the routes behind it: the
examples are checked against the models they illustrate and the errors the code raises.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from src.core.errors import DomainError
from src.main import create_app
from src.schemas.common import ALWAYS
from tests.conftest import make_settings

pytestmark = pytest.mark.once

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(make_settings("sqlite+aiosqlite://"))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> list[Operation]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def _examples(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of one media type: its own, or its schema's."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [example["value"] for example in media["examples"].values()]
    schema = _resolve(document, media.get("schema", {}))
    return list(schema.get("examples", [])) + ([schema["example"]] if "example" in schema else [])


def _error_statuses() -> dict[str, int]:
    """Every error code the code can answer, with its status."""
    statuses: dict[str, int] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        error = pending.pop()
        statuses[error.code] = error.status_code
        pending.extend(error.__subclasses__())
    return statuses


def test_every_route_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) >= 19
    for method, path, operation in operations:
        assert operation.get("summary"), (method, path)
        assert operation.get("description", "").strip(), (method, path)


def test_every_route_declares_its_error_answers(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        declared = {int(status) for status in operation["responses"]}
        if path.startswith("/api/"):
            assert set(ALWAYS) <= declared, (method, path, declared)
        if operation.get("security"):
            assert 401 in declared, (method, path, declared)


def test_every_error_answer_has_examples_of_errors_the_code_raises(
    document: dict[str, Any],
) -> None:
    statuses = _error_statuses()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            examples = _examples(document, response["content"]["application/json"])
            assert examples, (method, path, status)
            for example in examples:
                assert {"error", "detail"} <= set(example), (method, path, status)
                assert re.fullmatch(r"[a-z]+(_[a-z]+)*", example["error"]), example
                assert example["detail"].strip(), example
                # A code the app raises is shown under the status it is sent with.
                known = statuses.get(example["error"])
                assert known in (None, int(status)), (method, path, status, example)


def test_every_body_has_an_example(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        request = operation.get("requestBody", {}).get("content", {})
        for media_type, media in request.items():
            assert _examples(document, media), (method, path, "request", media_type)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                continue
            for media_type, media in response.get("content", {}).items():
                assert _examples(document, media), (method, path, status, media_type)


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, through the routers it includes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            found += _api_routes(route.original_router.routes)
    return found


def _models(route: APIRoute) -> list[type[BaseModel]]:
    annotations = [route.response_model]
    annotations += [param.field_info.annotation for param in route.dependant.body_params]
    return [a for a in annotations if isinstance(a, type) and issubclass(a, BaseModel)]


def test_the_body_examples_are_valid_bodies(app: FastAPI) -> None:
    checked = set()
    for route in _api_routes(app.routes):
        for model in _models(route):
            extra = model.model_config.get("json_schema_extra")
            examples = extra.get("examples", []) if isinstance(extra, dict) else []
            assert examples, f"{model.__name__} ({route.path}) has no example"
            for example in examples:
                # by_name: a response shows a field by its name (ConversationRead.room_name).
                model.model_validate(example, by_name=True)
            checked.add(model.__name__)
    assert {"RegisterRequest", "StartConversationResponse", "MessageList"} <= checked
