"""The pages send a Content-Security-Policy that forbids framing and inline code, and the pages
hold no inline code it would block; scripts and styles are served with nosniff."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

PAGES = ["/", "/rooms/some-room"]


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            src = dict(attrs).get("src")
            if not src:
                self.found.append("an inline <script>")
            else:
                self.scripts.append(src)
        if tag == "style":
            self.found.append("a <style> element")
        self.found += [f"{tag} {name}=" for name in names if name == "style"]
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on")]


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_sends_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_holds_no_inline_code_its_policy_would_block(
    client: httpx.AsyncClient, path: str
) -> None:
    parser = InlineCode()
    parser.feed((await client.get(path)).text)
    assert parser.found == []
    assert parser.scripts
    for script in parser.scripts:
        assert script.startswith("/static/")  # 'self'


async def test_scripts_and_styles_are_served_with_nosniff(client: httpx.AsyncClient) -> None:
    for path in ("/static/room.js", "/static/index.js", "/static/style.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
