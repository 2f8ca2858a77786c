"""Job kinds for the engine benchmark (bench/engine.py), loaded as a plugin by its workers.

Workers import it as the top-level module `engine_plugin` (`PYTHONPATH=bench`,
`MISSIONCTL_PLUGINS=engine_plugin`): bench/ is a directory of scripts, not a package.

- `bench.noop` does nothing and returns nothing: what the queue itself costs per job.
- `bench.steps` runs `payload["steps"]` (default 100) checkpointed no-op steps with
  `job.step(...)` and returns the time it spent in them, per step, measured inside the handler
  (so claiming the job and recording its success are not counted, as in the DBOS peer, which times
  the loop inside its workflow the same way).
"""

from __future__ import annotations

import time
from typing import Any

from missionctl.engine.context import JobContext
from missionctl.engine.registry import JobKind, JobRegistry

NOOP_KIND = "bench.noop"
STEPS_KIND = "bench.steps"
DEFAULT_STEPS = 100


def run_noop(job: JobContext) -> None:
    """Nothing at all."""


def run_steps(job: JobContext) -> dict[str, Any]:
    """`steps` no-op checkpointed steps; how long each took on average (ms), from the inside."""
    count = int(job.payload.get("steps", DEFAULT_STEPS))
    started = time.perf_counter()
    for index in range(count):
        job.step(f"step-{index}", lambda _session, value=index: value)
    elapsed = time.perf_counter() - started
    return {"steps": count, "seconds": elapsed, "ms_per_step": elapsed * 1000 / count}


def register(registry: JobRegistry) -> None:
    """Add the benchmark's job kinds."""
    registry.add(JobKind(name=NOOP_KIND, handler=run_noop, description="Benchmark: no-op."))
    registry.add(
        JobKind(
            name=STEPS_KIND,
            handler=run_steps,
            timeout_seconds=300,
            description="Benchmark: checkpointed no-op steps.",
        )
    )
