"""A worker process killed with SIGKILL in the middle of a workflow run loses and repeats nothing:
finished steps stay finished (their effects happened once), the interrupted step runs again,
and the run goes on to succeed in another worker."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID
from missionctl.documents.models import DocumentRow
from missionctl.engine.models import JobRow
from missionctl.workflows import runs, service
from missionctl.workflows.schemas import RunCreate, WorkflowRun
from tests.conftest import BACKENDS
from tests.engine.test_processes import Cluster, bytecode, cluster_on  # noqa: F401 - fixture
from tests.runtime.conftest import wait_until

# `a` and `c` write documents in the unit of work that records their step; `b` is on the
# workflow loop for 3 s (the worker dies then); `d` maps five items through a transactional tool.
CRASHY = """
name: crashy
nodes:
  a: {type: tool, tool: document.write, args: {title: "Before", content: "Written by a."}}
  b: {type: tool, tool: sleep, needs: [a], args: {seconds: 3}}
  c: {type: tool, tool: document.write, needs: [b], args: {title: "After", content: "By c."}}
  d:
    type: map
    needs: [c]
    items: "[1, 2, 3, 4, 5]"
    concurrency: 2
    node: {type: tool, tool: noop, args: {n: "{{ item }}"}}
outputs:
  items: "{{ nodes.d.output.items }}"
"""


@pytest.fixture(params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path, bytecode: Path) -> Iterator[Cluster]:  # noqa: F811
    # Its processes hold job leases of 1 s (MISSIONCTL_JOB_LEASE_SECONDS in `Cluster.env`): the
    # scheduler's reaper hands a dead worker's job on about a second after the kill.
    with cluster_on(request.param, tmp_path, bytecode) as cluster:
        yield cluster


def read_run(cluster: Cluster, run_id: uuid.UUID) -> WorkflowRun:
    with cluster.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        return runs.get_run(session, run_id)


def by_key(run: WorkflowRun) -> dict[str, Any]:
    return {step.step_key: step for step in run.steps}


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(cluster: Cluster) -> None:
    system = Actor.system()
    with cluster.db.transaction(DEFAULT_TENANT_ID) as session:
        service.save_definition(session, CRASHY, actor=system)
        run_id = runs.start_run(session, "crashy", RunCreate(), actor=system).run_id
    first = cluster.start("worker", "--concurrency", "2")

    def sleeping() -> WorkflowRun | None:
        run = read_run(cluster, run_id)
        b = by_key(run).get("b")
        return run if b is not None and b.status == "running" else None

    before = wait_until(sleeping, timeout=60)
    a_before = by_key(before)["a"]
    assert a_before.status == "succeeded" and a_before.attempts == 1
    assert by_key(before)["b"].attempts == 1
    assert "c" not in by_key(before)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cluster.start("scheduler")  # its reaper re-queues the dead worker's job when its lease lapses
    cluster.start("worker", "--concurrency", "2")

    def ended() -> WorkflowRun | None:
        run = read_run(cluster, run_id)
        return run if run.status in ("succeeded", "failed", "cancelled") else None

    run = wait_until(ended, timeout=90)
    assert run.status == "succeeded", (run.error, run.failed_step)
    steps = by_key(run)
    # `a` finished before the kill: not run again, its record untouched.
    assert steps["a"].attempts == 1
    assert steps["a"].finished_at == a_before.finished_at
    assert steps["a"].output == a_before.output
    # `b` was cut short: run again, once, and its log says why.
    assert steps["b"].status == "succeeded" and steps["b"].attempts == 2
    assert steps["b"].output == {"slept": 3.0}
    assert any("interrupted" in str(line) for line in steps["b"].logs), steps["b"].logs
    assert steps["c"].attempts == 1
    # Every map item ran once, in order.
    items = [steps[f"d[{i}]"] for i in range(5)]
    assert [(s.status, s.attempts) for s in items] == [("succeeded", 1)] * 5
    assert not {k for k in steps if k.startswith("d[")} - {f"d[{i}]" for i in range(5)}
    assert run.outputs == {"items": [{"n": n} for n in (1, 2, 3, 4, 5)]}
    # One document per writing step: none lost, none twice.
    with cluster.db.engine.connect() as conn:
        documents = conn.execute(select(DocumentRow.document_id, DocumentRow.title)).all()
        attempts = list(conn.scalars(select(JobRow.attempts).where(JobRow.kind == "workflow.run")))
    assert sorted(title for _id, title in documents) == ["After", "Before"]
    written = {str(document_id) for document_id, _title in documents}
    assert written == {steps["a"].output["document_id"], steps["c"].output["document_id"]}
    # The kill landed in the middle of a runner's job: it was claimed again.
    assert max(attempts) == 2, attempts
