"""The ICE servers (STUN/TURN) of a local room: what the user's page and the bot connect with.

One function answers for the page wherever the room is handed out (the start answer, the room
page's own request, a rejoin), so every answer carries the same kind of TURN credentials.
Daily rooms get none: Daily's client brings its own STUN/TURN.

The bot gets ICE_SERVERS only, never TURN credentials of its own: it runs on a server whose UDP
ports the TURN server reaches, so when the user relays, the relay sends straight to the bot's
host (or STUN-learnt) address. A bot-side allocation would cost a TURN round trip before every
answer (aiortc gathers every candidate before it answers), and a TURN outage would hold every
answer for aioice's gathering timeout (5 s).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from src.core.ice import IceServer
from src.core.security import turn_credentials
from src.core.settings import Settings
from src.rooms.base import ProviderName


def ice_servers_for(
    settings: Settings, provider: ProviderName, conversation_id: uuid.UUID, expires_at: datetime
) -> list[IceServer]:
    """The ICE servers the user's page uses in the conversation's room.

    ICE_SERVERS as configured, and with TURN_SECRET a TURN entry for TURN_URLS whose credentials
    (TURN REST API form) expire with the room, at `expires_at`. Empty for Daily rooms.
    """
    if provider != "local":
        return []
    servers = list(settings.ice_servers)
    if settings.turn_secret and settings.turn_urls:
        username, credential = turn_credentials(settings.turn_secret, conversation_id, expires_at)
        servers.append(
            IceServer(urls=list(settings.turn_urls), username=username, credential=credential)
        )
    return servers
