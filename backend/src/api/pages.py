"""The browser pages: the start page and a local room's page (plain HTML and JS, no build)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/")
async def start_page() -> FileResponse:
    """Sign in or register, then start a conversation."""
    return FileResponse(WEB_DIR / "index.html", headers=_NO_STORE)


@router.get("/rooms/{room_name}")
async def room_page(room_name: str) -> FileResponse:
    """A local room: talk to the bot in the browser."""
    return FileResponse(WEB_DIR / "room.html", headers=_NO_STORE)
