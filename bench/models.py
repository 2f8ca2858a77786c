"""Model layer benchmark: a routed, budget-checked, metered call against litellm and the SDKs.

What it measures (the model layer issue's goals)
    1. Per-call time of `Gateway.request(ctx, "gpt", messages)` — resolve the alias, hold an
       estimate against the tenant budget (one write transaction), send the request, meter it
       (one write transaction: usage row + budget charge) — against `litellm.completion(...)`
       on the same local fake OpenAI server, in the same run. Goal: gateway <= 0.5 x litellm.
    2. Fallback from a dead deployment (connection refused) to a live one through a policy.
       Goal: < 50 ms.

Contenders, each in its own process (bench/models_calls.py), all against ONE fake server
    - httpx floor: the JSON body POSTed with httpx.AsyncClient, the reply parsed with orjson;
    - openai SDK, sync `OpenAI` and `AsyncOpenAI` (max_retries=0), chat.completions.create;
    - pydantic-ai's `OpenAIChatModel.request` on an `AsyncOpenAI` client;
    - the gateway's own OpenAI model (`missionctl.models.openai_wire`) alone, no gateway;
    - litellm.completion, pinned, in its own venv `.bench-venvs/litellm` (created here when
      missing: `pip install litellm==LITELLM_VERSION`), `LITELLM_LOCAL_MODEL_COST_MAP=True` so
      it never fetches its price map;
    - the gateway: metering only (no budget), and with a tenant budget (limit $1,000) on
      SQLite; with the budget on PostgreSQL too when one answers (MISSIONCTL_TEST_POSTGRES_URL,
      else postgresql://postgres@127.0.0.1:5432/postgres; a fresh database `mc_bench_models`,
      dropped at the end).

How
    - The fake is tests/models/fake_providers.py's FakeProvider (record=False, an API key
      required) in a process of its own, so client and server do not share a GIL; every call
      is `gpt-4o-mini`, one user message "hello", answered "fake reply to: hello" (2 tokens in,
      5 out). Each contender checks that reply before it is timed.
    - Every database is fresh and migrated; deployments, the budget and the policy are created
      through the services (`create_deployment`, `create_budget`, `create_policy`), as the API
      would. The gateway runs with `GatewayOptions()` defaults (catalog cached for 2 s, breaker
      opens after 5 failures in a row).
    - Each contender process warms up (200 calls) before the first round. Then R rounds
      (default 3); in each, every contender in turn (the order rotated each round) makes W
      untimed calls (the others sat idle meanwhile) and N timed sequential calls (default
      2,000). Per round: median and p95 per call, and the process's own CPU per call. The
      table shows the median over rounds of each; ratios are of those medians.
    - Fallback: a policy `fallback` = [`dead`, `gpt`], `dead` pointing at a bound port nobody
      listens on. Each round, K times (default 5): a new Gateway's first call straight to
      `gpt` (the baseline: a fresh gateway loads its catalog and opens its clients), then a new
      Gateway's first call through `fallback` (the refused connect, then `gpt`), and its next
      calls until the dead deployment's breaker opens (5 failures; these show the fallback on
      warm clients); then steady calls with the breaker open (the dead one is skipped).
    - Afterwards the usage rows are counted per database: one `ok` row per call made (warm-ups
      included), one `error` row per refused attempt, and the budget's spend
      (`budgets.list_budgets`) must equal the sum of the usage rows' cost and tokens, nothing
      left held. The run fails if not.
    - The gateway (SQLite, with budget) is then profiled once with cProfile over P calls
      (default 1,000); the summary shows where its CPU goes outside the HTTP request.

Everything runs on 127.0.0.1; every process started is stopped, temp dirs removed and the
PostgreSQL bench database dropped at the end. The only download is the litellm venv's pip
install, and only when the venv is missing or holds another version.

Run: `.venv/bin/python bench/models.py [--quick] [--calls N] [--rounds R] [--fresh K]
[--profile-calls P] [--no-postgres] [--no-litellm] [--keep]` (about 3 minutes; `--quick`
about 40 s). Results: tables on stdout, JSON in bench/results/models-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench_common import (
    BENCH_DIR,
    ROOT,
    base_env,
    busy_cores_now,
    machine_facts,
    percentile,
    raise_on_sigterm,
    workspace,
)
from board_list import group_cpu_seconds, machine_busy_seconds
from missionctl import migrations
from missionctl import tables as _all_tables  # noqa: F401 - map every table (FK column types)
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database, make_engine
from missionctl.models import budgets, service
from missionctl.models.accounting import nanos_to_usd
from missionctl.models.models import UsageRow
from missionctl.models.schemas import BudgetCreate, DeploymentCreate, PolicyCreate
from missionctl.sealing import Sealer
from missionctl.settings import load_settings
from models_report import (
    LABELS,
    Options,
    print_report,
    source_fingerprint,
    summarise_profile,
    write_json,
)

CALLS_SCRIPT = BENCH_DIR / "models_calls.py"
LITELLM_VENV = ROOT / ".bench-venvs" / "litellm"
LITELLM_VERSION = "1.110.2"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "mc_bench_models"
SECRET_KEY = "bench-models-" + "k" * 40
API_KEY = "sk-bench-models"
MODEL = "gpt-4o-mini"
MARK = "@@ "
BUDGET_USD = 1000.0


# --------------------------------------------------------------------------- options


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; `--quick` shrinks the defaults for a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--calls", type=int, help="timed calls per contender per round (2000)")
    parser.add_argument("--rounds", type=int, help="rounds over all contenders (3)")
    parser.add_argument("--round-warmup", type=int, default=50, help="untimed calls per batch")
    parser.add_argument("--fresh", type=int, help="fresh gateways per round for fallback (5)")
    parser.add_argument("--steady", type=int, help="calls with the dead breaker open (500)")
    parser.add_argument("--profile-calls", type=int, help="gateway calls under cProfile (1000)")
    default_pg = os.environ.get("MISSIONCTL_TEST_POSTGRES_URL") or PG_ADMIN_URL
    parser.add_argument("--postgres-url", default=default_pg, help="an admin URL to create from")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-litellm", action="store_true", help="skip litellm (no venv)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    quick = args.quick
    opts = Options(
        quick=quick,
        calls=args.calls or (300 if quick else 2_000),
        rounds=args.rounds or (1 if quick else 3),
        round_warmup=args.round_warmup,
        fresh=args.fresh or (3 if quick else 5),
        steady=args.steady or (200 if quick else 500),
        profile_calls=(200 if quick else 1_000)
        if args.profile_calls is None
        else args.profile_calls,
        postgres_url=None if args.no_postgres else args.postgres_url,
        litellm=not args.no_litellm,
        keep=args.keep,
    )
    if min(opts.calls, opts.rounds, opts.fresh, opts.steady) < 1 or opts.round_warmup < 0:
        parser.error("counts must be >= 1")
    return opts


# --------------------------------------------------------------------------- processes


class Worker:
    """A bench/models_calls.py process, driven one JSON line at a time."""

    def __init__(
        self, name: str, python: Path, kind: str, config: dict[str, Any], env: dict[str, str]
    ) -> None:
        self.name = name
        self.log = Path(config.pop("log"))
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [str(python), str(CALLS_SCRIPT), kind, json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self._lines.put(line[len(MARK) :])
        self._lines.put(None)

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next protocol line (raises if the process died or time ran out)."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no answer in {timeout:.0f} s") from None
        if line is None:
            self.proc.wait(10)
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        """Send a command, wait for its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.receive(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Close its stdin (it exits), then SIGTERM / SIGKILL its group if it lingers."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
                return


def litellm_python() -> Path:
    """The litellm venv's interpreter; the venv is created (litellm installed) when missing."""
    python = LITELLM_VENV / "bin" / "python"
    if python.exists() and _version(python, "litellm") == LITELLM_VERSION:
        return python
    print(f"creating {LITELLM_VENV.relative_to(ROOT)} with litellm=={LITELLM_VERSION} ...")
    if not python.exists():
        creator = shutil.which("python3") or sys.executable
        subprocess.run([creator, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"litellm=={LITELLM_VERSION}"], check=True, timeout=900)
    if _version(python, "litellm") != LITELLM_VERSION:
        raise RuntimeError(f"could not install litellm=={LITELLM_VERSION} into {LITELLM_VENV}")
    return python


def _version(python: Path, package: str) -> str:
    probe = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else ""


# --------------------------------------------------------------------------- databases


def postgres_problem(admin_url: str) -> str | None:
    """None when PostgreSQL accepts a connection at `admin_url`, else why not."""
    try:
        with psycopg.connect(_libpq(admin_url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_pg_database(admin_url: str) -> str:
    """A brand-new `mc_bench_models` database; its SQLAlchemy URL."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=PG_BENCH_DB)
    return url.render_as_string(hide_password=False)


def drop_pg_database(admin_url: str) -> None:
    """Drop the bench database."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')


def set_up_database(
    url: str, data_dir: Path, base_url: str, *, budget: bool, dead_url: str | None = None
) -> str:
    """Migrate a fresh database; deployment `gpt` (and `dead` + policy `fallback`), a budget."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(data_dir=data_dir, database_url=url, secret_key=SECRET_KEY)
    resolved = str(settings.resolved_database_url)
    db = Database(make_engine(resolved))
    sealer = Sealer(SECRET_KEY)
    system = Actor.system()
    try:
        migrations.upgrade(db.engine)
        with db.transaction(DEFAULT_TENANT_ID) as session:
            gpt = DeploymentCreate(
                name="gpt", provider="openai", model=MODEL, base_url=base_url, api_key=API_KEY
            )
            service.create_deployment(session, gpt, actor=system, sealer=sealer)
            if dead_url is not None:
                dead = DeploymentCreate(
                    name="dead",
                    provider="openai",
                    model=MODEL,
                    base_url=f"{dead_url}/v1",
                    api_key=API_KEY,
                )
                service.create_deployment(session, dead, actor=system, sealer=sealer)
                policy = PolicyCreate(name="fallback", deployments=["dead", "gpt"])
                service.create_policy(session, policy, actor=system)
            if budget:
                budgets.create_budget(
                    session, BudgetCreate(scope="tenant", limit_usd=BUDGET_USD), actor=system
                )
    finally:
        db.dispose()
    return resolved


@dataclass
class MeteringCheck:
    """What the usage rows and the budget say after the run, and whether it adds up."""

    database: str
    calls_made: int
    usage_rows: dict[str, int]
    refused_attempts: int
    usage_tokens: int
    usage_cost_usd: float
    budget_spent_usd: float | None
    budget_spent_tokens: int | None
    budget_held_usd: float | None
    problems: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        """Every call metered once, every refused attempt too, the budget charged exactly."""
        return not self.problems


def check_metering(
    name: str, url: str, calls_made: int, refused: int, *, budget: bool
) -> MeteringCheck:
    """Count usage rows by outcome, sum them, and read the budget's standing."""
    usage = UsageRow.__table__
    db = Database(make_engine(url))
    try:
        with db.engine.connect() as conn:
            rows = {
                outcome: int(count)
                for outcome, count in conn.execute(
                    select(usage.c.outcome, func.count()).group_by(usage.c.outcome)
                )
            }
            tokens, nanos = conn.execute(
                select(
                    func.coalesce(func.sum(usage.c.input_tokens + usage.c.output_tokens), 0),
                    func.coalesce(func.sum(usage.c.cost_nanos), 0),
                )
            ).one()
        with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
            found = budgets.list_budgets(session)
    finally:
        db.dispose()
    check = MeteringCheck(
        database=name,
        calls_made=calls_made,
        usage_rows=rows,
        refused_attempts=refused,
        usage_tokens=int(tokens),
        usage_cost_usd=nanos_to_usd(int(nanos)) or 0.0,
        budget_spent_usd=found[0].spent_usd if found else None,
        budget_spent_tokens=found[0].spent_tokens if found else None,
        budget_held_usd=found[0].held_usd if found else None,
    )
    if rows.get("ok", 0) != calls_made:
        check.problems.append(f"{rows.get('ok', 0)} ok usage rows for {calls_made} calls")
    if rows.get("error", 0) != refused:
        check.problems.append(f"{rows.get('error', 0)} error rows for {refused} refused attempts")
    if set(rows) - {"ok", "error"}:
        check.problems.append(f"unexpected outcomes {sorted(rows)}")
    if budget:
        if len(found) != 1:
            check.problems.append(f"{len(found)} budgets, expected 1")
        elif (
            found[0].spent_tokens != check.usage_tokens
            or abs(found[0].spent_usd - check.usage_cost_usd) > 1e-9
            or found[0].held_usd
            or not check.usage_cost_usd
        ):
            check.problems.append(
                f"budget spent ${found[0].spent_usd} / {found[0].spent_tokens} tokens "
                f"(held ${found[0].held_usd}) but usage says ${check.usage_cost_usd} / "
                f"{check.usage_tokens} tokens"
            )
    elif found:
        check.problems.append("a budget exists in the no-budget database")
    return check


# --------------------------------------------------------------------------- measuring


@dataclass
class Batch:
    """One contender's timed calls in one round."""

    round: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    client_cpu_ms_per_call: float
    server_cpu_ms_per_call: float
    other_cores: float  # busy cores on the machine beyond this client and the fake server


def batch_of(round_index: int, answer: dict[str, Any], server_cpu: float, other: float) -> Batch:
    """Statistics of one `time` answer."""
    seconds = [ns / 1e9 for ns in answer["ns"]]
    calls = len(seconds)
    return Batch(
        round=round_index,
        p50_ms=round(percentile(seconds, 50) * 1000, 4),
        p95_ms=round(percentile(seconds, 95) * 1000, 4),
        mean_ms=round(statistics.fmean(seconds) * 1000, 4),
        client_cpu_ms_per_call=round(answer["cpu_seconds"] * 1000 / calls, 4),
        server_cpu_ms_per_call=round(server_cpu * 1000 / calls, 4),
        other_cores=round(max(0.0, other), 2),
    )


@dataclass
class Summary:
    """A contender over all rounds: medians of the rounds' figures."""

    key: str
    label: str
    p50_ms: float
    p95_ms: float
    client_cpu_ms_per_call: float
    server_cpu_ms_per_call: float
    batches: list[Batch]


def summarise(key: str, batches: list[Batch]) -> Summary:
    """Median over rounds of each figure."""
    return Summary(
        key=key,
        label=LABELS[key],
        p50_ms=round(statistics.median(b.p50_ms for b in batches), 3),
        p95_ms=round(statistics.median(b.p95_ms for b in batches), 3),
        client_cpu_ms_per_call=round(
            statistics.median(b.client_cpu_ms_per_call for b in batches), 3
        ),
        server_cpu_ms_per_call=round(
            statistics.median(b.server_cpu_ms_per_call for b in batches), 3
        ),
        batches=batches,
    )


def timed_batch(
    worker: Worker, server: Worker, round_index: int, opts: Options
) -> tuple[Batch, dict[str, Any]]:
    """One contender's batch, with the fake server's CPU and the machine's load meanwhile."""
    pids = (server.proc.pid, worker.proc.pid)
    before = (*(group_cpu_seconds(pid) for pid in pids), machine_busy_seconds(), time.monotonic())
    answer = worker.ask({"op": "time", "calls": opts.calls, "warmup": opts.round_warmup})
    after = (*(group_cpu_seconds(pid) for pid in pids), machine_busy_seconds(), time.monotonic())
    server_cpu, client_cpu, busy, wall = (b - a for a, b in zip(before, after, strict=True))
    # Busy cores beyond this client and the fake server: other sessions on the machine.
    other = (busy - server_cpu - client_cpu) / wall
    # The server's CPU per call: the warm-up's share taken off in proportion.
    share = opts.calls / (opts.calls + opts.round_warmup)
    batch = batch_of(round_index, answer, server_cpu * share, other)
    return batch, answer


@dataclass
class FallbackResult:
    """Fallback figures over all rounds (every sample, ms)."""

    first_direct_ms: list[float] = field(default_factory=list)
    first_fallback_ms: list[float] = field(default_factory=list)
    warm_fallback_ms: list[float] = field(default_factory=list)
    steady_p50_ms: list[float] = field(default_factory=list)
    steady_p95_ms: list[float] = field(default_factory=list)
    steady_cpu_ms_per_call: list[float] = field(default_factory=list)


def add_fallback(result: FallbackResult, answer: dict[str, Any]) -> None:
    """One round's fallback answer into the running result."""
    result.first_direct_ms += [round(ns / 1e6, 3) for ns in answer["first_direct"]]
    result.first_fallback_ms += [round(ns / 1e6, 3) for ns in answer["first_fallback"]]
    result.warm_fallback_ms += [round(ns / 1e6, 3) for ns in answer["warm_fallback"]]
    steady = [ns / 1e9 for ns in answer["steady"]]
    result.steady_p50_ms.append(round(percentile(steady, 50) * 1000, 3))
    result.steady_p95_ms.append(round(percentile(steady, 95) * 1000, 3))
    cpu = answer["steady_cpu_seconds"] * 1000 / len(steady)
    result.steady_cpu_ms_per_call.append(round(cpu, 4))


# --------------------------------------------------------------------------- the run


@dataclass
class Setup:
    """What the run measures with: the server, the databases, the contender processes."""

    server: Worker
    base_url: str
    dead_url: str
    databases: dict[str, str]  # contender key (and "fallback") -> database URL
    workers: dict[str, Worker] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)


def start_server(workdir: Path) -> tuple[Worker, str, str, dict[str, str]]:
    """The fake OpenAI server in its own process: its base URL, a dead URL, its versions."""
    config = {"api_key": API_KEY, "log": str(workdir / "server.log")}
    server = Worker("fake server", Path(sys.executable), "serve", config, base_env())
    hello = server.receive(60)
    return server, hello["openai_base_url"], hello["dead_url"], hello["versions"]


def start_workers(opts: Options, setup: Setup, workdir: Path) -> None:
    """Every contender's process, started together; wait until each is warm."""
    python = Path(sys.executable)
    common = {"base_url": setup.base_url, "api_key": API_KEY}
    plans: list[tuple[str, Path, str, dict[str, Any], dict[str, str]]] = [
        (key, python, key, dict(common), base_env())
        for key in ("httpx", "openai-sync", "openai-async", "pydantic-ai", "wire")
    ]
    if opts.litellm:
        env = {**base_env(), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        plans.append(("litellm", litellm_python(), "litellm", dict(common), env))
    for key, url in setup.databases.items():
        kind = "fallback" if key == "fallback" else "gateway"
        config = {**common, "database_url": url, "secret_key": SECRET_KEY}
        plans.append((key, python, kind, config, base_env()))
    for key, interpreter, kind, config, env in plans:
        config["log"] = str(workdir / f"{key}.log")
        setup.workers[key] = Worker(key, interpreter, kind, config, env)
    for key, worker in setup.workers.items():
        hello = worker.receive(300)
        setup.versions[key] = hello["versions"]


def measure(
    opts: Options, setup: Setup
) -> tuple[dict[str, Summary], FallbackResult, dict[str, Any]]:
    """The rounds: each contender's batch in turn (rotated order), then the fallback part."""
    keys = [key for key in LABELS if key in setup.workers]
    batches: dict[str, list[Batch]] = {key: [] for key in keys}
    fallback = FallbackResult()
    totals: dict[str, dict[str, Any]] = {}
    for round_index in range(opts.rounds):
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            batch, answer = timed_batch(setup.workers[key], setup.server, round_index, opts)
            batches[key].append(batch)
            totals[key] = {k: v for k, v in answer.items() if k not in ("ns",)}
            print(
                f"  round {round_index + 1}/{opts.rounds}  {key:<17} p50 {batch.p50_ms:7.3f} ms"
                f"  p95 {batch.p95_ms:7.3f} ms  client CPU {batch.client_cpu_ms_per_call:.3f}"
                f" ms/call  other load {batch.other_cores:.2f} cores",
                flush=True,
            )
        if "fallback" in setup.workers:
            answer = setup.workers["fallback"].ask(
                {"op": "fallback", "fresh": opts.fresh, "steady": opts.steady}
            )
            add_fallback(fallback, answer)
            totals["fallback"] = {k: v for k, v in answer.items() if not isinstance(v, list)}
            print(
                f"  round {round_index + 1}/{opts.rounds}  fallback          first call "
                f"{statistics.median(answer['first_fallback']) / 1e6:.2f} ms, steady p50 "
                f"{fallback.steady_p50_ms[-1]:.3f} ms",
                flush=True,
            )
    summaries = {key: summarise(key, batches[key]) for key in keys}
    return summaries, fallback, totals


def run(opts: Options, workdir: Path) -> tuple[dict[str, Any], list[str]]:
    """Set up, measure, verify, profile; the raw results and any metering problems."""
    server, base_url, dead_url, server_versions = start_server(workdir)
    databases: dict[str, str] = {}
    made_pg = False
    setup = Setup(server, base_url, dead_url, databases)
    raw: dict[str, Any] = {"fake_server": {"versions": server_versions}}
    try:
        sqlite = workdir / "sqlite"
        databases["gateway-nobudget"] = set_up_database(
            f"sqlite:///{sqlite / 'nobudget.db'}", sqlite, base_url, budget=False
        )
        databases["gateway-sqlite"] = set_up_database(
            f"sqlite:///{sqlite / 'budget.db'}", sqlite, base_url, budget=True
        )
        databases["fallback"] = set_up_database(
            f"sqlite:///{sqlite / 'fallback.db'}", sqlite, base_url, budget=True, dead_url=dead_url
        )
        skip = postgres_problem(opts.postgres_url) if opts.postgres_url else "--no-postgres"
        if skip:
            print(f"PostgreSQL skipped: {skip}")
            raw["postgres_skipped"] = skip
        else:
            assert opts.postgres_url is not None
            made_pg = True
            pg_url = create_pg_database(opts.postgres_url)
            databases["gateway-postgres"] = set_up_database(
                pg_url, workdir / "pg", base_url, budget=True
            )
        print(f"starting {len(databases) + 5 + opts.litellm} contender processes ...", flush=True)
        start_workers(opts, setup, workdir)
        print(
            f"{opts.rounds} round(s) of {opts.calls:,} timed calls per contender "
            f"(+{opts.round_warmup} untimed each) ...",
            flush=True,
        )
        summaries, fallback, totals = measure(opts, setup)
        profile = None
        if opts.profile_calls:
            print(f"profiling the gateway (SQLite, budget), {opts.profile_calls:,} calls ...")
            prof = workdir / "gateway.prof"
            answer = setup.workers["gateway-sqlite"].ask(
                {"op": "profile", "calls": opts.profile_calls, "path": str(prof)}
            )
            totals["gateway-sqlite"]["total_calls"] = answer["total_calls"]
            profile = summarise_profile(prof, opts.profile_calls)
            profile["wall_us_per_call_under_profiler"] = round(
                answer["wall_seconds"] * 1e6 / opts.profile_calls, 1
            )
        for worker in setup.workers.values():
            worker.stop()
        checks = []
        for key, url in databases.items():
            outcomes = totals[key].get("attempt_outcomes", {})
            checks.append(
                check_metering(
                    key,
                    url,
                    totals[key]["total_calls"],
                    outcomes.get("error", 0),
                    budget=key != "gateway-nobudget",
                )
            )
    finally:
        for worker in setup.workers.values():
            worker.stop()
        server.stop()
        if made_pg and opts.postgres_url:
            drop_pg_database(opts.postgres_url)
    raw |= {
        "versions": setup.versions,
        "contenders": {key: asdict(summary) for key, summary in summaries.items()},
        "fallback": asdict(fallback),
        "worker_totals": totals,
        "metering_checks": [asdict(check) | {"is_ok": check.is_ok} for check in checks],
        "profile": profile,
    }
    problems = [f"{c.database}: {p}" for c in checks for p in c.problems]
    return raw, problems


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, verify, report."""
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    source_at_start = source_fingerprint()
    quiet = busy_cores_now()
    print(f"CPUs busy before the run: {quiet:.2f} of {len(os.sched_getaffinity(0))} cores")
    started = time.monotonic()
    try:
        with workspace("missionctl-bench-models-", opts.keep) as workdir:
            raw, problems = run(opts, workdir)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: processes stopped, temp dir removed", file=sys.stderr)
        return 130
    facts = machine_facts() | {"busy_cores_before_run": quiet}
    facts["run_seconds"] = round(time.monotonic() - started, 1)
    facts["src_sha256"] = source_fingerprint()
    facts["src_changed_during_run"] = facts["src_sha256"] != source_at_start
    if facts["src_changed_during_run"]:
        print("WARNING: files under src/ changed during the run: the figures mix two versions.")
    out = write_json(opts, facts, raw)
    print_report(raw, facts, opts)
    print(f"\nwrote {out.relative_to(ROOT)} ({facts['run_seconds']:.0f} s)")
    if problems:
        print("METERING CHECK FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
