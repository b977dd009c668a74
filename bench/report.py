"""The tables `make bench` prints: each mode's figures, the modes side by side, the goals."""

from __future__ import annotations

from typing import Any

from bench.bargein import print_barge_in
from bench.browser_network import print_browser
from bench.load import ms, print_load
from bench.network import print_buffer_replay, print_network
from bench.plan import where_it_ran
from bench.stt import print_stt
from bench.synthesis import report as synthesis_report
from tests.kit.load import load_user_cost

# Figure 6's limits: the greeting within 1.5 s, an answer within 3 s, no gap over 100 ms.
GREETING_LIMIT = 1.5
ANSWER_LIMIT = 3.0
STUTTER_GAP = 0.1
# The worker mode's goals (issue 11), and two workers on two cores against one on one (issue 20).
CEILING_FACTOR = 2.0
DISPATCH_START_MS = 10.0
SCALING_GOAL = 1.6
# A load user's cost to the load generator, in % of a core (issue 20).
LOAD_USER_GOAL = 1.0


def report(figures: dict[str, Any]) -> None:
    """Print every figure of a run."""
    print(f"\nmachine: {figures['machine']}; database: {figures.get('database')}")
    before, after = figures["load_average_before"], figures["load_average_after"]
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in after)
    )
    for mode, figs in figures["modes"].items():
        title = f"WORKERS={figures['workers']}" if mode == "workers" else "one process"
        print(f"\n=== {mode} mode ({title}) ===")
        _print_mode(mode, figs)
    if len(figures["modes"]) == 2:
        _print_modes_side_by_side(figures["modes"]["embedded"], figures["modes"]["workers"])
    _print_load_users(figures["modes"], figures.get("scaling", {}))
    if "scaling" in figures:
        _print_scaling(figures["scaling"], figures["modes"].get("workers", {}).get("ceiling_light"))
    if "process_per_bot" in figures:
        _print_side_by_side(figures)
    if "barge_in" in figures:
        print_barge_in(figures["barge_in"])
    if "stt" in figures:
        print_stt(figures["stt"])
    if "synthesis" in figures:
        print(synthesis_report(figures["synthesis"]))
    if figures.get("part_seconds"):
        _print_part_seconds(figures["part_seconds"])


def _print_part_seconds(seconds: dict[str, int]) -> None:
    total = sum(seconds.values())
    print(f"\nwhere the run's time went: {total / 60:.1f} minutes in its parts")
    for part, took in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<28}{took / 60:>6.1f} min")


def _print_latency(latency: dict[str, dict[str, float]]) -> None:
    print(f"{'figure':<26}{'n':>4}{'min':>9}{'median':>9}{'p95':>9}{'max':>9}  (ms)")
    for name, stats in latency.items():
        if stats.get("n"):
            print(
                f"{name:<26}{stats['n']:>4}{stats['min']:>9.0f}{stats['median']:>9.0f}"
                f"{stats['p95']:>9.0f}{stats['max']:>9.0f}"
            )


def _print_mode(mode: str, figures: dict[str, Any]) -> None:
    if figures.get("latency"):
        _print_latency(figures["latency"])
    if "network_buffers" in figures:
        print_buffer_replay(figures["network_buffers"])
    if "network" in figures:
        print_network(figures["network"])
    if "browser_network" in figures:
        print_browser(figures["browser_network"])
    if "idle" in figures:
        where = "the worker processes summed" if mode == "workers" else "shared models, one process"
        _print_idle(f"idle conversations ({where})", figures["idle"])
        peers = figures.get("idle_test_peers")
        if peers:
            print(
                f"{peers['conversations']} test peers instead{'':<5}{peers['rss_mb']:>9.0f}"
                f"{peers['cpu_percent_of_one_core']:>17.1f}"
            )
        for name, value in figures["per_extra_idle_conversation"].items():
            print(f"per extra idle conversation (0 to 5): {name} {value:.1f}")
        if mode == "embedded" and any(r["cpu_percent_of_one_core"] > 80 for r in figures["idle"]):
            print("note: the server used over 80 % of a core at some level: it was saturated")
    if "ceiling" in figures:
        _print_ceiling(figures["ceiling"], "test peers, each encoding and decoding")
    if "ceiling_light" in figures:
        _print_ceiling(figures["ceiling_light"], "load users and a canary")
    if "talking" in figures:
        _print_talking(figures["talking"])
    print_load(figures)
    if "stutter" in figures:
        stutter = figures["stutter"]
        print(
            "\nidle conversations before a new greeting stutters (a gap over "
            f"{STUTTER_GAP * 1000:.0f} ms): {stutter['largest_idle_without_stutter']}"
        )
        for row in stutter["steps"]:
            print(
                f"  {row['idle_conversations']:>3} idle: median of the longest gaps "
                f"{row['median_max_gap_ms']:.0f} ms (each greeting: {row['max_gaps_ms']})"
            )


def _print_ceiling(ceiling: dict[str, Any], users: str) -> None:
    bound = "at least " if ceiling.get("at_least") else ""
    print(
        f"\nconcurrency ceiling, {users}: {bound}{ceiling['ceiling']} conversations (greeting "
        f"within {GREETING_LIMIT} s of the offer, answer within {ANSWER_LIMIT} s of the question"
        + ("; the search's largest level held" if bound else "")
        + ")"
    )
    costs = any("load_generator_percent_of_a_core" in row for row in ceiling["steps"])
    print(
        f"{'N':<6}{'greeting max':>14}{'answer p50':>12}{'answer max':>12}{'missed':>8}  ok"
        + ("     load %  load %/user  server %  canary" if costs else "")
    )
    warm = [ceiling["warm_up"]] if ceiling.get("warm_up") else []
    for row in [*warm, *ceiling["steps"]]:
        line = (
            f"{row['conversations']:<6}{row['greeting_max_ms']:>14.0f}"
            f"{ms(row['answer_median_ms']):>12.0f}"
            f"{row['answer_max_ms']:>12.0f}{row['missed']:>8}  {row['ok']!s:<5}"
        )
        if "load_generator_percent_of_a_core" in row:
            load = row["load_generator_percent_of_a_core"]
            canary = {True: "right", False: "WRONG", None: "-"}[row["canary_right"]]
            if "canary_heard_errors" in row:
                canary += f", heard {row['canary_heard_errors']:.0%} off"
            line += (
                f"{load:>9.0f}{load / row['conversations']:>13.2f}"
                f"{row['server_percent_of_a_core']:>10.0f}  {canary}"
            )
        if row.get("stopped_early"):
            line += "  (stopped at its first failure: figures of the part heard)"
        if row is ceiling.get("warm_up"):
            line += "  (the warm-up: not judged)"
        print(line)
    if "load_user_percent_of_a_core" in ceiling:
        print(
            f"one more load user: {ceiling['load_user_percent_of_a_core']:.2f} % of a core (the "
            "line through the steps; with none, the canary and the bench: "
            f"{ceiling['load_fixed_percent_of_a_core']:.0f} %)"
        )


def _print_load_users(modes: dict[str, Any], scaling: dict[str, Any] | None = None) -> None:
    """A load user's cost read off every load-user ceiling step of the run together: each
    mode's and the one-core scaling run's (the same load generator; a search from a good guess
    keeps its steps a few users apart, too close for a line of its own: `load_user_cost`, where
    the searches' ceilings lie apart); and the most any step cost per user, the fixed cost
    divided in (a bound)."""
    searches = {mode: figures.get("ceiling_light", {}) for mode, figures in modes.items()} | {
        f"WORKERS={workers} (scaling)": run
        for workers, run in (scaling or {}).items()
        if isinstance(run, dict) and "steps" in run
    }
    steps = [
        row
        for search in searches.values()
        for row in search.get("steps", [])
        if "load_generator_percent_of_a_core" in row
    ]
    if not steps:
        return
    named = [name for name, search in searches.items() if search.get("steps")]
    most = max(row["load_generator_percent_of_a_core"] / row["conversations"] for row in steps)
    print(
        f"\na load user (goal under {LOAD_USER_GOAL:.0f} % of a core), from the load-user ceiling "
        f"steps of {', '.join(named)} ({len(steps)} steps, "
        f"{min(r['conversations'] for r in steps)} to {max(r['conversations'] for r in steps)} "
        "users):"
    )
    print(
        f"  at most {most:.2f} % a user in a step (the canary's and the bench's fixed cost "
        f"divided in): {'met' if most < LOAD_USER_GOAL else 'missed'}"
    )
    if (line := load_user_cost(steps)) is not None:
        print(
            f"  one more load user: {line[0]:.2f} % of a core (the line through the steps; with "
            f"none {line[1]:.0f} %): {'met' if line[0] < LOAD_USER_GOAL else 'missed'}"
        )


def _print_talking(row: dict[str, Any]) -> None:
    print(
        f"\nthe server's CPU, {row['conversations']} load users for "
        f"{row['minutes']:.1f} min, {row['questions_per_conversation_minute']:.1f} questions a "
        "conversation minute"
    )
    print(f"  no conversation: {row['baseline_cpu_seconds_per_minute']:.2f} CPU s a minute")
    print(f"  idle:    {row['idle_cpu_seconds_per_conversation_minute']:.2f} CPU s a minute each")
    print(
        f"  talking: {row['talking_cpu_seconds_per_conversation_minute']:.2f} CPU s a minute "
        f"each, {row['talking_conversations_per_core']:.0f} talking conversations a core"
    )
    print(
        f"  answers p50 {ms(row['answer_median_ms']):.0f} ms, max {row['answer_max_ms']:.0f} ms; "
        f"greeting max {row['greeting_max_ms']:.0f} ms; missed {row['missed']}"
    )


def _at_the_ceiling(ceiling: dict[str, Any] | None) -> dict[str, Any] | None:
    """A load-user search's step at its ceiling, if it measured where the CPU went."""
    if not ceiling:
        return None
    held: list[dict[str, Any]] = [
        row
        for row in ceiling.get("steps", [])
        if row["conversations"] == ceiling["ceiling"] and "machine_percent_of_a_core" in row
    ]
    return held[0] if held else None


def _print_where_the_cpu_went(one: dict[str, Any] | None, two: dict[str, Any] | None) -> None:
    """Each scaling run's step at its ceiling: the CPU of the service, the load generator, the
    database and Redis, and the machine's; and the conversations a core of the service's CPU
    held (the two workers share their cores with the rest, the one-core service does not)."""
    rows = [(what, row) for what, row in (("one core", one), ("two workers", two)) if row]
    if not rows:
        return
    print("where the CPU went at each ceiling (its step; % of a core):")
    print(
        f"  {'':<13}{'service':>9}{'load':>7}{'database and Redis':>20}{'machine':>9}"
        f"{'conversations a service core':>30}"
    )
    per_core = []
    for what, row in rows:
        service = row["server_percent_of_a_core"] + row.get("api_percent_of_a_core", 0.0)
        per_core.append(row["conversations"] / service * 100)
        print(
            f"  {what:<13}{service:>9.0f}{row['load_generator_percent_of_a_core']:>7.0f}"
            f"{row['database_and_redis_percent_of_a_core']:>20.0f}"
            f"{row['machine_percent_of_a_core']:>9.0f}{per_core[-1]:>30.1f}"
        )


def _print_scaling(scaling: dict[str, Any], worker_mode: dict[str, Any] | None = None) -> None:
    if "skipped" in scaling:
        print(f"\nworker scaling: not run ({scaling['skipped']})")
        return
    for workers in ("1", "2"):
        run = scaling[workers]
        where = where_it_ran(run["worker_cpus"], run["api_cpus"], run["bench_cpus"])
        if run.get("from_the_worker_mode"):
            bound = "at least " if run.get("at_least") else ""
            print(
                f"\nWORKERS={workers}, {where}: {bound}{run['ceiling']} conversations (the "
                "worker mode's ceiling-light search above)"
            )
        else:
            _print_ceiling(run, f"WORKERS={workers}, {where}")
    ratio = scaling["ratio"]
    lower = bool(scaling.get("ratio_at_least"))
    met = "met" if ratio is not None and ratio >= SCALING_GOAL else "missed"
    shown = f"{ratio:.2f}x" if ratio is not None else "none"
    if ratio is not None and lower:
        shown = f"at least {shown}"
        if ratio < SCALING_GOAL:
            met = "not known (the two workers' search held at its largest level)"
    print(
        f"\ntwo workers on two cores against the service on one core: {shown} "
        f"(goal at least {SCALING_GOAL}x): {met}"
    )
    two = scaling["2"]
    _print_where_the_cpu_went(
        _at_the_ceiling(scaling["1"]),
        _at_the_ceiling(worker_mode if two.get("from_the_worker_mode") else two),
    )


def _print_idle(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    alive = any("alive" in row for row in rows)
    per_process = any(len(row.get("rss_mb_per_process", [])) > 1 for row in rows)
    print(
        f"{'conversations':<20}{'RSS MB':>9}{'CPU % of a core':>17}"
        + ("  alive" * alive)
        + ("  RSS MB per process" * per_process)
    )
    for row in rows:
        each = ", ".join(f"{mb:.0f}" for mb in row.get("rss_mb_per_process", []))
        print(
            f"{row['conversations']:<20}{row['rss_mb']:>9.0f}"
            f"{row['cpu_percent_of_one_core']:>17.1f}"
            + (f"{row.get('alive', 0):>7}" if alive else "")
            + (f"  {each}" if per_process else "")
        )


def per_extra(rows: list[dict[str, Any]], key: str) -> float | None:
    """The cost of one more conversation, from 0 to the highest level up to 5 measured.

    Above 5 the two cores are saturated in both designs, and the slope means little.
    """
    span = [row for row in rows if row["conversations"] <= 5]
    if len(span) < 2 or not span[-1]["conversations"]:
        return None
    return float((span[-1][key] - span[0][key]) / span[-1]["conversations"])


def _median(figures: dict[str, Any], name: str) -> float | None:
    value = figures.get("latency", {}).get(name, {}).get("median")
    return float(value) if value is not None else None


def _print_pairs(
    title: str, heads: tuple[str, str, str], pairs: list[tuple[str, Any, Any]]
) -> None:
    print(f"\n{title:<30}{heads[0]:>10}{heads[1]:>10}{heads[2]:>8}")
    for label, ours, theirs in pairs:
        if ours is None or theirs is None:
            continue
        ratio = theirs / ours if ours else float("inf")
        print(f"{label:<30}{ours:>10.1f}{theirs:>10.1f}{ratio:>8.1f}")


def _print_modes_side_by_side(embedded: dict[str, Any], workers: dict[str, Any]) -> None:
    names = ("start_sequential", "start_20_concurrent", "bot_ready", "signalling")
    pairs: list[tuple[str, Any, Any]] = [
        (f"{name} p50 (ms)", _median(embedded, name), _median(workers, name))
        for name in (*names, "greeting_first_audio", "voice_to_voice")
    ]
    for key, label in (("rss_mb", "MB"), ("cpu_percent_of_one_core", "CPU %")):
        pairs.append(
            (
                f"per idle conversation, {label}",
                per_extra(embedded.get("idle", []), key),
                per_extra(workers.get("idle", []), key),
            )
        )
    ceilings = [m.get("ceiling", {}).get("ceiling") for m in (embedded, workers)]
    pairs.append(("concurrency ceiling (test peers)", *ceilings))
    light = [m.get("ceiling_light", {}).get("ceiling") for m in (embedded, workers)]
    pairs.append(("concurrency ceiling (load users)", *light))
    for state in ("idle", "talking"):
        key = f"{state}_cpu_seconds_per_conversation_minute"
        cost = [m.get("talking", {}).get(key) for m in (embedded, workers)]
        pairs.append((f"CPU s/min per {state} call", *cost))
    _print_pairs("the two modes (same run)", ("embedded", "workers", "ratio"), pairs)
    print("\ngoals of the worker mode:")
    start = [_median(m, "start_sequential") for m in (embedded, workers)]
    if start[0] is not None and start[1] is not None:
        added = start[1] - start[0]
        met = "met" if added < DISPATCH_START_MS else "missed"
        print(
            f"  dispatch adds {added:.1f} ms to start p50 "
            f"(goal under {DISPATCH_START_MS:.0f}): {met}"
        )
    if ceilings[0] is not None and ceilings[1] is not None:
        met = "met" if ceilings[1] >= CEILING_FACTOR * ceilings[0] else "missed"
        print(
            f"  ceiling {ceilings[1]} against {ceilings[0]} embedded "
            f"(goal at least {CEILING_FACTOR:.0f}x): {met}"
        )


def _print_side_by_side(figures: dict[str, Any]) -> None:
    other = figures["process_per_bot"]
    print("\na process per bot (same run)")
    _print_latency(other["latency"])
    _print_idle("idle conversations (a process per bot: the bot processes summed)", other["idle"])
    if any(row.get("alive", 0) < row["conversations"] for row in other["idle"]):
        print(
            "note: some bot processes ended during the idle levels (why: ended_reasons in the "
            "JSON); the sums count only those alive"
        )
    shared = figures["modes"].get("embedded", {})
    pairs: list[tuple[str, Any, Any]] = [
        (f"{name} p50 (ms)", _median(shared, name), _median(other, name))
        for name in ("bot_ready", "greeting_first_audio")
    ]
    for key, label in (("rss_mb", "MB"), ("cpu_percent_of_one_core", "CPU %")):
        pairs.append(
            (
                f"per idle conversation, {label}",
                per_extra(shared.get("idle", []), key),
                per_extra(other["idle"], key),
            )
        )
    _print_pairs("side by side (same run)", ("shared", "per bot", "ratio"), pairs)
