"""A worker process killed with SIGKILL in the middle of an agent's turn loses and repeats
nothing: the turn resumes in another worker from its checkpoints."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from missionctl.agents.schemas import AgentCreate
from missionctl.agents.service import create_agent
from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task, get_task
from missionctl.common import Actor
from missionctl.comms.models import MessageRow
from missionctl.db import DEFAULT_TENANT_ID
from missionctl.documents.models import DocumentRow, DocumentVersionRow
from missionctl.engine.models import JobRow
from missionctl.models.schemas import DeploymentCreate
from missionctl.models.service import create_deployment
from missionctl.sealing import Sealer
from tests.conftest import BACKENDS
from tests.engine.test_processes import Cluster, bytecode, cluster_on  # noqa: F401 - fixture
from tests.models.fake_providers import FakeProvider, Reply, ToolCall
from tests.runtime.conftest import wait_until

SECRET = "k" * 48


@pytest.fixture(params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path: Path, bytecode: Path) -> Iterator[Cluster]:  # noqa: F811
    with cluster_on(request.param, tmp_path, bytecode) as cluster:
        yield cluster


def count(cluster: Cluster, statement: object) -> int:
    with cluster.db.engine.connect() as conn:
        return int(conn.scalar(statement) or 0)  # type: ignore[call-overload]


def test_a_worker_killed_mid_turn_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    with FakeProvider() as fake:
        with cluster.db.transaction(DEFAULT_TENANT_ID) as session:
            create_deployment(
                session,
                DeploymentCreate(
                    name="fake",
                    provider="openai-compatible",
                    model="fake-model",
                    base_url=fake.openai_base_url,
                ),
                actor=Actor.system(),
                sealer=Sealer(SECRET),
            )
            writer = create_agent(
                session,
                AgentCreate(name="writer", role="Writer", capabilities=["writing"], model="fake"),
                actor=Actor.system(),
            )
            task = create_task(
                session,
                TaskCreate(title="Draft the memo", assignee_ids=[writer.agent_id]),
                actor=Actor.system(),
            )
        task_id = str(task.task_id)
        fake.script(
            Reply(
                tool_calls=[
                    ToolCall("post_message", {"task_id": task_id, "content": "Starting."}),
                    ToolCall("write_document", {"title": "Memo", "content": "# Memo\n\nBody."}),
                ]
            ),
            Reply(text="Posted and wrote the memo.", delay=30.0),  # the worker dies during this
            Reply(text="Posted and wrote the memo."),
        )
        first = cluster.start("worker", "--concurrency", "2")
        wait_until(lambda: fake.request_count >= 2, timeout=60)
        time.sleep(0.3)  # the second request is in flight; both tools' effects are committed
        assert count(cluster, select(func.count()).select_from(MessageRow)) == 1
        first.kill()
        first.wait(timeout=10)
        cluster.start("scheduler")  # reaps the dead worker's lease
        cluster.start("worker", "--concurrency", "2")

        def submitted() -> bool:
            with cluster.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
                return get_task(session, uuid.UUID(task_id)).status.value == "review"

        wait_until(submitted, timeout=60)
        # The first response was checkpointed: only the interrupted request was made again.
        assert fake.request_count == 3
        contents = []
        with cluster.db.engine.connect() as conn:
            contents = list(conn.scalars(select(MessageRow.content)))
        assert contents.count("Starting.") == 1
        assert contents.count("Posted and wrote the memo.") == 1
        assert count(cluster, select(func.count()).select_from(DocumentRow)) == 1
        assert count(cluster, select(func.count()).select_from(DocumentVersionRow)) == 1
        attempts = count(
            cluster, select(func.max(JobRow.attempts)).where(JobRow.kind == "agent.turn")
        )
        assert attempts == 2
