"""Definitions: the format's checks, each refused with its exact location; the expression
language's sandbox; the graph's ordering and skips (pure, plus the API's answers)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from missionctl.workflows import expressions
from missionctl.workflows.definition import DefinitionErrors, read_definition
from missionctl.workflows.expressions import ExpressionError
from missionctl.workflows.graph import StepStatus, compile_graph, next_moves, outcome
from tests.workflows.conftest import BRIEF, YAML


def faults(text: str) -> list[tuple[str, str, int | None, int | None]]:
    """Every fault of a definition: (location, message, line, column)."""
    with pytest.raises(DefinitionErrors) as caught:
        read_definition(text)
    return [(f.location, f.message, f.line, f.column) for f in caught.value.faults]


def test_the_example_validates() -> None:
    definition = read_definition(BRIEF)
    assert list(definition.nodes) == ["outline", "facts", "review", "publish", "note"]
    graph = compile_graph(definition)
    assert graph.order.index("note") > graph.order.index("publish")


def test_a_cycle_is_refused_with_its_path() -> None:
    text = (
        "name: loop\n"
        "nodes:\n"
        "  a: {type: llm, prompt: hi, needs: [c]}\n"
        "  b: {type: llm, prompt: hi, needs: [a]}\n"
        "  c: {type: llm, prompt: hi, needs: [b]}\n"
    )
    [(location, message, line, _)] = faults(text)
    assert location == "nodes.a.needs" and line == 3
    assert message == "cycle: a → b → c → a" or message.startswith("cycle:")
    assert {"a", "b", "c"} <= set(message.replace("cycle:", "").replace("→", " ").split())


def test_a_branch_cycle_is_refused() -> None:
    text = (
        "name: loop\n"
        "nodes:\n"
        "  gate: {type: condition, if: 'true', then: [work], needs: [work]}\n"
        "  work: {type: llm, prompt: hi}\n"
    )
    [(location, message, _, _)] = faults(text)
    assert message.startswith("cycle:") and location.endswith(".needs")


@pytest.mark.parametrize(
    ("change", "location", "line", "column", "message"),
    [
        (("type: approval", "type: aproval"), "nodes.review.type", 7, 13, "unknown node type"),
        (
            ("needs: [review]", "needs: [reveiw]"),
            "nodes.publish.needs[0]",
            8,
            38,
            "no node 'reveiw'",
        ),
        (("then: [note]", "then: [nothing]"), "nodes.publish.then[0]", 8, 90, "no node 'nothing'"),
        (
            ('if: "nodes.review.output.approved"', 'if: "nodes.review.output.approved and"'),
            "nodes.publish.if",
            8,
            None,
            "bad expression: invalid syntax",
        ),
        (
            ("{{ inputs.topic }}?", "{{ nodes.ghost.output }}?"),
            "nodes.review.message",
            7,
            None,
            "no node 'ghost'",
        ),
        (
            ("Outline a brief about {{ inputs.topic }}", "Outline {{ nodes.facts.output }}"),
            "nodes.outline.prompt",
            5,
            None,
            "reads nodes.facts, which it does not wait for",
        ),
        (
            ("model: offline, prompt", "modle: offline, prompt"),
            "nodes.outline.modle",
            5,
            None,
            "unknown field",
        ),
        (
            ('{{ inputs.topic }}"}', "{{ open('x') }}\"}"),
            "nodes.outline.prompt",
            5,
            None,
            "only these functions",
        ),
    ],
)
def test_each_fault_is_refused_at_its_place(
    change: tuple[str, str], location: str, line: int, column: int | None, message: str
) -> None:
    found = faults(BRIEF.replace(*change, 1))
    assert found[0][0] == location
    assert message in found[0][1]
    assert found[0][2] == line
    if column is not None:
        assert found[0][3] == column


def test_an_expression_fault_points_at_its_column() -> None:
    text = 'name: x\nnodes:\n  a: {type: llm, prompt: "Hi {{ inputs.name + }} there"}\n'
    [(location, message, line, column)] = faults(text)
    assert (location, line) == ("nodes.a.prompt", 3)
    source_line = text.splitlines()[2]
    assert column is not None and source_line[column - 1 :].lstrip().startswith("}}")
    assert message.startswith("bad expression")


def test_yaml_syntax_and_shape_faults() -> None:
    [(location, message, line, _)] = faults("name: x\nnodes:\n  a: [unclosed\n")
    assert location == "" and "not valid YAML" in message and line == 4
    assert faults("- just\n- a list\n")[0][1].startswith("a workflow definition is a mapping")
    assert faults("name: x\nnodes: {}\n")[0][0] == "nodes"
    assert faults("name: Bad Name\nnodes:\n  a: {type: llm, prompt: hi}\n")[0][0] == "name"
    body = faults(
        "name: x\n"
        "nodes:\n"
        "  m: {type: map, items: 'inputs.xs', node: {type: llm, prompt: hi, needs: [m]}}\n"
    )
    assert body[0][0] == "nodes.m.node.needs"
    outside = faults("name: x\nnodes:\n  a: {type: llm, prompt: '{{ item }}'}\n")
    assert "only in a map" in outside[0][1]


def test_every_fault_is_reported_not_only_the_first() -> None:
    text = (
        "name: x\n"
        "nodes:\n"
        "  a: {type: nope}\n"
        "  b: {type: llm}\n"
        "  c: {type: llm, prompt: hi, needs: [zz]}\n"
    )
    locations = [f[0] for f in faults(text)]
    assert locations == ["nodes.a.type", "nodes.b.prompt", "nodes.c.needs[0]"]


def test_the_api_refuses_bad_definitions_with_each_location(api: httpx.Client) -> None:
    bad = BRIEF.replace("needs: [review]", "needs: [review, note]")  # note is gated by publish
    response = api.post("/workflows", content=bad, headers=YAML)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_workflow"
    assert body["errors"][0]["location"].startswith("nodes.")
    assert body["errors"][0]["message"].startswith("cycle:")
    as_json: dict[str, Any] = {
        "name": "j",
        "nodes": {"a": {"type": "llm", "prompt": "hi", "needs": ["b"]}},
    }
    response = api.post(
        "/workflows", content=json.dumps(as_json), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    [fault] = response.json()["errors"]
    assert (fault["location"], fault["message"], fault["line"]) == (
        "nodes.a.needs[0]",
        "no node 'b'",
        1,
    )
    assert json.dumps(as_json)[fault["column"] - 1 :].startswith('"b"')
    unknown_tool = "name: t\nnodes:\n  a: {type: tool, tool: teleport}\n"
    response = api.post("/workflows", content=unknown_tool, headers=YAML)
    assert (
        response.status_code == 422 and response.json()["errors"][0]["location"] == "nodes.a.tool"
    )
    unknown_agent = "name: t\nnodes:\n  a: {type: agent, agent: nobody, prompt: hi}\n"
    response = api.post("/workflows", content=unknown_agent, headers=YAML)
    assert response.json()["errors"][0] == {
        "location": "nodes.a.agent",
        "message": "no agent 'nobody'",
        "line": 3,
        "column": 20,
    }
    assert api.get("/workflows").json() == []  # nothing was saved
    valid = api.post("/workflows/validate", content=BRIEF, headers=YAML).json()
    assert (
        valid["is_valid"]
        and {"source": "review", "target": "publish", "kind": "needs"} in valid["graph"]["edges"]
    )
    assert {"source": "publish", "target": "note", "kind": "branch"} in valid["graph"]["edges"]
    invalid = api.post("/workflows/validate", content=bad, headers=YAML).json()
    assert not invalid["is_valid"] and invalid["errors"][0]["line"] == 8


def test_a_json_definition_is_the_same_workflow(api: httpx.Client) -> None:
    document = read_definition(BRIEF).as_document()
    response = api.post(
        "/workflows", content=json.dumps(document), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201 and response.json()["version"] == 1
    again = api.post("/workflows", content=BRIEF, headers=YAML)
    assert again.status_code == 200 and again.json()["is_new_version"] is False


# -- expressions ------------------------------------------------------------------------------

SCOPE = {
    "inputs": {"topic": "tides", "n": 3, "xs": [1, 2, 3]},
    "nodes": {"review": {"output": {"approved": True}}, "skipped": {"output": None}},
}


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("nodes.review.output.approved", True),
        ("nodes.skipped.output.approved", None),
        ("nodes['review'].output['approved'] and inputs.n > 2", True),
        ("not nodes.missing", True),
        ("inputs.n * 2 + 1", 7),
        ("inputs.topic + '!'", "tides!"),
        ("'tid' in inputs.topic", True),
        ("3 in inputs.xs", True),
        ("inputs.xs[-1]", 3),
        ("inputs.xs[1:]", [2, 3]),
        ("len(inputs.xs) == 3 and upper(inputs.topic) == 'TIDES'", True),
        ("'yes' if inputs.n >= 3 else 'no'", "yes"),
        ("default(nodes.skipped.output, 'none')", "none"),
        ("pluck([{'a': 1}, {'a': 2}], 'a')", [1, 2]),
        ("join(split('a b', ' '), '-')", "a-b"),
        ("true and not false and null == None", True),
        ("{'k': inputs.n}", {"k": 3}),
    ],
)
def test_expressions_evaluate(source: str, value: Any) -> None:
    assert expressions.parse(source).evaluate(SCOPE) == value


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "inputs.__class__",
        "inputs._private",
        "(lambda: 1)()",
        "[x for x in inputs.xs]",
        "open('/etc/passwd')",
        "eval('1')",
        "secrets",
        "inputs.topic.upper()",
        "x := 1",
        "2 ** 100000",
    ],
)
def test_the_sandbox_refuses(source: str) -> None:
    with pytest.raises(ExpressionError):
        expressions.parse(source)


def test_runaway_values_are_bounded() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        expressions.parse("'x' * 10000000").evaluate({})
    with pytest.raises(ExpressionError, match="longer than"):
        expressions.parse("range(10000000)").evaluate({})
    with pytest.raises(ExpressionError):
        expressions.parse("1 / 0").evaluate({})


def test_templates_keep_types_or_make_text() -> None:
    assert expressions.parse_template("{{ inputs.xs }}").render(SCOPE) == [1, 2, 3]
    assert expressions.parse_template(" {{ inputs.n }} ").render(SCOPE) == 3
    assert (
        expressions.parse_template("n={{ inputs.n }}, xs={{ inputs.xs }}").render(SCOPE)
        == "n=3, xs=[1, 2, 3]"
    )
    assert expressions.parse_template("[{{ nodes.skipped.output }}]").render(SCOPE) == "[]"
    with pytest.raises(ExpressionError) as caught:
        expressions.parse_template("ok {{ inputs.n")
    assert caught.value.column == 4


@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.sampled_from(["+", "-", "*", "<", "==", ">="]),
)
def test_arithmetic_and_comparison_agree_with_python(a: int, b: int, op: str) -> None:
    expected = {"+": a + b, "-": a - b, "*": a * b, "<": a < b, "==": a == b, ">=": a >= b}[op]
    assert (
        expressions.parse(f"inputs.a {op} inputs.b").evaluate({"inputs": {"a": a, "b": b}})
        == expected
    )


# -- the graph --------------------------------------------------------------------------------


def test_skips_propagate_and_join_any_survives_one_branch() -> None:
    graph = compile_graph(
        read_definition(
            """\
name: g
nodes:
  gate: {type: condition, if: "false", then: [yes_side], else: [no_side]}
  yes_side: {type: llm, prompt: a}
  no_side: {type: llm, prompt: b}
  after_yes: {type: llm, prompt: c, needs: [yes_side]}
  either: {type: llm, prompt: d, needs: [yes_side, no_side], join: any}
"""
        )
    )
    statuses = {"gate": StepStatus.SUCCEEDED}
    outputs = {"gate": {"result": False, "branch": "else"}}
    moves = next_moves(graph, statuses, outputs)
    assert set(moves.skipped) == {"yes_side", "after_yes"}
    assert moves.ready == ("no_side",)
    statuses |= dict.fromkeys(moves.skipped, StepStatus.SKIPPED) | {"no_side": StepStatus.SUCCEEDED}
    assert next_moves(graph, statuses, outputs).ready == ("either",)
    statuses["either"] = StepStatus.SUCCEEDED
    assert outcome(graph, statuses).value == "succeeded"


def test_a_parallel_node_joins_its_members() -> None:
    graph = compile_graph(
        read_definition(
            "name: p\n"
            "nodes:\n"
            "  start: {type: llm, prompt: s}\n"
            "  fan: {type: parallel, needs: [start], nodes: [a, b]}\n"
            "  a: {type: llm, prompt: a}\n"
            "  b: {type: llm, prompt: b}\n"
            "  end: {type: llm, prompt: e, needs: [fan]}\n"
        )
    )
    assert next_moves(graph, {}, {}).ready == ("start",)
    after_start = {"start": StepStatus.SUCCEEDED}
    assert set(next_moves(graph, after_start, {}).ready) == {"a", "b"}
    members_done = after_start | {"a": StepStatus.SUCCEEDED, "b": StepStatus.SUCCEEDED}
    assert next_moves(graph, members_done, {}).ready == ("fan",)


def test_a_fault_outside_the_text_still_gets_reported() -> None:
    [(location, message, line, _)] = faults("nodes: {a: {type: llm, prompt: hi}}\n")
    assert (location, message, line) == ("name", "Field required", None)


_KEYS = st.sampled_from(["name", "nodes", "inputs", "outputs", "vars", "type", "needs", "a", "b"])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
_DOCUMENTS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)


@given(_DOCUMENTS)
def test_any_document_is_accepted_or_refused_with_located_faults(document: Any) -> None:
    text = json.dumps(document)
    found: list[str] = []
    try:
        read_definition(text)
    except DefinitionErrors as exc:
        found = [f.message for f in exc.faults]
        assert found, "refused without saying why"
    assert all(isinstance(message, str) and message for message in found)
