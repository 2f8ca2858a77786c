"""What the runner holds of a run between units of work, and the pure helpers it uses: the
scope expressions read (node outputs read lazily, so a long chain stays linear), a step's
rendered inputs, the run's variables, retry delays."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from missionctl.workflows import expressions
from missionctl.workflows.definition import Definition, MapNode, NodeSpec
from missionctl.workflows.graph import Graph, StepStatus
from missionctl.workflows.models import WorkflowStepRow
from missionctl.workflows.schemas import RunStatus


@dataclass
class RunState:
    """What the runner knows of its run between rounds."""

    run_id: uuid.UUID
    tenant_id: uuid.UUID
    workflow: str
    graph: Graph
    inputs: dict[str, Any]
    variables: dict[str, Any]
    steps: dict[str, WorkflowStepRow] = field(default_factory=dict)
    status: str = RunStatus.RUNNING.value

    @property
    def definition(self) -> Definition:
        """The pinned version's definition."""
        return self.graph.definition

    @property
    def map_nodes(self) -> list[str]:
        """The map nodes, in order."""
        return [n for n in self.graph.order if isinstance(self.definition.nodes[n], MapNode)]

    def status_of(self, key: str) -> StepStatus:
        """A step's status (pending when it has no row)."""
        row = self.steps.get(key)
        return StepStatus(row.status) if row is not None else StepStatus.PENDING

    def scope(self, **extra: Any) -> dict[str, Any]:
        """The variables expressions see."""
        return {
            "inputs": self.inputs,
            "vars": self.variables,
            "nodes": NodesView(self.steps),
            "run": {"id": str(self.run_id), "workflow": self.workflow},
            **extra,
        }


class NodesView(Mapping[str, Any]):
    """`nodes.<id>` in expressions: each node's output and status, read when asked (building
    the whole mapping for every step would make a long chain quadratic)."""

    def __init__(self, steps: dict[str, WorkflowStepRow]) -> None:
        self._steps = steps

    def __getitem__(self, node_id: str) -> dict[str, Any]:
        row = self._steps[node_id]
        if row.item_index is not None:
            raise KeyError(node_id)
        return {"output": row.output, "status": row.status}

    def __iter__(self) -> Iterator[str]:
        return (k for k, row in self._steps.items() if row.item_index is None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Outputs(Mapping[str, Any]):
    """Each node's recorded output, read when asked."""

    def __init__(self, steps: dict[str, WorkflowStepRow]) -> None:
        self._steps = steps

    def __getitem__(self, node_id: str) -> Any:
        return self._steps[node_id].output

    def __iter__(self) -> Iterator[str]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)


def variables_of(definition: Definition, inputs: dict[str, Any]) -> dict[str, Any]:
    """The run's `vars`, rendered in order (each may read the inputs and the vars before it)."""
    values: dict[str, Any] = {}
    for name, template in definition.vars.items():
        values[name] = expressions.render(template, {"inputs": inputs, "vars": values})
    return values


SKIP_FIELDS = {
    "type",
    "needs",
    "join",
    "description",
    "retry",
    "timeout_seconds",
    "cache",
    "breaker",
}


def inputs_of(spec: NodeSpec, scope: dict[str, Any]) -> dict[str, Any]:
    """The node's fields with every template rendered: what its step records as inputs."""
    fields = spec.model_dump(by_alias=True, exclude=SKIP_FIELDS, exclude_none=True)
    rendered = expressions.render(fields, scope)
    assert isinstance(rendered, dict)
    return rendered


def backoff(base: float, cap: float, jitter: float, attempt: int) -> float:
    """The wait before attempt `attempt + 1`: exponential, capped, with ± `jitter`."""
    delay = min(cap, base * (2 ** (attempt - 1)))
    return float(max(0.0, delay * (1 + random.uniform(-jitter, jitter))))  # noqa: S311 - jitter only
