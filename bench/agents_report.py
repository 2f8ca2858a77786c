"""The tables bench/agents.py prints: idle costs, goal runs against their bound, turn phases."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from agents_idle import GOAL_IDLE_TURN_MS, IdleBatch, summarise
from bench_common import Row, markdown_table

GOAL_RATIO = 1.2
PHASES = ("queue", "begin", "model", "tool", "finish", "complete", "total")


def _idle_summaries(raw: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, float]]:
    """(database, kind, concurrency) -> medians over rounds."""
    grouped: dict[tuple[str, str, int], list[IdleBatch]] = defaultdict(list)
    for backend, result in raw.get("idle", {}).items():
        for batch in result["batches"]:
            found = IdleBatch(**batch)
            grouped[(backend, found.kind, found.concurrency)].append(found)
    return {key: summarise(batches) | {"rounds": len(batches)} for key, batches in grouped.items()}


def print_idle(raw: dict[str, Any]) -> list[Row]:
    """The idle table; the goal rows."""
    summaries = _idle_summaries(raw)
    if not summaries:
        return []
    print("\nIdle agents (per job; medians over rounds)")
    print(
        "| Database | Job | Concurrency | Wall ms/job | Process CPU ms/job | Handler wall p50 ms "
        "| Handler CPU ms | Enqueue ms/job | Rounds |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (backend, kind, concurrency), s in sorted(summaries.items()):
        print(
            f"| {backend} | `{kind}` | {concurrency} | {s['wall_ms_per_job']:.2f} "
            f"| {s['process_cpu_ms_per_job']:.2f} | {s['handler_wall_ms_p50']:.2f} "
            f"| {s['handler_cpu_ms_mean']:.2f} | {s['enqueue_ms_per_job']:.2f} | {s['rounds']} |"
        )
    rows = []
    for backend in raw.get("idle", {}):
        turns = {c: s for (b, k, c), s in summaries.items() if b == backend and k == "agent.turn"}
        best = min(turns, key=lambda c: turns[c]["wall_ms_per_job"])
        wall, cpu = turns[best]["wall_ms_per_job"], turns[best]["process_cpu_ms_per_job"]
        rows.append(
            Row(
                f"Idle turn, {backend} (wall / N, best concurrency: {best})",
                f"**{wall:.2f} ms**",
                f"< {GOAL_IDLE_TURN_MS:g} ms",
                "**yes**" if wall < GOAL_IDLE_TURN_MS else "**no**",
                f"process CPU {cpu:.2f} ms/turn; the handler's own CPU "
                f"{turns[best]['handler_cpu_ms_mean']:.2f} ms",
            )
        )
    return rows


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def print_goals(raw: dict[str, Any]) -> tuple[list[Row], list[str]]:
    """The goal runs, the phases of a turn and the busiest agents; the goal rows, problems."""
    goals = raw.get("goals", {})
    if not goals:
        return [], []
    print(f"\nGoals: team {raw['team']}")
    print(
        "| Database | Processes | Round | Wall s | Chain s | Busiest agent s | Bound s "
        "| Wall ÷ bound | Turns (idle) | Requests | CPU ms/turn | SQL/turn "
        "| Request latency p50 / p90 ms | Loop lag p50 / p99 ms | Other load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    problems: list[str] = []
    notes: list[str] = []
    for backend, runs in goals.items():
        for run in runs:
            idle = run["turn_outcomes"].get("idle", 0)
            latency, lag = run["client_latency_ms"], run["loop_lag_ms"]
            print(
                f"| {backend} | {run.get('processes', 1)} | {run['round'] + 1} "
                f"| {run['wall_seconds']:.1f} "
                f"| {run['chain_seconds']:.1f} | {run['agent_seconds']:.1f} "
                f"| {run['bound_seconds']:.1f} | {run['ratio']:.2f} | {run['turns']} ({idle}) "
                f"| {run['requests']} | {run['process_cpu_seconds'] * 1000 / run['turns']:.0f} "
                f"| {_per_turn_sql(run)} "
                f"| {latency['p50']:.0f} / {latency['p90']:.0f} "
                f"| {lag.get('p50', 0):.1f} / {lag.get('p99', 0):.0f} "
                f"| {run['other_load_cores']:.2f} |"
            )
            problems += [f"{backend} round {run['round'] + 1}: {p}" for p in run["problems"]]
            for failed in run["failed_requests"]:
                notes.append(f"{backend} round {run['round'] + 1}: a request failed ({failed})")
            if run["turn_retries"]:
                notes.append(
                    f"{backend} round {run['round'] + 1}: {run['turn_retries']} turn attempt(s) "
                    "failed and ran again (deadlocks on PostgreSQL: see RESULTS.md)"
                )
    for note in notes:
        print(f"  {note}")
    _print_phases(goals)
    _print_busiest(goals)
    rows = [
        Row(
            f"100 goals x 4, {backend}, {runs[0].get('processes', 1)} worker process(es): "
            "wall ÷ latency-bound critical path"
            if runs[0]["goals"] == 100
            else f"{runs[0]['goals']} goals x 4, {backend}: wall ÷ bound",
            f"**{_median(runs, 'ratio'):.2f}**",
            f"≤ {GOAL_RATIO:g}",
            "**yes**" if _median(runs, "ratio") <= GOAL_RATIO else "**no**",
            f"wall {_median(runs, 'wall_seconds'):.1f} s, bound "
            f"{_median(runs, 'bound_seconds'):.1f} s (chain "
            f"{_median(runs, 'chain_seconds'):.1f}, busiest agent "
            f"{_median(runs, 'agent_seconds'):.1f}); {len(runs)} round(s)",
        )
        for backend, runs in goals.items()
    ]
    return rows, problems


def _print_phases(goals: dict[str, list[dict[str, Any]]]) -> None:
    print("\nWhere a turn's time goes (median ms per phase; first round)")
    print("| Database | Turn | Count | " + " | ".join(PHASES) + " |")
    print("|---|---|---:|" + "---:|" * len(PHASES))
    for backend, runs in goals.items():
        run = runs[0]
        for mode, phases in sorted(run["phases_ms"].items()):
            cells = " | ".join(f"{phases[p]:.0f}" if p in phases else "-" for p in PHASES)
            count = run["turn_outcomes"].get(mode, 0)
            print(f"| {backend} | {mode} | {count} | {cells} |")


def _print_busiest(goals: dict[str, list[dict[str, Any]]]) -> None:
    print("\nRequests per agent (first round): the busiest, and the least busy")
    for backend, runs in goals.items():
        by_agent = runs[0]["requests_by_agent"]
        ranked = sorted(by_agent.items(), key=lambda item: (-item[1], item[0]))
        top = ", ".join(f"{name} {count}" for name, count in ranked[:4])
        low = ", ".join(f"{name} {count}" for name, count in ranked[-3:])
        print(f"  {backend}: {top}; ... {low} ({len(by_agent)} agents made requests)")


def print_report(raw: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """Every table; the problems found by the checks."""
    print(
        f"\nMeasured {facts['date']} at commit {facts['commit']} on {facts['nproc']} cores "
        f"({facts['cpu']}), Python {facts['python']}; CPUs busy before the run "
        f"{facts['busy_cores_before_run']:.2f}, load average at the end "
        f"{facts['load_average'][0]:.2f}."
    )
    rows = print_idle(raw)
    goal_rows, problems = print_goals(raw)
    print("\n" + markdown_table(rows + goal_rows))
    return problems


def _per_turn_sql(run: dict[str, Any]) -> str:
    """Statements per turn, of this process's turns only when other worker processes ran."""
    statements = run.get("statements", 0)
    if not statements or run.get("processes", 1) > 1:
        return "-"
    return f"{statements / run['turns']:.1f}"
