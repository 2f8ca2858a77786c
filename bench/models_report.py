"""The profile summary and the report of bench/models.py (the benchmark is documented there).

Holds what both files need (the contenders' LABELS, the GOAL_* figures, `Options`), the profile
(a cProfile dump as µs per call by area and by gateway step), and the reporting: the tables on
stdout, the JSON in bench/results/ and the fingerprint of src/.
"""

from __future__ import annotations

import hashlib
import json
import pstats
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, ROOT, Row, markdown_table, percentile

GOAL_RATIO_TO_LITELLM = 0.5
GOAL_FALLBACK_MS = 50.0

# Table order; the first column is the key used everywhere (JSON, worker names).
LABELS = {
    "httpx": "httpx.AsyncClient POST + orjson (the floor)",
    "openai-sync": "openai SDK, `OpenAI` (sync)",
    "openai-async": "openai SDK, `AsyncOpenAI`",
    "pydantic-ai": "pydantic-ai `OpenAIChatModel.request`",
    "wire": "gateway's OpenAI model alone (openai_wire, no gateway)",
    "litellm": "`litellm.completion`",
    "gateway-nobudget": "**gateway**, SQLite, metering only (no budget)",
    "gateway-sqlite": "**gateway**, SQLite, budget + metering",
    "gateway-postgres": "**gateway**, PostgreSQL, budget + metering",
}
GATEWAYS = ("gateway-sqlite", "gateway-postgres")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """What to run."""

    quick: bool
    calls: int
    rounds: int
    round_warmup: int
    fresh: int
    steady: int
    profile_calls: int
    postgres_url: str | None
    litellm: bool
    keep: bool


def is_standard(opts: Options) -> bool:
    """True for the full run the goals are stated for."""
    return (
        not opts.quick
        and (opts.calls, opts.rounds, opts.fresh) == (2_000, 3, 5)
        and opts.postgres_url is not None
        and opts.litellm
    )


# --------------------------------------------------------------------------- the profile

# Where each function's own time is counted, by the path of its file (or its C name).
AREAS = (
    ("/sqlalchemy/", "SQLAlchemy (Python)"),
    ("sqlite3", "sqlite3 driver (C: execute, commit, fetch)"),
    ("/psycopg", "psycopg"),
    ("/httpx/", "httpx / httpcore / h11 (the HTTP client)"),
    ("/httpcore/", "httpx / httpcore / h11 (the HTTP client)"),
    ("/h11/", "httpx / httpcore / h11 (the HTTP client)"),
    ("/anyio/", "httpx / httpcore / h11 (the HTTP client)"),
    ("socket", "socket send/recv (C)"),
    ("epoll", "waiting for the server (epoll)"),
    ("/asyncio/", "asyncio (tasks, wait_for, the loop)"),
    ("/pydantic_ai/", "pydantic / pydantic-ai"),
    ("/pydantic/", "pydantic / pydantic-ai"),
    ("pydantic_core", "pydantic / pydantic-ai"),
    ("/missionctl/", "missionctl (gateway, ledger, metering, wire)"),
    ("site-packages/", "other libraries"),
    ("/python3.", "the standard library (uuid, datetime, contextlib, ...)"),
    ("<frozen", "the standard library (uuid, datetime, contextlib, ...)"),
)

# Gateway steps shown with their cumulative time (file suffix, function name).
STEPS = (
    ("missionctl/models/gateway.py", "request", "Gateway.request, its own frames (see below)"),
    ("missionctl/models/gateway.py", "_start", "  _start: estimate, plan, budgets that apply"),
    ("missionctl/models/gateway.py", "catalog", "    catalog (cached 2 s)"),
    ("missionctl/models/metering.py", "cache_key", "  metering.cache_key (only with a cache TTL)"),
    ("missionctl/models/gateway.py", "_hold", "  _hold: budget hold transaction"),
    ("missionctl/models/ledger.py", "hold", "    ledger.hold (statements only)"),
    ("missionctl/models/gateway.py", "_attempt", "  _attempt: admit, the request, record"),
    ("asyncio/timeouts.py", "__aenter__", "    asyncio.timeout around the request"),
    ("missionctl/models/gateway.py", "_succeeded", "    _succeeded: breaker, cost, Request"),
    ("missionctl/models/gateway.py", "_settle", "  _settle: metering transaction"),
    ("missionctl/models/metering.py", "meter", "    metering.meter (statements only)"),
    ("missionctl/models/metering.py", "charge", "    metering.charge (statements only)"),
    ("missionctl/models/gateway.py", "_completion", "  _completion"),
    ("missionctl/models/openai_wire.py", "request", "The request (openai_wire)"),
    ("missionctl/models/openai_wire.py", "_body", "  _body: messages to JSON"),
    ("httpx/_client.py", "post", "  httpx AsyncClient.post"),
    ("missionctl/models/openai_wire.py", "_response", "  _response: parse the reply"),
)


def area_of(filename: str, name: str) -> str:
    """The area a profiled function belongs to."""
    where = f"{filename} {name}"
    for needle, area in AREAS:
        if needle in where:
            return area
    if filename == "~":
        return "builtins (isinstance, getattr, dict and str methods...)"
    return "other"


def summarise_profile(path: Path, calls: int) -> dict[str, Any]:
    """Per-call microseconds: own time by area, the gateway's steps, the top functions."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(
        str(path)
    ).stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in raw.values())
    areas: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        area = area_of(filename, name)
        areas[area] = areas.get(area, 0.0) + tt
    steps = []
    for suffix, name, label in STEPS:
        cumulative = sum(
            ct
            for (filename, _line, fn), (_cc, _nc, _tt, ct, _c) in raw.items()
            if fn == name and filename.endswith(suffix)
        )
        steps.append({"step": label, "us_per_call": round(cumulative * 1e6 / calls, 1)})
    top = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)
    top_own = [
        {
            "function": f"{_short(filename)}:{line}({name})",
            "calls_per_call": round(nc / calls, 2),
            "own_us_per_call": round(tt * 1e6 / calls, 1),
            "cumulative_us_per_call": round(ct * 1e6 / calls, 1),
        }
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in top
        if "epoll" not in name
    ][:20]
    return {
        "calls": calls,
        "profiled_us_per_call": round(total * 1e6 / calls, 1),
        "areas_us_per_call": {
            area: round(seconds * 1e6 / calls, 1)
            for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1])
        },
        "steps": steps,
        "top_own_time": top_own,
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --------------------------------------------------------------------------- reporting


def source_fingerprint() -> str:
    """sha256 of every file under src/ (git's diff misses untracked files, as a new package is)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ratio(a: float | None, b: float | None) -> str:
    """a / b to two places, or a dash."""
    return f"{a / b:.2f}" if a and b else "-"


def per_call_table(contenders: dict[str, dict[str, Any]]) -> str:
    """The contenders' medians as a markdown table."""
    litellm = contenders.get("litellm", {}).get("p50_ms")
    sdk = contenders.get("openai-sync", {}).get("p50_ms")
    lines = [
        "| Contender (sequential calls, one fake server) | p50 (ms) | p95 (ms) | p50 per round "
        "| client CPU ms/call | ÷ litellm | ÷ openai SDK |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for summary in contenders.values():
        rounds = " / ".join(f"{b['p50_ms']:.2f}" for b in summary["batches"])
        lines.append(
            f"| {summary['label']} | {summary['p50_ms']:.3f} | {summary['p95_ms']:.3f} "
            f"| {rounds} | {summary['client_cpu_ms_per_call']:.3f} "
            f"| {ratio(summary['p50_ms'], litellm)} | {ratio(summary['p50_ms'], sdk)} |"
        )
    return "\n".join(lines)


def goal_rows(raw: dict[str, Any]) -> list[Row]:
    """The goals: gateway / litellm, and the fallback."""
    contenders = raw["contenders"]
    rows = []
    litellm = contenders.get("litellm")
    for key in GATEWAYS:
        gateway = contenders.get(key)
        if gateway is None or litellm is None:
            continue
        value = gateway["p50_ms"] / litellm["p50_ms"]
        per_round = [
            g["p50_ms"] / lt["p50_ms"]
            for g, lt in zip(gateway["batches"], litellm["batches"], strict=True)
        ]
        cpu = gateway["client_cpu_ms_per_call"] / litellm["client_cpu_ms_per_call"]
        rows.append(
            Row(
                f"{LABELS[key].replace('**', '')} ÷ litellm, p50",
                f"{value:.2f}",
                f"<= {GOAL_RATIO_TO_LITELLM}",
                "met" if value <= GOAL_RATIO_TO_LITELLM else "NOT met",
                "per round "
                + " / ".join(f"{r:.2f}" for r in per_round)
                + f"; p95 ratio {gateway['p95_ms'] / litellm['p95_ms']:.2f}"
                + f"; client CPU ratio {cpu:.2f}",
            )
        )
    fallback = raw["fallback"]
    if fallback["first_fallback_ms"]:
        first = statistics.median(fallback["first_fallback_ms"])
        direct = statistics.median(fallback["first_direct_ms"])
        warm = statistics.median(fallback["warm_fallback_ms"])
        rows += [
            Row(
                "Fallback dead → live, a fresh gateway's first call (ms)",
                f"{first:.2f}",
                f"< {GOAL_FALLBACK_MS:.0f}",
                "met" if first < GOAL_FALLBACK_MS else "NOT met",
                f"median of {len(fallback['first_fallback_ms'])}, max "
                f"{max(fallback['first_fallback_ms']):.2f}; a fresh gateway's first call "
                f"straight to the live one: {direct:.2f}",
            ),
            Row(
                "Fallback dead → live, warm gateway, breaker still closed (ms)",
                f"{warm:.2f}",
                f"< {GOAL_FALLBACK_MS:.0f}",
                "met" if warm < GOAL_FALLBACK_MS else "NOT met",
                f"calls 2-5 after each fresh start, median of {len(fallback['warm_fallback_ms'])}"
                f", p95 {percentile(fallback['warm_fallback_ms'], 95):.2f}",
            ),
            Row(
                "Through the policy with the dead one's breaker open, p50 (ms)",
                f"{statistics.median(fallback['steady_p50_ms']):.3f}",
                "-",
                "-",
                f"p95 {statistics.median(fallback['steady_p95_ms']):.3f}; client CPU "
                f"{statistics.median(fallback['steady_cpu_ms_per_call']):.3f} ms/call; "
                "the dead one is skipped",
            ),
        ]
    return rows


def profile_text(profile: dict[str, Any]) -> str:
    """The profile summary as text."""
    lines = [
        f"Profile of the gateway (SQLite, budget), cProfile over {profile['calls']:,} calls: "
        f"{profile['wall_us_per_call_under_profiler']:.0f} µs per call under the profiler "
        f"(profiled functions {profile['profiled_us_per_call']:.0f} µs; cProfile inflates "
        "code made of many small calls, so read the shares, not the absolute figures).",
        "",
        "Own time by area (µs per call):",
    ]
    lines += [f"  {us:8.1f}  {area}" for area, us in profile["areas_us_per_call"].items()]
    lines += ["", "The gateway's steps, cumulative (µs per call):"]
    lines += [f"  {step['us_per_call']:8.1f}  {step['step']}" for step in profile["steps"]]
    lines += ["", "Top functions by own time (µs per call; calls per gateway call):"]
    lines += [
        f"  {f['own_us_per_call']:8.1f}  {f['calls_per_call']:6.2f}x  {f['function']}"
        for f in profile["top_own_time"][:15]
    ]
    return "\n".join(lines)


def print_report(raw: dict[str, Any], facts: dict[str, Any], opts: Options) -> None:
    """Tables, notes, checks and the profile on stdout."""
    versions: dict[str, str] = {}
    for found in raw["versions"].values():
        versions |= found
    print()
    print(
        f"Measured {facts['date'][:10]} at commit `{facts['commit']}` on {facts['nproc']} cores "
        f"({facts['cpu'] or 'unknown CPU'}), Python {facts['python']}, load average "
        f"{facts['load_average'][0]:.2f} at the end, {facts['busy_cores_before_run']:.2f} cores "
        f"busy before the run{' (quick run)' if opts.quick else ''}. "
        + ", ".join(
            f"{name} {versions[name]}"
            for name in ("litellm", "openai", "pydantic-ai-slim", "httpx", "sqlalchemy", "psycopg")
            if name in versions
        )
        + "."
    )
    print(
        f"{opts.rounds} round(s) x {opts.calls:,} sequential calls per contender, "
        f"after {opts.round_warmup} untimed calls per batch; each figure is the median over "
        "rounds."
    )
    print()
    print(per_call_table(raw["contenders"]))
    print()
    print(markdown_table(goal_rows(raw)))
    print()
    for check in raw["metering_checks"]:
        verdict = "OK" if check["is_ok"] else "FAILED: " + "; ".join(check["problems"])
        budget = (
            f"; budget spent ${check['budget_spent_usd']:.6f} / {check['budget_spent_tokens']:,}"
            f" tokens, held ${check['budget_held_usd']:.2f}"
            if check["budget_spent_usd"] is not None
            else "; no budget"
        )
        print(
            f"Metering check {check['database']}: {check['calls_made']:,} calls, usage rows "
            f"{check['usage_rows']} (refused attempts {check['refused_attempts']}), usage "
            f"${check['usage_cost_usd']:.6f} / {check['usage_tokens']:,} tokens{budget}: {verdict}"
        )
    if raw.get("postgres_skipped"):
        print(f"PostgreSQL skipped: {raw['postgres_skipped']}")
    if raw.get("profile"):
        print()
        print(profile_text(raw["profile"]))


def write_json(opts: Options, facts: dict[str, Any], raw: dict[str, Any]) -> Path:
    """bench/results/models-<UTC timestamp>[-custom].json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"models-{stamp}{'' if is_standard(opts) else '-custom'}.json"
    document = {
        "benchmark": "models",
        "goals": {
            "gateway_to_litellm_ratio_at_most": GOAL_RATIO_TO_LITELLM,
            "fallback_ms_below": GOAL_FALLBACK_MS,
        },
        "standard_run": is_standard(opts),
        "machine": facts,
        "options": asdict(opts),
        **raw,
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return out
