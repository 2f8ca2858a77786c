"""Workflow definitions, pure: read YAML or JSON, check everything, say where each fault is.

`read_definition(text)` returns a `Definition` or raises `DefinitionErrors`, which lists every
fault found with its location (`nodes.publish.then[0]`), and the line and column in the source
when the source is YAML or JSON text. Checks: the shape of every node (per `type`), unknown node
types, references to nodes that do not exist (in `needs`, branch targets, parallel members and
`nodes.<id>` in expressions), reading a node that is not upstream, expression syntax, and cycles.

The graph those checks accept is in `graph.py`; `docs/workflows.md` documents the format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from missionctl.workflows import expressions
from missionctl.workflows.expressions import ExpressionError

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
NODE_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_NODES = 2000
MAX_SOURCE_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing wrong with a definition, and where."""

    location: str
    message: str
    line: int | None = None
    column: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """As the API and CLI show it."""
        return {
            "location": self.location,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }

    def __str__(self) -> str:
        where = self.location or "definition"
        if self.line is not None:
            where += f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        return f"{where}: {self.message}"


class DefinitionErrors(ValueError):
    """A definition that cannot be saved: every fault found."""

    def __init__(self, faults: list[Fault]) -> None:
        super().__init__("; ".join(str(f) for f in faults))
        self.faults = faults


# -- the format -------------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


InputType = Literal["string", "number", "integer", "boolean", "object", "array", "any"]
ErrorClass = Literal[
    "error", "timeout", "http", "http_4xx", "http_5xx", "network", "model", "tool", "circuit_open"
]


class InputSpec(_Spec):
    """One input of the workflow."""

    type: InputType = "string"
    required: bool = False
    default: Any = None
    description: str = ""
    enum: list[Any] | None = None


class RetrySpec(_Spec):
    """How a failing node is retried."""

    attempts: Annotated[int, Field(ge=1, le=50)] = 3
    backoff_seconds: Annotated[float, Field(ge=0, le=86_400)] = 1.0
    max_backoff_seconds: Annotated[float, Field(ge=0, le=86_400)] = 300.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    errors: list[ErrorClass] = Field(default_factory=lambda: list[ErrorClass](["error"]))


class CacheSpec(_Spec):
    """Reuse a node's output for the same definition and inputs."""

    ttl_seconds: Annotated[int, Field(ge=1, le=30 * 86_400)] = 3600


class BreakerSpec(_Spec):
    """When the target of a tool or HTTP node is given a rest."""

    failures: Annotated[int, Field(ge=1, le=1000)] = 5
    cooldown_seconds: Annotated[float, Field(ge=0.1, le=86_400)] = 30.0


class NodeSpec(_Spec):
    """What every node has."""

    type: str
    needs: list[str] = Field(default_factory=list)
    join: Literal["all", "any"] = "all"
    description: str = ""
    retry: RetrySpec | None = None
    timeout_seconds: Annotated[float | None, Field(gt=0, le=7 * 86_400)] = None
    cache: CacheSpec | None = None


class LlmNode(NodeSpec):
    """One model call through the model layer."""

    type: Literal["llm"] = "llm"
    model: str = "default"
    prompt: str
    system: str | None = None
    max_tokens: Annotated[int | None, Field(ge=1, le=200_000)] = None


class AgentNode(NodeSpec):
    """An agent answers a prompt with its role, instructions and model."""

    type: Literal["agent"] = "agent"
    agent: str
    prompt: str


class ToolNode(NodeSpec):
    """A registered tool, called with arguments."""

    type: Literal["tool"] = "tool"
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    breaker: BreakerSpec | None = None


class HttpNode(NodeSpec):
    """An HTTP request to an allowed host."""

    type: Literal["http"] = "http"
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    expect: list[Annotated[int, Field(ge=100, le=599)]] | None = None
    breaker: BreakerSpec | None = None


class ConditionNode(NodeSpec):
    """Branch on an expression: the nodes of the branch not taken are skipped."""

    type: Literal["condition"] = "condition"
    if_: str = Field(alias="if")
    then: list[str] = Field(default_factory=list)
    else_: list[str] = Field(default_factory=list, alias="else")


class SwitchNode(NodeSpec):
    """Branch on a value: the nodes of the matching case run, the others are skipped."""

    type: Literal["switch"] = "switch"
    value: str
    cases: dict[str, list[str]]
    default: list[str] = Field(default_factory=list)


class ParallelNode(NodeSpec):
    """Fan out to its member nodes and join: it finishes when they all have."""

    type: Literal["parallel"] = "parallel"
    nodes: Annotated[list[str], Field(min_length=1)]


class MapNode(NodeSpec):
    """Run one node per item of a list, at most `concurrency` at once."""

    type: Literal["map"] = "map"
    items: str
    node: dict[str, Any]
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 4


class SubworkflowNode(NodeSpec):
    """Run another workflow and wait for its outputs."""

    type: Literal["subworkflow"] = "subworkflow"
    workflow: str
    version: Annotated[int | None, Field(ge=1)] = None
    inputs: dict[str, Any] = Field(default_factory=dict)


class ApprovalNode(NodeSpec):
    """A person approves or rejects; after `timeout_seconds` the `default` decision holds."""

    type: Literal["approval"] = "approval"
    message: str
    timeout_seconds: Annotated[float | None, Field(gt=0, le=90 * 86_400)] = None
    default: Literal["approve", "reject"] = "reject"


class WaitNode(NodeSpec):
    """Wait for a duration or until a time."""

    type: Literal["wait"] = "wait"
    seconds: Annotated[float | None, Field(ge=0, le=366 * 86_400)] = None
    until: str | None = None


class TaskNode(NodeSpec):
    """Create a board task and wait until it is done."""

    type: Literal["task"] = "task"
    title: str
    description: str = ""
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    assign: list[str] = Field(default_factory=list)


NODE_TYPES: dict[str, type[NodeSpec]] = {
    "agent": AgentNode,
    "llm": LlmNode,
    "tool": ToolNode,
    "http": HttpNode,
    "condition": ConditionNode,
    "switch": SwitchNode,
    "parallel": ParallelNode,
    "map": MapNode,
    "subworkflow": SubworkflowNode,
    "approval": ApprovalNode,
    "wait": WaitNode,
    "task": TaskNode,
}
MAP_BODY_TYPES = frozenset({"agent", "llm", "tool", "http", "subworkflow", "task", "wait"})
# Where a node's expressions are bare (not `{{ }}` templates).
EXPRESSION_FIELDS = {"condition": ("if_", "if"), "switch": ("value", "value")}


class Definition(_Spec):
    """A whole workflow definition."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, NodeSpec]
    outputs: dict[str, Any] = Field(default_factory=dict)

    def node(self, node_id: str) -> NodeSpec:
        """The node called `node_id`."""
        return self.nodes[node_id]

    def map_body(self, node_id: str) -> NodeSpec:
        """The node a map runs per item."""
        spec = self.nodes[node_id]
        assert isinstance(spec, MapNode)
        return _node_model(spec.node["type"]).model_validate(spec.node)

    def as_document(self) -> dict[str, Any]:
        """The definition as stored (aliases, defaults left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True) | {
            "nodes": {k: _dump_node(v) for k, v in self.nodes.items()}
        }


def _dump_node(spec: NodeSpec) -> dict[str, Any]:
    return {"type": spec.type} | spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _node_model(node_type: str) -> type[NodeSpec]:
    return NODE_TYPES[node_type]


def expression_source(text: str) -> str:
    """A bare expression, or one written as a single `{{ … }}`."""
    stripped = text.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        return stripped[2:-2]
    return text


# -- reading ----------------------------------------------------------------------------------


def parse_source(text: str) -> Any:
    """YAML or JSON text as data; `DefinitionErrors` with the line of a syntax fault."""
    if len(text) > MAX_SOURCE_CHARS:
        raise DefinitionErrors([Fault("", f"definition longer than {MAX_SOURCE_CHARS} characters")])
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise DefinitionErrors(
            [Fault("", f"not valid YAML or JSON: {exc.problem or exc}", line, column)]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionErrors([Fault("", f"not valid YAML or JSON: {exc}")]) from None


def positions(text: str) -> dict[str, tuple[int, int]]:
    """Location → (line, column) of every mapping key and value in YAML/JSON text."""
    found: dict[str, tuple[int, int]] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return found

    def walk(node: yaml.Node, path: str) -> None:
        found.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                found[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                quoted = (
                    1 if isinstance(value, yaml.ScalarNode) and value.style in ("'", '"') else 0
                )
                mark = value.start_mark
                found[f"{child}#value"] = (mark.line + 1, mark.column + 1 + quoted)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    if root is not None:
        walk(root, "")
    return found


def read_definition(text: str) -> Definition:
    """Parse and check YAML or JSON text; `DefinitionErrors` lists every fault with its place."""
    data = parse_source(text)
    try:
        return check_definition(data)
    except DefinitionErrors as exc:
        raise DefinitionErrors(place(exc.faults, text)) from None


def place(faults: list[Fault], text: str) -> list[Fault]:
    """The faults with the line and column of their location in `text` (YAML or JSON)."""
    places = positions(text)
    return [_placed(f, places) for f in faults]


def _placed(fault: Fault, places: Mapping[str, tuple[int, int]]) -> Fault:
    location = fault.location
    while location:
        if location in places:
            line, column = places[location]
            value = places.get(f"{location}#value")
            if fault.column is not None and location == fault.location and value is not None:
                line, column = value[0], value[1] + fault.column - 1
            return Fault(fault.location, fault.message, line, column)
        parent = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", location)
        location = parent if parent != location else ""  # a top-level key: nothing above it
    return fault


def check_definition(data: Any) -> Definition:
    """Check already-parsed data (a mapping); `DefinitionErrors` lists every fault."""
    if not isinstance(data, dict):
        raise DefinitionErrors([Fault("", "a workflow definition is a mapping (name, nodes…)")])
    faults: list[Fault] = []
    nodes: dict[str, NodeSpec] = {}
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        faults.append(Fault("nodes", "a workflow needs at least one node (a mapping of id → node)"))
        raw_nodes = {}
    elif len(raw_nodes) > MAX_NODES:
        faults.append(Fault("nodes", f"at most {MAX_NODES} nodes"))
    for node_id, raw in raw_nodes.items():
        spec = _check_node(str(node_id), raw, f"nodes.{node_id}", faults, allow=set(NODE_TYPES))
        if spec is not None:
            nodes[str(node_id)] = spec
    top = {k: v for k, v in data.items() if k != "nodes"}
    try:
        definition = Definition.model_validate(top | {"nodes": {}})
    except ValidationError as exc:
        faults.extend(_pydantic_faults(exc, ""))
        definition = None
    if definition is not None:
        definition = definition.model_copy(update={"nodes": nodes})
        faults.extend(_check_graph(definition, raw_nodes))
    if faults:
        raise DefinitionErrors(faults)
    assert definition is not None
    return definition


def _pydantic_faults(exc: ValidationError, prefix: str) -> list[Fault]:
    faults = []
    for error in exc.errors():
        parts = [str(p) for p in error["loc"]]
        where = prefix
        for part in parts:
            where = f"{where}[{part}]" if part.isdigit() else (f"{where}.{part}" if where else part)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        faults.append(Fault(where, message))
    return faults


def _check_node(
    node_id: str, raw: Any, where: str, faults: list[Fault], *, allow: set[str]
) -> NodeSpec | None:
    if not NODE_ID_PATTERN.match(node_id):
        faults.append(Fault(where, "a node id is a letter or _, then letters, digits, _ or -"))
        return None
    if not isinstance(raw, dict):
        faults.append(Fault(where, "a node is a mapping with a `type`"))
        return None
    node_type = raw.get("type")
    if node_type not in allow:
        known = ", ".join(sorted(allow))
        faults.append(Fault(f"{where}.type", f"unknown node type {node_type!r} (types: {known})"))
        return None
    try:
        return _node_model(node_type).model_validate(raw)
    except ValidationError as exc:
        faults.extend(_pydantic_faults(exc, where))
        return None


# -- the graph's checks -----------------------------------------------------------------------


def branch_targets(spec: NodeSpec) -> Iterator[tuple[str, str]]:
    """(field location, node id) of every node a branching or parallel node controls."""
    if isinstance(spec, ConditionNode):
        yield from ((f"then[{i}]", t) for i, t in enumerate(spec.then))
        yield from ((f"else[{i}]", t) for i, t in enumerate(spec.else_))
    elif isinstance(spec, SwitchNode):
        for case, targets in spec.cases.items():
            yield from ((f"cases.{case}[{i}]", t) for i, t in enumerate(targets))
        yield from ((f"default[{i}]", t) for i, t in enumerate(spec.default))
    elif isinstance(spec, ParallelNode):
        yield from ((f"nodes[{i}]", t) for i, t in enumerate(spec.nodes))


def _check_graph(definition: Definition, raw_nodes: Mapping[str, Any]) -> list[Fault]:
    faults: list[Fault] = []
    nodes = definition.nodes
    owner: dict[str, str] = {}
    for node_id, spec in nodes.items():
        for index, need in enumerate(spec.needs):
            if need not in raw_nodes:
                faults.append(Fault(f"nodes.{node_id}.needs[{index}]", f"no node {need!r}"))
            elif need == node_id:
                faults.append(Fault(f"nodes.{node_id}.needs[{index}]", "a node cannot need itself"))
        for field, target in branch_targets(spec):
            where = f"nodes.{node_id}.{field}"
            if target not in raw_nodes:
                faults.append(Fault(where, f"no node {target!r}"))
            elif target == node_id:
                faults.append(Fault(where, "a node cannot branch to itself"))
            elif target in owner and owner[target] != node_id:
                faults.append(Fault(where, f"{target!r} already belongs to {owner[target]!r}"))
            else:
                owner[target] = node_id
        if isinstance(spec, MapNode):
            _check_map_body(node_id, spec, faults)
    if faults or len(nodes) != len(raw_nodes):
        return faults  # the rest needs every node readable and every reference good
    faults.extend(_cycles(definition, owner))
    if not faults:
        faults.extend(_check_expressions(definition, owner))
    return faults


def _check_map_body(node_id: str, spec: MapNode, faults: list[Fault]) -> None:
    where = f"nodes.{node_id}.node"
    body = _check_node("body", spec.node, where, faults, allow=set(MAP_BODY_TYPES))
    if body is not None and body.needs:
        faults.append(Fault(f"{where}.needs", "a map's node has no needs of its own"))


def edges(definition: Definition, owner: Mapping[str, str]) -> dict[str, set[str]]:
    """Node → the nodes it waits for (needs, its branching node, a parallel's members)."""
    waits: dict[str, set[str]] = {
        node_id: set(spec.needs) for node_id, spec in definition.nodes.items()
    }
    for child, parent in owner.items():
        parent_spec = definition.nodes[parent]
        if isinstance(parent_spec, ParallelNode):
            waits[child] |= set(parent_spec.needs)
            waits[parent].add(child)
        else:
            waits[child].add(parent)
    return waits


def owners(definition: Definition) -> dict[str, str]:
    """Node → the branching or parallel node that controls it."""
    return {
        t: node_id for node_id, spec in definition.nodes.items() for _, t in branch_targets(spec)
    }


def _cycles(definition: Definition, owner: Mapping[str, str]) -> list[Fault]:
    """The first cycle found, as a path (iterative: a long chain must not hit recursion limits)."""
    waits = {k: sorted(v) for k, v in edges(definition, owner).items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in definition.nodes:
        if start in state:
            continue
        path: list[str] = [start]
        pending: list[list[str]] = [list(waits[start])]
        state[start] = 1
        while path:
            if not pending[-1]:
                state[path.pop()] = 2
                pending.pop()
                continue
            upstream = pending[-1].pop()
            if state.get(upstream) == 1:
                cycle = [*path[path.index(upstream) :], upstream]
                shown = " → ".join(reversed(cycle))
                return [Fault(f"nodes.{cycle[0]}.needs", f"cycle: {shown}")]
            if upstream not in state:
                state[upstream] = 1
                path.append(upstream)
                pending.append(list(waits[upstream]))
    return []


def upstream_of(waits: Mapping[str, set[str]], node_id: str) -> set[str]:
    """Every node `node_id` waits for, directly or not."""
    seen: set[str] = set()
    stack = list(waits[node_id])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(waits[current])
    return seen


def _check_expressions(definition: Definition, owner: Mapping[str, str]) -> list[Fault]:
    faults: list[Fault] = []
    waits = edges(definition, owner)
    for node_id, spec in definition.nodes.items():
        visible = upstream_of(waits, node_id)
        for where, source, is_bare in _sources(node_id, spec, definition):
            faults.extend(
                _check_source(definition, where, source, is_bare=is_bare, visible=visible)
            )
    for where, source in expressions.templates_in(definition.outputs, "outputs"):
        faults.extend(_check_source(definition, where, source, visible=set(definition.nodes)))
    for where, source in expressions.templates_in(definition.vars, "vars"):
        faults.extend(_check_source(definition, where, source, visible=set()))
    return faults


def _sources(
    node_id: str, spec: NodeSpec, definition: Definition
) -> Iterator[tuple[str, str, bool]]:
    where = f"nodes.{node_id}"
    bare = EXPRESSION_FIELDS.get(spec.type)
    if bare is not None:
        yield f"{where}.{bare[1]}", getattr(spec, bare[0]), True
    if isinstance(spec, MapNode):
        yield f"{where}.items", spec.items, True
        body = definition.map_body(node_id)
        for path, source, _ in _sources("body", body, definition):
            yield f"{where}.node{path[len('nodes.body') :]}", source, False
        return
    skip = {"type", "needs", "join", "description", "retry", "timeout_seconds", "cache", "breaker"}
    if bare is not None:
        skip.add(bare[0])
    fields = spec.model_dump(by_alias=True, exclude=skip)
    for path, source in expressions.templates_in(fields, where):
        yield path, source, False


def _check_source(
    definition: Definition, where: str, source: str, *, is_bare: bool = False, visible: set[str]
) -> list[Fault]:
    try:
        if is_bare:
            found = [expressions.parse(expression_source(source))]
        else:
            found = list(expressions.parse_template(source).expressions)
    except ExpressionError as exc:
        return [Fault(where, f"bad expression: {exc.message}", column=exc.column)]
    faults: list[Fault] = []
    for expression in found:
        for ref in sorted(expression.references):
            if ref not in definition.nodes:
                faults.append(Fault(where, f"no node {ref!r} (in {expression.source!r})"))
            elif ref not in visible:
                faults.append(
                    Fault(where, f"reads nodes.{ref}, which it does not wait for (add it to needs)")
                )
        reads_item = "item" in expression.roots or "index" in expression.roots
        if reads_item and ".node." not in where:
            faults.append(Fault(where, "`item` and `index` exist only in a map's node"))
    return faults


def dump_source(definition: Definition) -> str:
    """The definition as YAML (for templates and the CLI)."""
    return yaml.safe_dump(definition.as_document(), sort_keys=False, allow_unicode=True)


def to_json(definition: Definition) -> str:
    """The definition as JSON text."""
    return json.dumps(definition.as_document(), sort_keys=False)
