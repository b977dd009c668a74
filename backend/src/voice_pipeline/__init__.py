"""The voice bot (pipecat) and the runner that keeps every bot task."""
