"""pipecat's SmallWebRTC transport, with our own outgoing audio track and a swappable connection.

pipecat 1.14's `SmallWebRTCClient` is built for one connection and one track of its own make:
- it makes its `RawAudioTrack` when the client connects, and `SmallWebRTCTransport` has no
  hook to make another: `AudioTrackTransport._on_client_connected` replaces it before the
  sender reads a frame (the client has not yielded since it made it);
- it registers its handlers on its connection in its constructor, and its input and output
  processors read and write through the connection it holds. `swap_connection` swaps the
  connection it holds (and the same handlers onto the new one), which keeps every processor as
  it is: the audio reader waits on the `None` track meanwhile and the connected handler gives
  it the new connection's tracks (a user's rejoin, `rooms/local/transport.py`);
- a write waits until the connection's output track has sent it, and the client drops the
  track when its connection goes: `release_writes_on_hang_up` releases the writers first.
"""

from __future__ import annotations

from typing import Any

import pipecat.transports.smallwebrtc.transport as smallwebrtc
from pipecat.transports.smallwebrtc.transport import (
    RawAudioTrack,
    SmallWebRTCClient,
    SmallWebRTCTransport,
)
from pipecat.utils.base_object import BaseObject

from src.compat import Private

PRIVATE_NAMES = (
    Private(SmallWebRTCTransport, "_client"),
    Private(SmallWebRTCTransport, "_on_client_connected"),
    Private(SmallWebRTCClient, "_audio_output_track"),
    Private(SmallWebRTCClient, "_out_sample_rate"),
    Private(SmallWebRTCClient, "_webrtc_connection"),
    Private(SmallWebRTCClient, "_closing"),
    Private(SmallWebRTCClient, "_callbacks"),
    Private(SmallWebRTCClient, "_handle_client_connected"),
    Private(SmallWebRTCClient, "_handle_peer_disconnected"),
    Private(SmallWebRTCClient, "_handle_client_closed"),
    Private(SmallWebRTCClient, "_handle_app_message"),
    Private(RawAudioTrack, "_chunk_queue"),
    Private(BaseObject, "_event_handlers"),
    Private(smallwebrtc, "_SOURCES_BY_RECEIVER"),
)


class AudioTrackTransport(SmallWebRTCTransport):
    """SmallWebRTCTransport sending the bot's audio on the track `audio_track` makes."""

    def audio_track(self, sample_rate: int, connection: Any) -> Any:
        """A new outgoing audio track for `connection` (pipecat's `RawAudioTrack` contract:
        `add_audio_bytes(pcm) -> future`), at the pipeline's output rate."""
        raise NotImplementedError

    async def _on_client_connected(self, webrtc_connection: Any) -> None:
        # pipecat's client has just made its RawAudioTrack and given it to the sender, without
        # yielding since: replace it before the sender reads a frame.
        client = self._client
        if client._audio_output_track is not None:
            track = self.audio_track(client._out_sample_rate, webrtc_connection)
            client._audio_output_track = track
            webrtc_connection.replace_audio_track(track)
        await super()._on_client_connected(webrtc_connection)  # type: ignore[no-untyped-call]


def release_writes_on_hang_up(transport: SmallWebRTCTransport) -> None:
    """Let the bot's audio writes return when a connection goes (for the next one to work).

    Each write waits until the connection's output track has sent the audio; a connection that
    closes mid-sentence never does, and after 10 s pipecat writes the output transport off for
    good (`audio_out_write_timeout_secs`), so a rejoin's connection would stay silent. The
    client drops the track when its connection closes: the waiting writes are released first.
    """
    client: Any = transport._client
    closed, disconnected = client._handle_client_closed, client._handle_peer_disconnected

    async def on_closed() -> None:
        release_writes(client._audio_output_track)
        await closed()

    async def on_disconnected() -> None:
        release_writes(client._audio_output_track)
        await disconnected()

    client._handle_client_closed = on_closed
    client._handle_peer_disconnected = on_disconnected


def release_writes(track: Any) -> None:
    """Release the writers waiting on an output track's unsent audio."""
    # A track of our own says how (`release_writes`); pipecat's RawAudioTrack does not.
    release = getattr(track, "release_writes", None)
    if release is not None:
        release()
        return
    queue = getattr(track, "_chunk_queue", None)
    while queue:
        _chunk, future = queue.popleft()
        if future is not None and not future.done():
            future.set_result(True)


async def swap_connection(transport: SmallWebRTCTransport, connection: Any) -> None:
    """Make `connection` the one the running `SmallWebRTCTransport` speaks through; the
    transport then reports `on_client_connected` once the new connection's media is up."""
    client: Any = transport._client
    old = client._webrtc_connection
    # The old connection no longer speaks for the client (a late "closed" would drop the new
    # connection's tracks).
    for handler in old._event_handlers.values():
        handler.handlers.clear()
    client._webrtc_connection = connection
    client._closing = False

    async def on_connected(_connection: Any) -> None:
        await client._handle_client_connected()

    async def on_disconnected(_connection: Any) -> None:
        await client._handle_peer_disconnected()

    async def on_closed(_connection: Any) -> None:
        await client._handle_client_closed()

    async def on_app_message(_connection: Any, message: Any) -> None:
        await client._handle_app_message(message, connection.pc_id)

    async def on_track_status(_connection: Any, receiver_index: int, enabled: bool) -> None:
        source = smallwebrtc._SOURCES_BY_RECEIVER.get(receiver_index)
        if source:
            await client._callbacks.on_track_status(source, enabled)

    connection.event_handler("connected")(on_connected)
    connection.event_handler("disconnected")(on_disconnected)
    connection.event_handler("closed")(on_closed)
    connection.event_handler("app-message")(on_app_message)
    connection.event_handler("track-status")(on_track_status)
    output = transport.output()
    if not output.is_usable:  # written off while no connection read its audio
        await output.set_usable(True)
    await connection.connect()
