"""What the offline model does with a prompt: the intent, how prompts are read, what it produces.

No I/O and no pydantic-ai: `missionctl.models.offline` decides which intent a conversation has
and turns the `Work` produced here into text, tool calls or structured output. The prompt
convention itself is documented in that module's docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from missionctl.models import offline_text as text
from missionctl.models.offline_schema import Facts, StepRef


class Intent(StrEnum):
    """What the offline model does with a prompt."""

    PLAN = "plan"
    WRITE = "write"
    REVIEW = "review"
    SUMMARISE = "summarise"
    ANSWER = "answer"


_MODE = re.compile(
    r"^[ \t]*mode[ \t]*:[ \t]*(plan|write|review|summari[sz]e|answer)\b", re.I | re.M
)
_KEYWORDS = (
    (Intent.PLAN, r"\b(?:plan|planning|decompose|break (?:\w+ )?down|sub-?tasks?)\b"),
    (Intent.REVIEW, r"\breview"),
    (Intent.SUMMARISE, r"\bsummar"),
    (Intent.WRITE, r"\b(?:write|writing|draft|document|report)"),
)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
# Words that only ask for a plan: "Plan task <id>:", "Break this down into subtasks:".
_PLAN_REQUEST_WORDS = frozenset(
    {"plan", "planning", "decompose", "break", "down", "subtask", "subtasks", "goal", "task"}
)
_TITLE_PREFIX = re.compile(r"^\s*(?:#+\s*|(?:title|task)\s*:\s*)", re.I)


@dataclass(frozen=True, slots=True)
class Work:
    """What an intent produced: the text reply, and the facts tool arguments are built from."""

    reply: str
    headline: str
    facts: Facts
    items: tuple[Facts, ...] = ()  # one per subtask, for tools that create them one at a time


def detect_intent(instructions: str, prompt: str) -> Intent:
    """The intent: a `Mode:` line in `instructions` wins, then keywords in both texts."""
    if mode := _MODE.search(instructions):
        word = mode.group(1).casefold()
        return Intent.SUMMARISE if word.startswith("summar") else Intent(word)
    both = f"{instructions}\n{prompt}"
    found = (intent for intent, pattern in _KEYWORDS if re.search(pattern, both, re.I))
    return next(found, Intent.ANSWER)


def split_at_marker(prompt: str, label: str) -> tuple[str, str | None]:
    """`prompt` split at a `Label:` or `--- label ---` line; `None` after it when there is none."""
    pattern = rf"^[ \t]*(?:-{{3,}}[ \t]*{label}[ \t]*-{{3,}}[ \t]*$|{label}[ \t]*:)[ \t]*"
    marker = re.search(pattern, prompt, re.I | re.M)
    if marker is None:
        return prompt.strip(), None
    return prompt[: marker.start()].strip(), prompt[marker.end() :].strip()


def split_review_prompt(prompt: str) -> tuple[str, str, str]:
    """The task title, task description and work in a review prompt."""
    task, work = split_at_marker(prompt, "work")
    if work is None:
        return "", "", task
    title, description = title_and_body(task)
    return title, description, work


def title_and_body(prompt: str) -> tuple[str, str]:
    """The first line of `prompt` as a title (`#`, `Title:`, `Task:` dropped), and the rest."""
    first, _, rest = prompt.strip().partition("\n")
    return _TITLE_PREFIX.sub("", first).strip(), rest.strip()


def do_work(intent: Intent, prompt: str) -> Work:
    """Carry out `intent` on `prompt`."""
    task_id = match.group() if (match := _UUID.search(prompt)) else None
    if intent is Intent.PLAN:
        return _plan(_goal_of(prompt), task_id)
    if intent is Intent.WRITE:
        return _write(prompt, task_id)
    if intent is Intent.REVIEW:
        return _review(prompt, task_id)
    if intent is Intent.SUMMARISE:
        _, marked = split_at_marker(prompt, "text")
        summary = text.summarise(prompt if marked is None else marked) or "Nothing to summarise."
        facts = {"summary": summary, "content": summary, "answer": summary, "task_id": task_id}
        return Work(summary, "Summarised the text", facts)
    gist = text.summarise(prompt, 2) or "no question was given."
    terms = text.key_terms(prompt, 5)
    reply = f"Offline model: {gist}" + (f" (key terms: {', '.join(terms)})" if terms else "")
    return Work(reply, "Answered", {"answer": reply, "content": reply, "summary": gist})


def _goal_of(prompt: str) -> str:
    lead, colon, rest = prompt.partition(":")
    asks_only = not set(text.content_words(_UUID.sub("", lead))) - _PLAN_REQUEST_WORDS
    return rest.strip() if colon and rest.strip() and "\n" not in lead and asks_only else prompt


def _plan(goal: str, task_id: str | None) -> Work:
    steps = text.plan_subtasks(goal)
    items = tuple(
        {
            "title": step.title,
            "description": step.description,
            "capability": step.capability,
            "depends_on": tuple(StepRef(i, steps[i].title) for i in step.depends_on),
            "task_id": task_id,
            "goal": goal,
        }
        for step in steps
    )
    reply = "\n".join(
        f"{n}. {step.title} ({step.capability}"
        + (f"; after {', '.join(str(i + 1) for i in step.depends_on)})" if step.depends_on else ")")
        for n, step in enumerate(steps, 1)
    )
    facts = {
        "subtasks": list(items), "goal": goal, "title": text.shorten(goal, 80) or "Plan",
        "content": reply, "summary": f"{len(steps)} subtasks", "answer": reply, "task_id": task_id,
    }  # fmt: skip
    return Work(reply, f"Planned {len(steps)} subtasks", facts, items)


def _write(prompt: str, task_id: str | None) -> Work:
    head, thread = split_at_marker(prompt, "thread")
    title, description = title_and_body(head)
    if not description and text.words(title)[:1] and text.words(title)[0] in text.ACTION_VERBS:
        # A one-line request ("Write a memo on X"): the request is the context, X the title.
        title, description = text.topic_of(title), title
        title = title[:1].upper() + title[1:]
    messages = [line.strip() for line in (thread or "").splitlines() if line.strip()]
    document = text.write_document(title, description, messages)
    summary = text.summarise("\n".join([description, *messages]), 2) or title
    facts = {
        "title": title or "Untitled document", "description": description, "content": document,
        "summary": summary, "answer": document, "task_id": task_id,
    }  # fmt: skip
    return Work(document, f"Wrote the document {title!r}", facts)


def _review(prompt: str, task_id: str | None) -> Work:
    title, description, work = split_review_prompt(prompt)
    verdict = text.review_work(title, description, work)
    if verdict.is_approved:
        reply = "APPROVED: " + " ".join(verdict.comments)
    else:
        reply = "CHANGES REQUESTED:\n" + "\n".join(f"- {c}" for c in verdict.comments)
    facts = {
        "approved": verdict.is_approved,
        "verdict": "approved" if verdict.is_approved else "changes_requested",
        "score": verdict.score, "comments": list(verdict.comments), "content": reply,
        "summary": (verdict.comments or [reply])[0], "title": title, "answer": reply,
        "task_id": task_id,
    }  # fmt: skip
    outcome = "approved" if verdict.is_approved else "changes requested"
    return Work(reply, f"Reviewed the work: {outcome}", facts)
