"""The v1 API: every endpoint module's router under /api/v1."""

from fastapi import APIRouter

from src.api.v1.endpoints import auth, conversations, numerology, rooms, users

api_router = APIRouter(prefix="/api/v1")

api_router.include_router(auth.router)
api_router.include_router(users.router)
# The spec's wiring: POST /api/v1/conversations/start (the router carries the prefix).
api_router.include_router(conversations.router)
api_router.include_router(rooms.router)
api_router.include_router(numerology.router)
