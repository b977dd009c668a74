"""The Postman collection (v2.1) of the API, made from its OpenAPI schema.

    .venv/bin/python scripts/postman_collection.py            # writes docs/postman_collection.json
    .venv/bin/python scripts/postman_collection.py --check    # exit 1 if that file is stale

Import the file in Postman (File > Import). Its variables: `baseUrl` (http://127.0.0.1:8000);
`accessToken`, set by Register or Login; `conversationId`, `roomName` and `roomToken`, set by
Start or Join. Every request is one of the schema's operations, folded by tag, with the body
the schema's example gives (or one made from the field types). The tests regenerate it and
compare (backend/tests/api/test_postman_collection.py), so a route change without a new file
fails them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "postman_collection.json"
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
BASE_URL = "http://127.0.0.1:8000"

# Path parameters, filled from the collection's variables.
PATH_VARIABLES = {"conversation_id": "{{conversationId}}", "room_name": "{{roomName}}"}
# The room endpoints take the room token the start or join answered, the others the user's.
ROOM_TAG = "rooms"
# What an answer's JSON sets in the collection's variables (Postman test scripts).
CAPTURES = {
    "access_token": ["pm.collectionVariables.set('accessToken', body.access_token);"],
    "daily_token": [
        "pm.collectionVariables.set('conversationId', body.conversation_id);",
        "pm.collectionVariables.set('roomToken', body.daily_token);",
        "pm.collectionVariables.set('roomName', body.daily_room_url.split('/').pop());",
    ],
}


def openapi() -> dict[str, Any]:
    """The API's OpenAPI schema, as the app serves it at /openapi.json."""
    sys.path.insert(0, str(REPO / "backend"))
    from src.core.settings import Settings
    from src.main import create_app

    return create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]


def collection(schema: dict[str, Any]) -> dict[str, Any]:
    """The Postman collection of every operation in `schema`."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(_item(schema, path, method, operation))
    info = schema["info"]
    return {
        "info": {
            "name": info["title"],
            "description": info.get("description", ""),
            "schema": SCHEMA_URL,
        },
        "auth": _bearer("{{accessToken}}"),
        "variable": [
            {"key": "baseUrl", "value": BASE_URL},
            *(
                {"key": key, "value": ""}
                for key in ("accessToken", "conversationId", "roomName", "roomToken")
            ),
        ],
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
    }


def _bearer(token: str) -> dict[str, Any]:
    return {"type": "bearer", "bearer": [{"key": "token", "value": token, "type": "string"}]}


def _item(
    schema: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": _url(path, operation),
        "description": operation.get("description") or operation.get("summary", ""),
    }
    if not operation.get("security"):
        request["auth"] = {"type": "noauth"}
    elif ROOM_TAG in operation.get("tags", []):
        request["auth"] = _bearer("{{roomToken}}")
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        example = _example(schema, body["schema"])
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(example, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    item: dict[str, Any] = {
        "name": f"{operation.get('summary', method)} ({method.upper()} {path})",
        "request": request,
    }
    script = _captures(schema, operation)
    if script:
        item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}]
    return item


def _url(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    segments = [
        f":{part[1:-1]}" if part.startswith("{") else part for part in path.strip("/").split("/")
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments),
        "host": ["{{baseUrl}}"],
        "path": segments,
    }
    parameters = operation.get("parameters", [])
    variables = [
        {"key": p["name"], "value": PATH_VARIABLES.get(p["name"], "")}
        for p in parameters
        if p["in"] == "path"
    ]
    if variables:
        url["variable"] = variables
    query = [
        {"key": p["name"], "value": str(p.get("schema", {}).get("default", "")), "disabled": True}
        for p in parameters
        if p["in"] == "query"
    ]
    if query:
        url["query"] = query
    return url


def _captures(schema: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The test script that keeps the tokens and ids an answer carries."""
    answer = operation.get("responses", {}).get("200") or operation.get("responses", {}).get("201")
    content = (answer or {}).get("content", {}).get("application/json", {})
    fields = _resolve(schema, content.get("schema", {})).get("properties", {})
    lines = [line for field, sets in CAPTURES.items() if field in fields for line in sets]
    if not lines:
        return []
    return (
        ["if (pm.response.code < 300) {", "  const body = pm.response.json();"]
        + [f"  {line}" for line in lines]
        + ["}"]
    )


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    return node


def _example(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """The schema's own example of a body, else one made from its fields' types."""
    node = _resolve(schema, node)
    if node.get("examples"):
        return node["examples"][0]
    if "example" in node:
        return node["example"]
    if "default" in node:
        return node["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if node.get(key):
            options = [o for o in node[key] if o.get("type") != "null"] or node[key]
            return _example(schema, options[0])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {name: _example(schema, field) for name, field in node.get("properties", {}).items()}
    if kind == "array":
        return [_example(schema, node.get("items", {}))]
    formats = {
        "date": "1990-12-10",
        "email": "ada@example.com",
        "date-time": "2026-01-01T00:00:00Z",
    }
    if kind == "string":
        return node.get("enum", [formats.get(node.get("format", ""), "string")])[0]
    return {"integer": 0, "number": 0.0, "boolean": False}.get(kind)


def render() -> str:
    """The collection file's text."""
    return json.dumps(collection(openapi()), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/postman_collection.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
