"""The test kit: what the tests and the bench (`bench/`) both use to play users and run the app.

- `tests.kit.processes`: the app, workers and a private Redis as child processes, and the
  workers' heartbeats.
- `tests.kit.speech`: the user's words (Piper) and what Whisper hears in the bot's.
- `tests.voice.peer`: the user's WebRTC peer (aiortc).
- `tests.fakes`: the outside services (Daily's REST API and call client, the LLM, webhooks'
  receivers, a TCP proxy that cuts a line).

None of it imports a conftest or pytest, so the bench runs it outside pytest.
"""
