"""A rejoin on a local room: the user's new WebRTC connection, swapped into the running
SmallWebRTC transport, so the same pipeline (its context, its dialogue state) carries on.

Pipecat 1.14's `SmallWebRTCClient` is built for one connection: it registers its handlers on
that connection in its constructor, and its input and output processors read and write through
the connection it holds. Swapping the connection it holds (and the same handlers onto the new
one) keeps every processor as it is: the audio reader waits on the `None` track meanwhile and
the connected handler gives it the new connection's tracks. This reaches into the client's
private attributes, checked against pipecat 1.14 (`transports/smallwebrtc/transport.py`);
tests/voice/test_rejoin.py fails if a pipecat upgrade changes them.
"""

from __future__ import annotations

from typing import Any


def release_writes_on_hang_up(transport: Any) -> None:
    """Let the bot's audio writes return when a connection goes (for the next one to work).

    Each write waits until the connection's output track has sent the audio; a connection that
    closes mid-sentence never does, and after 10 s pipecat writes the output transport off for
    good (`audio_out_write_timeout_secs`), so a rejoin's connection would stay silent. The
    client drops the track when its connection closes: the waiting writes are released first.
    """
    client = transport._client
    closed, disconnected = client._handle_client_closed, client._handle_peer_disconnected

    async def on_closed() -> None:
        _release(client._audio_output_track)
        await closed()

    async def on_disconnected() -> None:
        _release(client._audio_output_track)
        await disconnected()

    client._handle_client_closed = on_closed
    client._handle_peer_disconnected = on_disconnected


def _release(track: Any) -> None:
    # Our own SpeechTrack (voice_pipeline/media.py) says how; pipecat's RawAudioTrack does not.
    release = getattr(track, "release_writes", None)
    if release is not None:
        release()
        return
    queue = getattr(track, "_chunk_queue", None)
    while queue:
        _chunk, future = queue.popleft()
        if future is not None and not future.done():
            future.set_result(True)


async def swap_connection(transport: Any, connection: Any) -> None:
    """Make `connection` the one the running `SmallWebRTCTransport` speaks through; the
    transport then reports `on_client_connected` once the new connection's media is up."""
    from pipecat.transports.smallwebrtc.transport import _SOURCES_BY_RECEIVER

    client = transport._client
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
        source = _SOURCES_BY_RECEIVER.get(receiver_index)
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
