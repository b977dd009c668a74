"""`make drills`: inject faults into the running app and check that nothing is lost or left.

The app runs as its own process (uvicorn, `bench.drills.app`) on a fresh PostgreSQL database,
which it reaches through a TCP proxy the drill can cut. First with Daily rooms (the fake Daily
API on loopback, which injects the faults), then with local rooms and the real voice bot, the
users being aiortc peers, then with few bot slots taken by users whose connection never
completes, then calls over impaired networks (one a profile of `bench.network`), last in the
worker mode. After each scenario the drill reads the database directly
and asks the app's /health for its bots and rooms, and prints one line: what was injected, what
the API answered, and what was lost or left behind (conversations still live, rooms not
deleted, bots in the registry, rows missing). The same lines go to
bench/results/drills-<date>.json. Exits 1 if any scenario left something wrong.

One module a theme: `base` (the app, the database, users, the checks), `daily` (Daily rooms),
`database`, `bots` (the bot's life), `security`, `signals` (the server stopped or killed),
`connections` (connections that never complete), `network` (impaired networks), `workers` (the
worker mode); `app` is the app the drills serve, `__main__` the run.
"""
