"""Daily.co rooms: made through Daily's REST API, joined with pipecat's Daily transport."""
