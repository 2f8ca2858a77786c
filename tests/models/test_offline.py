"""The offline model: its pure text logic, and the model driven through real pydantic-ai agents.

Agents run under `asyncio.run`, never `run_sync`: `run_sync` leaves an event loop set as current
that the next `asyncio.run` in the same process would drop unclosed (a `ResourceWarning`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, NativeOutput, Tool
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

from missionctl.models.offline import OFFLINE_LABEL, OfflineModel, is_offline
from missionctl.models.offline_intents import Intent, detect_intent, split_review_prompt
from missionctl.models.offline_text import (
    MAX_TITLE_CHARS,
    plan_subtasks,
    review_work,
    split_sentences,
    summarise,
    summary_sentences,
    write_document,
)
from missionctl.models.tokens import estimate_tokens

CAPABILITIES = {"research", "writing", "review", "analysis", "engineering"}
GOAL = (
    "Research competitor pricing, then compare it with ours and write a summary for the board; "
    "finally review the summary with sales."
)
GOOD_WORK = """# Pricing comparison

## Summary

We compared our pricing with three competitors across the starter, team and enterprise tiers.

## Findings

- Competitor A charges 12 dollars per seat and discounts annual plans by 20 percent.
- Competitor B bundles support into its enterprise tier and charges per workspace.
- Our pricing sits in the middle for small teams but is the most expensive for large ones.

## Recommendation

Introduce an annual discount and a volume tier for teams above fifty seats.
"""


def run(agent: Agent[Any, Any], prompt: str) -> Any:
    return asyncio.run(agent.run(prompt))


# --- the pure text logic ---------------------------------------------------------------------


def test_plan_follows_the_steps_a_goal_spells_out() -> None:
    plan = plan_subtasks(GOAL)
    assert [s.title for s in plan] == [
        "Research competitor pricing",
        "Compare it with ours",
        "Write a summary for the board",
        "Review the summary with sales",
    ]
    assert [s.capability for s in plan] == ["research", "analysis", "writing", "review"]
    assert [s.depends_on for s in plan] == [(), (0,), (1,), (2,)]
    assert all(GOAL[:40] in s.description for s in plan)


def test_plan_reads_numbered_and_bulleted_lists() -> None:
    goal = "Launch:\n1. Collect customer feedback\n2. Analyse the feedback\n- Draft release notes"
    assert [s.title for s in plan_subtasks(goal)] == [
        "Collect customer feedback",
        "Analyse the feedback",
        "Draft release notes",
    ]


def test_a_short_goal_gets_a_template_adapted_to_its_topic() -> None:
    plan = plan_subtasks("Write a blog post about Rust async runtimes")
    assert [s.title for s in plan] == [
        "Research Rust async runtimes",
        "Draft the blog post on Rust async runtimes",
        "Review and edit the blog post",
    ]
    engineering = plan_subtasks("Build a REST API for invoices")
    assert "engineering" in {s.capability for s in engineering}
    assert engineering[-1].capability == "review"


def test_a_long_goal_is_capped_with_the_rest_folded_into_the_last_step() -> None:
    goal = "\n".join(f"- Write section {n} of the handbook" for n in range(12))
    plan = plan_subtasks(goal)
    assert len(plan) == 8
    assert "section 11" in plan[-1].description


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=2_000))
def test_any_goal_gives_a_valid_deterministic_plan(goal: str) -> None:
    plan = plan_subtasks(goal)
    assert 3 <= len(plan) <= 8
    assert plan == plan_subtasks(goal)
    for index, subtask in enumerate(plan):
        assert subtask.title.strip()
        assert len(subtask.title) <= MAX_TITLE_CHARS
        assert subtask.capability in CAPABILITIES
        assert all(0 <= dep < index for dep in subtask.depends_on)


def test_document_has_its_sections_and_uses_the_thread() -> None:
    document = write_document(
        "Pricing report",
        "Compare our pricing with competitors. What about enterprise tiers?",
        ["Competitor A charges 10 dollars per seat. They discount annual plans.", "  "],
    )
    assert document.startswith("# Pricing report\n")
    for section in ("Summary", "Context", "Key points", "Draft", "Open questions", "Next steps"):
        assert f"\n## {section}\n" in document
    assert "- Competitor A charges 10 dollars per seat." in document
    assert "- What about enterprise tiers?" in document


def test_document_from_nothing_is_still_a_document() -> None:
    document = write_document("", "", [])
    assert document.startswith("# Untitled document")
    assert "_No description was given._" in document


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=1_000), st.lists(st.text(max_size=200), max_size=5))
def test_any_document_input_is_handled_deterministically(
    title: str, description: str, thread: list[str]
) -> None:
    document = write_document(title, description, thread)
    assert document.startswith("# ")
    assert document == write_document(title, description, thread)


def test_empty_work_is_sent_back_with_reasons() -> None:
    verdict = review_work("Pricing report", "Compare our pricing with competitors", "")
    assert not verdict.is_approved
    assert verdict.score == 0.0
    assert any("empty" in comment for comment in verdict.comments)
    assert any("pricing" in comment and "competitors" in comment for comment in verdict.comments)


def test_placeholders_and_thin_work_are_named() -> None:
    verdict = review_work("Pricing report", "Compare pricing", "## Pricing\n\nTODO compare. TBD")
    assert not verdict.is_approved
    assert any("TBD, TODO" in comment for comment in verdict.comments)
    assert any("Too short" in comment for comment in verdict.comments)


def test_good_work_is_approved() -> None:
    verdict = review_work("Pricing report", "Compare our pricing with competitors", GOOD_WORK)
    assert verdict.is_approved
    assert verdict.score > 0.7
    assert verdict.comments[0].startswith("Meets the task")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.text(max_size=500), st.text(max_size=2_000))
def test_any_review_is_bounded_and_deterministic(title: str, description: str, work: str) -> None:
    verdict = review_work(title, description, work)
    assert 0.0 <= verdict.score <= 1.0
    assert verdict.is_approved or verdict.comments
    assert verdict == review_work(title, description, work)


def test_summary_picks_the_central_sentences_in_order() -> None:
    text = (
        "Cats are great. The weather is nice today. Cats and dogs both make great pets. "
        "Parking is expensive downtown. Pets need care and cats need food."
    )
    summary = summarise(text, 3)
    assert summary.startswith("Cats are great. ")
    assert "weather" not in summary
    assert "Parking" not in summary
    assert summarise("", 3) == ""
    assert summarise(text, 0) == ""


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3_000), st.integers(min_value=0, max_value=6))
def test_summary_sentences_come_from_the_text_in_order(text: str, count: int) -> None:
    chosen = summary_sentences(text, count)
    sentences = split_sentences(text)
    assert len(chosen) <= count
    positions = iter(range(len(sentences)))
    assert all(any(sentences[i] == s for i in positions) for s in chosen)  # a subsequence
    assert summarise(text, count) == " ".join(chosen)


def test_huge_inputs_are_read_only_up_to_a_bound() -> None:
    huge = "Collect the data and analyse the trends. " * 200_000
    assert 3 <= len(plan_subtasks(huge)) <= 8
    assert len(summary_sentences(huge, 3)) == 3
    assert not review_work("Trends", "Analyse the trends", huge).is_approved  # no structure
    assert write_document("Trends", huge, [huge]).startswith("# Trends")


# --- reading prompts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instructions", "prompt", "intent"),
    [
        ("Mode: summarise", "Please review this plan", Intent.SUMMARISE),
        ("You help.\nmode: Review", "", Intent.REVIEW),
        ("", "Break this down into subtasks", Intent.PLAN),
        ("", "Review the draft", Intent.REVIEW),
        ("", "Summarize the thread", Intent.SUMMARISE),
        ("You write reports.", "Pricing", Intent.WRITE),
        ("", "What time is it?", Intent.ANSWER),
    ],
)
def test_intent_comes_from_a_mode_line_then_keywords(
    instructions: str, prompt: str, intent: Intent
) -> None:
    assert detect_intent(instructions, prompt) is intent


def test_a_review_prompt_splits_into_task_and_work() -> None:
    assert split_review_prompt("# Report\nCover pricing\nWork: the text\nmore") == (
        "Report",
        "Cover pricing",
        "the text\nmore",
    )
    assert split_review_prompt("Task: Report\n--- work ---\nbody") == ("Report", "", "body")
    assert split_review_prompt("just the work") == ("", "", "just the work")


# --- the model through pydantic-ai ----------------------------------------------------------


def test_the_model_names_itself() -> None:
    model = OfflineModel()
    assert (model.model_name, model.system, model.label) == ("offline", "offline", OFFLINE_LABEL)
    assert is_offline("offline")
    assert is_offline(" Offline ")
    assert not is_offline("openai:gpt-5")


def test_a_planner_agent_creates_subtasks_through_its_tool() -> None:
    created: list[dict[str, Any]] = []

    def create_task(title: str, description: str, capability: str, depends_on: list[int]) -> str:
        """Create one subtask."""
        created.append({"title": title, "capability": capability, "depends_on": depends_on})
        return f"created {title}"

    agent = Agent(OfflineModel(), instructions="Mode: plan", tools=[create_task])
    result = run(agent, GOAL)
    assert len(created) == 4  # one call each, made in parallel
    by_title = {c["title"]: c for c in created}
    assert by_title["Compare it with ours"] == {
        "title": "Compare it with ours",
        "capability": "analysis",
        "depends_on": [0],
    }
    assert result.output.startswith("Planned 4 subtasks with create_task (4 calls).")
    assert "created Research competitor pricing" in result.output


class SubtaskIn(BaseModel):
    title: str
    capability: Literal["research", "writing", "review", "analysis", "engineering"]
    depends_on: list[str]


def test_a_tool_that_takes_the_whole_plan_is_called_once() -> None:
    calls: list[list[SubtaskIn]] = []

    def submit_plan(parent_id: str, subtasks: list[SubtaskIn], priority: int, urgent: bool) -> str:
        """Record the plan."""
        calls.append(subtasks)
        assert (priority, urgent) == (0, False)  # unknown required properties get empty values
        return parent_id

    parent = str(uuid.UUID(int=7))
    result = run(
        Agent(OfflineModel(), tools=[submit_plan]), f"Plan task {parent}: write a memo on tariffs"
    )
    assert len(calls) == 1
    assert [s.title for s in calls[0]] == [
        "Research tariffs",
        "Draft the memo on tariffs",
        "Review and edit the memo",
    ]
    assert calls[0][2].depends_on == ["Draft the memo on tariffs"]  # string items name the step
    assert parent in result.output


def test_dependencies_typed_as_ids_are_left_for_the_caller_to_link() -> None:
    created: list[list[uuid.UUID]] = []

    def create_task(title: str, depends_on: list[uuid.UUID]) -> str:
        """Create one subtask."""
        created.append(depends_on)
        return "ok"

    result = run(Agent(OfflineModel(), tools=[create_task]), "Plan a memo on tariffs")
    assert created == [[], [], []]
    assert result.output.startswith("Planned 3 subtasks")


class Plan(BaseModel):
    goal: str
    subtasks: list[SubtaskIn]


def test_structured_output_fills_the_output_type() -> None:
    result = run(Agent(OfflineModel(), output_type=Plan), f"Plan this: {GOAL}")
    assert isinstance(result.output, Plan)
    assert len(result.output.subtasks) == 4
    assert result.output.subtasks[3].capability == "review"


class Review(BaseModel):
    approved: bool
    comments: list[str]


def test_native_structured_output_is_json_text() -> None:
    agent = Agent(OfflineModel(), instructions="Mode: review", output_type=NativeOutput(Review))
    result = run(agent, "Report\nCover pricing\nWork:\nTODO")
    assert result.output.approved is False
    assert result.output.comments


def test_a_reviewer_sends_empty_work_back_and_approves_good_work() -> None:
    agent = Agent(OfflineModel(), instructions="Mode: review", output_type=Review)
    task = "Pricing report\nCompare our pricing with competitors\nWork:\n"
    rejected = run(agent, task).output
    assert not rejected.approved
    assert any("empty" in c for c in rejected.comments)
    assert run(agent, task + GOOD_WORK).output.approved


def test_a_review_without_tools_or_output_type_is_text() -> None:
    agent = Agent(OfflineModel(), instructions="Mode: review")
    task = "Pricing report\nCompare our pricing with competitors\n--- work ---\n"
    assert run(agent, task).output.startswith("CHANGES REQUESTED:\n- ")
    assert run(agent, task + GOOD_WORK).output.startswith("APPROVED: Meets the task")


def test_a_review_tool_gets_the_verdict() -> None:
    verdicts: list[tuple[str, list[str]]] = []

    def submit_review(verdict: Literal["approve", "request_changes"], comments: list[str]) -> str:
        """Record a review."""
        verdicts.append((verdict, comments))
        return "recorded"

    run(Agent(OfflineModel(), tools=[submit_review]), "Review: Report\nCover pricing\nWork: TBD")
    assert verdicts[0][0] == "request_changes"
    assert any("TBD" in c for c in verdicts[0][1])


def test_a_writer_saves_its_document_through_a_tool() -> None:
    saved: list[tuple[str, str]] = []

    def save_document(title: str, markdown: str) -> str:
        """Save a document."""
        saved.append((title, markdown))
        return "saved"

    result = run(
        Agent(OfflineModel(), tools=[save_document]),
        "Write a memo on sustainable packaging\nThread:\nUse recycled card.\nAvoid plastic tape.",
    )
    assert saved[0][0] == "Sustainable packaging"
    assert saved[0][1].startswith("# Sustainable packaging\n")
    assert "- Use recycled card." in saved[0][1]
    assert result.output.startswith("Wrote the document 'Sustainable packaging' with save_document")


def test_without_a_fitting_tool_the_plan_is_a_numbered_list() -> None:
    def send_email(to: str) -> str:
        """Unrelated."""
        raise AssertionError("not called")

    result = run(Agent(OfflineModel(), tools=[send_email]), f"Plan: {GOAL}")
    assert result.output.splitlines()[1] == "2. Compare it with ours (analysis; after 1)"


def test_a_mode_line_in_the_system_prompt_wins() -> None:
    agent = Agent(OfflineModel(), system_prompt="You help the team.\nMode: summarise")
    text = "Please review this. Cats are great pets. The weather is nice. Cats need food."
    assert run(agent, text).output == summarise(text)


def test_an_answer_is_marked_as_offline() -> None:
    assert run(Agent(OfflineModel()), "What is the capital of France?").output.startswith(
        "Offline model: What is the capital of France?"
    )


def test_a_tool_asking_for_a_retry_is_called_once_more() -> None:
    attempts: list[str] = []

    def create_subtask(title: str) -> str:
        """Create a subtask, failing the first time for each title."""
        attempts.append(title)
        if attempts.count(title) == 1 and title.startswith("Research"):
            raise ModelRetry("try again")
        return "ok"

    result = run(Agent(OfflineModel(), tools=[create_subtask]), "Plan a memo on tariffs")
    assert attempts.count("Research tariffs") == 2
    assert attempts.count("Draft the memo on tariffs") == 1  # only the failed call is repeated
    assert result.output.startswith("Planned 3 subtasks")


def test_a_tool_that_keeps_failing_is_reported() -> None:
    def create_subtask(title: str) -> str:
        """Always fails."""
        raise ModelRetry("the board is read-only")

    agent = Agent(OfflineModel(), tools=[Tool(create_subtask, max_retries=5)])
    result = run(agent, "Plan a memo on tariffs")
    assert result.output.startswith("Offline model: the create_subtask tool failed (3 of 3 calls)")
    assert "read-only" in result.output


def test_streaming_yields_the_text_in_pieces() -> None:
    async def stream() -> tuple[list[str], str]:
        agent = Agent(OfflineModel())
        async with agent.run_stream("Write a memo on sustainable packaging") as result:
            pieces = [p async for p in result.stream_text(delta=True, debounce_by=None)]
        return pieces, (await agent.run("Write a memo on sustainable packaging")).output

    pieces, whole = asyncio.run(stream())
    assert len(pieces) > 5
    assert "".join(pieces) == whole


def request_parameters() -> ModelRequestParameters:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "capability": {"type": "string"}},
        "required": ["title", "capability"],
    }
    tool = ToolDefinition(name="create_task", parameters_json_schema=schema)
    return ModelRequestParameters(function_tools=[tool])


def test_a_streamed_response_matches_a_plain_one_tool_calls_included() -> None:
    model = OfflineModel()
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(f"Plan: {GOAL}")])]

    async def both() -> tuple[ModelResponse, ModelResponse, int]:
        plain = await model.request(messages, None, request_parameters())
        async with model.request_stream(messages, None, request_parameters()) as streamed:
            events = [event async for event in streamed]
        return plain, streamed.get(), len(events)

    plain, streamed, event_count = asyncio.run(both())
    assert [p.tool_name for p in plain.parts if isinstance(p, ToolCallPart)] == ["create_task"] * 4

    def calls(response: ModelResponse) -> list[tuple[str, dict[str, Any], str]]:
        return [
            (p.tool_name, p.args_as_dict(), p.tool_call_id)
            for p in response.parts
            if isinstance(p, ToolCallPart)
        ]

    assert calls(streamed) == calls(plain)
    assert streamed.usage == plain.usage
    assert event_count > len(plain.parts)  # each call's arguments arrive in more than one event


def test_usage_is_estimated_and_stable() -> None:
    model = OfflineModel()
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("What is tariff policy?")])]
    first = asyncio.run(model.request(messages, None, ModelRequestParameters()))
    second = asyncio.run(model.request(messages, None, ModelRequestParameters()))
    assert first.parts == second.parts
    assert first.usage == second.usage
    assert first.usage.input_tokens == estimate_tokens("What is tariff policy?")
    reply = first.parts[0]
    assert first.usage.output_tokens == estimate_tokens(getattr(reply, "content", ""))
    agent = Agent(OfflineModel(), instructions="Mode: plan")
    runs = [run(agent, GOAL).usage for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0].input_tokens > 0
    assert runs[0].output_tokens > 0


def test_tool_call_ids_are_deterministic_and_unique() -> None:
    model = OfflineModel()
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(f"Plan: {GOAL}")])]
    responses = [asyncio.run(model.request(messages, None, request_parameters())) for _ in range(2)]
    ids = [[p.tool_call_id for p in r.parts if isinstance(p, ToolCallPart)] for r in responses]
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 4
    args = [p.args_as_dict() for p in responses[0].parts if isinstance(p, ToolCallPart)]
    assert (
        json.dumps(args[0]) == '{"title": "Research competitor pricing", "capability": "research"}'
    )


def test_a_goal_listing_its_steps_after_a_colon_or_with_commas_is_split_there() -> None:
    plan = plan_subtasks(
        "Plan a launch of the new website: research competitors, write the copy, "
        "review it with legal"
    )
    assert [s.title for s in plan] == [
        "Research competitors",
        "Write the copy",
        "Review it with legal",
    ]
    assert [s.capability for s in plan] == ["research", "writing", "review"]
    assert [s.depends_on for s in plan] == [(), (0,), (1,)]


def test_a_template_plan_is_about_the_topic_not_the_deliverable() -> None:
    titles = [s.title for s in plan_subtasks("Write a market report on electric bikes in Germany")]
    assert titles[0] == "Research electric bikes in Germany"
    assert "report on electric bikes in Germany" in titles[1]
