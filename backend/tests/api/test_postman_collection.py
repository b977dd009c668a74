"""docs/postman_collection.json is the API's OpenAPI schema as scripts/postman_collection.py
makes it: a route added, removed or changed without regenerating the file fails here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "postman_collection", REPO / "scripts" / "postman_collection.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_collection_is_the_current_schema(generator: ModuleType) -> None:
    committed = (REPO / "docs" / "postman_collection.json").read_text()
    stale = "docs/postman_collection.json is stale: run scripts/postman_collection.py"
    assert committed == generator.render(), stale


def test_every_operation_is_a_request_and_the_story_can_run_in_order(
    generator: ModuleType,
) -> None:
    schema = generator.openapi()
    made = json.loads(generator.render())
    requests = {
        (item["request"]["method"], "/" + "/".join(item["request"]["url"]["path"]))
        for folder in made["item"]
        for item in folder["item"]
    }
    operations = {
        (method.upper(), path.replace("{", ":").replace("}", ""))
        for path, methods in schema["paths"].items()
        for method in methods
    }
    assert requests == operations
    # The story's manual test (AC8): log in, then start with the token the login set.
    by_path = {
        "/".join(i["request"]["url"]["path"]): i for folder in made["item"] for i in folder["item"]
    }
    login = by_path["api/v1/auth/login"]
    assert login["request"]["auth"] == {"type": "noauth"}
    assert any("accessToken" in line for line in login["event"][0]["script"]["exec"])
    begin = by_path["api/v1/conversations/start"]
    assert "auth" not in begin["request"]  # the collection's: Bearer {{accessToken}}
    assert made["auth"]["bearer"][0]["value"] == "{{accessToken}}"
    assert any("roomToken" in line for line in begin["event"][0]["script"]["exec"])
