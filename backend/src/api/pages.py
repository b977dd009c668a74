"""The browser pages: the start page and a local room's page (plain HTML and JS, no build)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(include_in_schema=False)

# The pages load their own script and style only and talk to this origin only (fetch; the
# media goes over WebRTC, which CSP does not govern). No inline script or style, so an injected
# one does not run; no framing, so the room cannot be overlaid by another site (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob: mediastream:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Sent with every page and static file: the room token travels in the URL fragment, which no
# Referer carries, but nothing else of a page's URL should leave it either.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    **SECURITY_HEADERS,
}


@router.get("/")
async def start_page() -> FileResponse:
    """Sign in or register, then start a conversation."""
    return FileResponse(WEB_DIR / "index.html", headers=_PAGE_HEADERS)


@router.get("/rooms/{room_name}")
async def room_page(room_name: str) -> FileResponse:
    """A local room: talk to the bot in the browser."""
    return FileResponse(WEB_DIR / "room.html", headers=_PAGE_HEADERS)


class StaticWithHeaders(StaticFiles):
    """The pages' scripts and style, with the security headers (nosniff above all: a script is
    run only when served as one)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response
