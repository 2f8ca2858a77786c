"""What a run does next, pure: from the definition and its steps' states to ready and skipped
nodes, and whether the run is over. No I/O.

A node waits for its `needs`, for the branching node that controls it (`condition`, `switch`),
and, for a `parallel` node, for its members (which wait for the parallel node's own needs): the
parallel node is their join. Once everything it waits for has finished, a node is

- skipped when its branching node was skipped or chose another branch, or when (`join: all`,
  the default) one of its needs was skipped, or (`join: any`) all of them were;
- ready otherwise.

Skips propagate within one call (nodes are visited in topological order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from missionctl.workflows.definition import (
    ConditionNode,
    Definition,
    ParallelNode,
    SwitchNode,
    edges,
    owners,
)


class StepStatus(StrEnum):
    """Where one node (or one map item) of a run is."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # a person, a time, a task, a child run or a retry's backoff
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


FINISHED = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})


class RunOutcome(StrEnum):
    """Whether a run is over."""

    OPEN = "open"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Graph:
    """A checked definition's waiting relation, in topological order."""

    definition: Definition
    waits: Mapping[str, frozenset[str]]
    owner: Mapping[str, str]
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Moves:
    """What to do now: nodes to start, nodes to mark skipped."""

    ready: tuple[str, ...]
    skipped: tuple[str, ...]


def compile_graph(definition: Definition) -> Graph:
    """The graph of a definition that passed `check_definition` (so it has no cycle)."""
    owner = owners(definition)
    waits = {k: frozenset(v) for k, v in edges(definition, owner).items()}
    order: list[str] = []
    placed: set[str] = set()
    remaining = dict(waits)
    while remaining:
        layer = sorted(n for n, w in remaining.items() if w <= placed)
        if not layer:
            raise ValueError("the definition has a cycle")  # check_definition refuses these
        for node_id in layer:
            del remaining[node_id]
        order.extend(layer)
        placed.update(layer)
    return Graph(definition=definition, waits=waits, owner=owner, order=tuple(order))


def chosen_targets(spec: Any, output: Any) -> frozenset[str]:
    """The nodes a finished condition or switch let through (from its recorded output)."""
    branch = output.get("branch") if isinstance(output, dict) else None
    if isinstance(spec, ConditionNode):
        return frozenset(spec.then if branch == "then" else spec.else_)
    if isinstance(spec, SwitchNode):
        if branch is not None and branch in spec.cases:
            return frozenset(spec.cases[branch])
        return frozenset(spec.default)
    return frozenset()


def next_moves(
    graph: Graph, statuses: Mapping[str, StepStatus], outputs: Mapping[str, Any]
) -> Moves:
    """Nodes that can start now and nodes to skip, given each node's status (missing: pending)."""
    current = dict(statuses)
    ready: list[str] = []
    skipped: list[str] = []
    for node_id in graph.order:
        if current.get(node_id, StepStatus.PENDING) is not StepStatus.PENDING:
            continue
        waits = graph.waits[node_id]
        if not all(current.get(w) in FINISHED for w in waits):
            continue
        if _is_skipped(graph, node_id, current, outputs):
            current[node_id] = StepStatus.SKIPPED
            skipped.append(node_id)
        else:
            ready.append(node_id)
    return Moves(ready=tuple(ready), skipped=tuple(skipped))


def _is_skipped(
    graph: Graph, node_id: str, current: Mapping[str, StepStatus], outputs: Mapping[str, Any]
) -> bool:
    definition = graph.definition
    parent = graph.owner.get(node_id)
    needs = set(definition.nodes[node_id].needs)
    if parent is not None:
        parent_spec = definition.nodes[parent]
        if isinstance(parent_spec, ParallelNode):
            needs |= set(parent_spec.needs)
        else:
            if current.get(parent) is StepStatus.SKIPPED:
                return True
            if node_id not in chosen_targets(parent_spec, outputs.get(parent)):
                return True
    spec = definition.nodes[node_id]
    if isinstance(spec, ParallelNode):
        needs |= set(spec.nodes)
    if not needs:
        return False
    skipped = [n for n in needs if current.get(n) is StepStatus.SKIPPED]
    if spec.join == "any":
        return len(skipped) == len(needs)
    return bool(skipped)


def outcome(graph: Graph, statuses: Mapping[str, StepStatus]) -> RunOutcome:
    """Succeeded when every node finished, failed when one failed, else open."""
    values = [statuses.get(n, StepStatus.PENDING) for n in graph.order]
    if any(v is StepStatus.FAILED for v in values):
        return RunOutcome.FAILED
    if all(v in FINISHED for v in values):
        return RunOutcome.SUCCEEDED
    return RunOutcome.OPEN
