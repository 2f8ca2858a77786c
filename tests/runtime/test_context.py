"""A turn's context: the template's parts, the token budget, and the thread summarised, not lost."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from missionctl.models.tokens import estimate_tokens
from missionctl.runtime.context import (
    TEMPLATE_VERSION,
    ThreadMessage,
    TurnMaterial,
    build_context,
)


def material(**changes: object) -> TurnMaterial:
    base = TurnMaterial(
        agent_name="writer",
        role="a technical writer",
        instructions="Write plainly. Cite sources.",
        task_title="Draft the launch post",
        task_description="A 500-word post announcing the new dashboard.",
        task_status="in_progress",
        instruction="Write the document with the write_document tool, then report.",
        mode="write",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_everything_fits_in_a_generous_budget() -> None:
    context = build_context(
        material(
            thread=[ThreadMessage("orchestrator", "Please keep it under 500 words.")],
            notifications=["You were assigned 'Draft the launch post'"],
            memories=["Readers liked short paragraphs last time."],
            documents=["Style guide: use active voice."],
            working_md="3 tasks in progress.",
        ),
        4000,
    )
    assert context.instructions.startswith("You are writer, a technical writer.")
    assert "Mode: write" in context.instructions
    assert context.prompt.startswith("# Draft the launch post\n\nA 500-word post")
    assert "Thread:\n- orchestrator: Please keep it under 500 words." in context.prompt
    for expected in (
        "You were assigned",
        "short paragraphs",
        "active voice",
        "3 tasks in progress.",
        "## Now\nWrite the document",
    ):
        assert expected in context.instructions
        assert expected not in context.prompt
    assert (context.kept_messages, context.summarised_messages) == (1, 0)
    assert context.template_version == TEMPLATE_VERSION


def test_older_thread_messages_are_summarised_when_they_do_not_fit() -> None:
    thread = [
        ThreadMessage("researcher", f"Finding {i}: the market for widgets grew {i} percent.")
        for i in range(60)
    ] + [ThreadMessage("reviewer", "Latest: please add a conclusion.")]
    context = build_context(material(thread=thread), 400)
    assert context.tokens <= 400
    assert "Latest: please add a conclusion." in context.prompt
    assert context.summarised_messages > 0
    assert context.kept_messages + context.summarised_messages == len(thread)
    assert f"- Earlier in the thread ({context.summarised_messages} messages, summarised)" in (
        context.prompt
    )


texts = st.text(min_size=0, max_size=400)


@given(
    st.lists(
        st.builds(ThreadMessage, author=st.sampled_from(["a", "bob"]), content=texts), max_size=40
    ),
    st.lists(texts, max_size=5),
    st.lists(texts, max_size=5),
    texts,
    st.integers(min_value=300, max_value=3000),
)
def test_the_context_stays_within_its_budget_and_keeps_the_newest_message(
    thread: list[ThreadMessage],
    memories: list[str],
    documents: list[str],
    working_md: str,
    budget: int,
) -> None:
    built = build_context(
        material(thread=thread, memories=memories, documents=documents, working_md=working_md),
        budget,
    )
    assert built.tokens <= budget
    assert (
        built.kept_messages + built.summarised_messages
        == (len(thread) if built.kept_messages or built.summarised_messages else 0)
        or not thread
    )
    assert estimate_tokens(built.prompt) + estimate_tokens(built.instructions) == built.tokens
    if thread and built.kept_messages:
        assert " ".join(thread[-1].content.split()) in built.prompt
    assert (
        build_context(
            material(thread=thread, memories=memories, documents=documents, working_md=working_md),
            budget,
        )
        == built
    )


def test_work_under_review_comes_after_the_task_and_survives_a_tight_budget() -> None:
    work = "# Launch post\n\n" + "The dashboard shows every agent live. " * 20
    built = build_context(material(work=work, documents=["x" * 4000], mode="review"), 600)
    assert built.prompt.startswith("# Draft the launch post")
    assert "Work:\n# Launch post" in built.prompt
    assert built.tokens <= 600
