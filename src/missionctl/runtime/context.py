"""A turn's context, built from a role-task-format template within a token budget. Pure: no I/O.

The template (version `TEMPLATE_VERSION`) has three parts. The *instructions* hold the role (who
the agent is and its standing instructions), the *format* (the mode and what to do now, under
"## Now") and the supporting context the agent may draw on: unread notifications, relevant
memories, documents and the WORKING.md summary. The *prompt* is the task itself: its title and
description, then its thread after a `Thread:` line (or, for a review, the work after a `Work:`
line). A model reads the whole; the built-in offline model reads the prompt as the work to do.

The role, the format and the task's own text are always kept. What else fits is filled in by
priority: the work under review, the newest thread messages verbatim (newest first), then
notifications, memories, documents and WORKING.md, each cut to what is left. Thread messages
that no longer fit are not dropped silently: they are replaced by one extractive summary of the
older part of the thread, so the agent still knows what was said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from missionctl.models.offline_text import summarise
from missionctl.models.tokens import CHARS_PER_TOKEN, estimate_tokens

TEMPLATE_VERSION = 2
MIN_SECTION_TOKENS = 24  # a section with less room than this is left out rather than cut to nothing
SUMMARY_SENTENCES = 4


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One message of the task's thread."""

    author: str
    content: str


@dataclass(frozen=True, slots=True)
class TurnMaterial:
    """Everything a turn could show the model."""

    agent_name: str
    role: str
    instructions: str
    task_title: str
    task_description: str
    task_status: str
    instruction: str  # the format: what to do in this turn and how to answer
    task_id: str = ""
    thread: Sequence[ThreadMessage] = ()
    work: str = ""  # the work under review, for a review
    documents: Sequence[str] = ()  # "title: excerpt"
    notifications: Sequence[str] = ()
    memories: Sequence[str] = ()
    working_md: str = ""
    mode: str | None = None  # `plan`, `write`, `review`... (the offline model reads it)


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the model is given, and what had to give way."""

    instructions: str
    prompt: str
    tokens: int
    kept_messages: int
    summarised_messages: int
    template_version: int = TEMPLATE_VERSION


def _role(material: TurnMaterial) -> str:
    lines = [f"You are {material.agent_name}, {material.role}."]
    if material.instructions.strip():
        lines.append(material.instructions.strip())
    if material.mode:
        lines.append(f"Mode: {material.mode}")
    lines.append(f"\n## Now\n{material.instruction.strip()}")
    return "\n".join(lines)


def _task(material: TurnMaterial) -> str:
    if material.mode == "plan":  # the goal's own words are the whole task
        goal = material.task_description.strip() or material.task_title
        return f"Plan goal {material.task_id}: {goal}".replace("goal : ", "goal: ")
    text = f"# {material.task_title}"
    if material.task_description.strip():
        text += f"\n\n{material.task_description.strip()}"
    facts = [f"status: {material.task_status}"]
    if material.task_id:
        facts.insert(0, f"task id: {material.task_id}")
    return f"{text}\n\n({'; '.join(facts)})"


def _cut(text: str, tokens: int) -> str:
    """`text` shortened to about `tokens` tokens (whole text if it fits)."""
    if estimate_tokens(text) <= tokens:
        return text
    return text[: max(0, tokens * CHARS_PER_TOKEN - 1)].rstrip() + "…"


def _thread(thread: Sequence[ThreadMessage], budget: int) -> tuple[str, int, int]:
    """The thread within `budget` tokens: newest messages verbatim, the older ones summarised."""
    kept: list[str] = []
    used = 0
    for message in reversed(thread):
        line = f"- {message.author}: {' '.join(message.content.split())}"
        cost = estimate_tokens(line) + 1
        if used + cost > budget * 3 // 4 and kept:  # keep a quarter for the summary
            break
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    older = thread[: len(thread) - len(kept)]
    parts = []
    if older:
        digest = summarise(" ".join(m.content for m in older), SUMMARY_SENTENCES)
        summary = f"- Earlier in the thread ({len(older)} messages, summarised): {digest}"
        parts.append(_cut(summary, max(budget - used, 0)))
    parts.extend(reversed(kept))
    return "\n".join(p for p in parts if p), len(kept), len(older)


def build_context(material: TurnMaterial, budget_tokens: int) -> TurnContext:
    """The turn's instructions and prompt, within `budget_tokens` where the fixed parts allow."""
    role = _role(material)
    task = _task(material)
    left = budget_tokens - estimate_tokens(role) - estimate_tokens(task) - 8
    prompt_parts = [task]
    if material.work.strip() and left > MIN_SECTION_TOKENS:
        prompt_parts.append("Work:\n" + _cut(material.work.strip(), left * 2 // 3))
        left -= estimate_tokens(prompt_parts[-1]) + 1
    kept = summarised = 0
    if material.thread and left > MIN_SECTION_TOKENS:
        text, kept, summarised = _thread(material.thread, left - 4)
        prompt_parts.append(f"Thread:\n{text}")
        left -= estimate_tokens(prompt_parts[-1]) + 1
    sections: list[str] = []
    for heading, items in (
        ("Unread notifications", material.notifications),
        ("What you remember", material.memories),
        ("Documents", material.documents),
        ("WORKING.md", [material.working_md] if material.working_md.strip() else []),
    ):
        if not items or left <= MIN_SECTION_TOKENS:
            continue
        body = _cut("\n".join(f"- {item}" for item in items), left - estimate_tokens(heading) - 6)
        sections.append(f"## {heading}\n{body}")
        left -= estimate_tokens(sections[-1]) + 1
    instructions = "\n\n".join([role, *sections])
    prompt = "\n\n".join(prompt_parts)
    return TurnContext(
        instructions=instructions,
        prompt=prompt,
        tokens=estimate_tokens(instructions) + estimate_tokens(prompt),
        kept_messages=kept,
        summarised_messages=summarised,
    )
