"""ICE servers (STUN/TURN) as WebRTC's RTCIceServer dictionary, and their URL rules."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# RFC 7064 / RFC 7065 URLs as browsers and aiortc accept them: no user part, an optional port,
# and for TURN an optional transport (udp or tcp).
_URL = re.compile(r"(?P<scheme>stuns?|turns?):[^?:\s/@]+(:\d{1,5})?(\?transport=(udp|tcp))?")


def check_ice_url(url: str, *, turn_only: bool = False) -> str:
    """The URL if it is a valid stun:/stuns:/turn:/turns: URL (turn only, if asked)."""
    match = _URL.fullmatch(url.strip())
    if match is None or (turn_only and not match["scheme"].startswith("turn")):
        kinds = "turn:host[:port][?transport=udp|tcp] or turns:" if turn_only else "stun: or turn:"
        raise ValueError(f"{url!r} is not an ICE server URL: write it as {kinds}")
    if match["scheme"].startswith("stun") and "?" in url:
        raise ValueError(f"{url!r}: a stun: URL takes no transport")
    return url.strip()


class IceServer(BaseModel):
    """One STUN or TURN server, as `RTCPeerConnection({iceServers: [...]})` takes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "urls": ["turn:turn.example.com:3478?transport=udp"],
                    "username": "1796157490:550e8400-e29b-41d4-a716-446655440000",
                    "credential": "n6Bbs3Zm1I1mAqk+f1xS0Rt5y2M=",
                }
            ]
        },
    )

    urls: list[str] = Field(min_length=1, description="stun:, stuns:, turn: or turns: URLs")
    username: str | None = Field(default=None, description="TURN only")
    credential: str | None = Field(default=None, description="TURN only")

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _valid_urls(cls, urls: list[str]) -> list[str]:
        return [check_ice_url(url) for url in urls]

    @model_validator(mode="after")
    def _turn_needs_credentials(self) -> IceServer:
        # Browsers refuse a TURN entry without them (InvalidAccessError): fail at start instead.
        turn = any(url.startswith("turn") for url in self.urls)
        if turn and not (self.username and self.credential):
            raise ValueError(f"the TURN server {self.urls[0]!r} needs a username and a credential")
        return self
