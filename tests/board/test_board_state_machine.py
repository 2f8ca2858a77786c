"""A stateful property test: random board operations over HTTP agree with the pure model."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from missionctl.board.transitions import TaskFacts, TaskStatus, allowed_targets
from tests.factories import agent, ok, task


def test_board_follows_the_model(api: httpx.Client) -> None:
    writers = [agent(api, f"agent{i}")["agent_id"] for i in range(2)]

    class Board(RuleBasedStateMachine):
        """One parent task with one dependency; random assignments and moves."""

        @initialize()
        def setup(self) -> None:
            self.dependency = task(api, "dependency")
            self.task = task(api, "subject", depends_on=[self.dependency["task_id"]])
            self.status = TaskStatus.INBOX
            self.assignees: list[str] = []
            self.dependency_done = False

        def facts(self) -> TaskFacts:
            return TaskFacts(
                has_assignees=bool(self.assignees), dependencies_done=self.dependency_done
            )

        @rule(wanted=st.sampled_from(list(TaskStatus)))
        def move(self, wanted: TaskStatus) -> None:
            target = wanted
            response = api.post(
                f"/tasks/{self.task['task_id']}/status", json={"status": target.value}
            )
            legal = target is self.status or target in allowed_targets(self.status, self.facts())
            if legal:
                assert response.status_code == 200, response.text
                self.status = target
            else:
                assert response.status_code == 409, response.text
                body = response.json()
                assert body["code"] == "invalid_transition"
                assert body["allowed"] == [
                    s.value for s in allowed_targets(self.status, self.facts())
                ]

        @rule(chosen=st.lists(st.sampled_from(writers), unique=True, max_size=2))
        def assign(self, chosen: list[str]) -> None:
            response = api.post(f"/tasks/{self.task['task_id']}/assign", json={"agent_ids": chosen})
            if not chosen and self.status in (TaskStatus.IN_PROGRESS, TaskStatus.REVIEW):
                assert response.status_code == 409
                return
            assert response.status_code == 200, response.text
            self.assignees = chosen
            if chosen and self.status is TaskStatus.INBOX:
                self.status = TaskStatus.ASSIGNED
            elif not chosen and self.status is TaskStatus.ASSIGNED:
                self.status = TaskStatus.INBOX

        @rule()
        def finish_dependency(self) -> None:
            if self.dependency_done:
                return
            dep = self.dependency["task_id"]
            api.post(f"/tasks/{dep}/assign", json={"agent_ids": writers[:1]})
            for status in ("in_progress", "review", "done"):
                ok(api.post(f"/tasks/{dep}/status", json={"status": status}))
            self.dependency_done = True

        @invariant()
        def server_agrees(self) -> None:
            if not hasattr(self, "task"):
                return
            body = ok(api.get(f"/tasks/{self.task['task_id']}"))
            assert body["status"] == self.status.value
            assert sorted(body["assignee_ids"]) == sorted(self.assignees)

    Board.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    Board.TestCase().runTest()
