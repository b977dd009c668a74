"""Local rooms: served over WebRTC by this app (pipecat's SmallWebRTC), no outside service."""
