"""The offline model's text work: planning, drafting, reviewing and summarising, with no I/O.

Everything here is deterministic and extractive: the same input always gives the same output, and
every input (empty, unicode, megabytes) is handled in bounded time because only the first
`MAX_TEXT_CHARS` characters of any text are read. `missionctl.models.offline` wraps these
functions in the pydantic-ai `Model` protocol.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 80
MIN_SUBTASKS = 3
MAX_SUBTASKS = 8
MIN_WORK_WORDS = 40
COVERAGE_TO_APPROVE = 0.5

STOPWORDS = _word_set(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either etc
    every few for from further get gets got had has have having he her here hers herself him
    himself his how i if in into is it its itself just let like make many may me might more most
    must my myself need needs no nor not now of off on once one only or other our ours ourselves
    out over own per please same shall she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon us use used
    using very via want was we were what when where which while who whom why will with within
    without would yet you your yours yourself yourselves"""
)

CAPABILITY_WORDS: dict[str, frozenset[str]] = {
    "research": _word_set(
        "research investigate find gather collect explore study survey look search read identify "
        "discover interview source sources literature learn"
    ),
    "analysis": _word_set(
        "analyse analyze analysis compare evaluate assess measure calculate estimate benchmark "
        "forecast quantify prioritise prioritize rank data metrics numbers trends"
    ),
    "writing": _word_set(
        "write draft document outline compose summarise summarize describe explain publish "
        "rewrite prepare create translate announce report article blog post copy email "
        "newsletter memo"
    ),
    "review": _word_set("review check verify proofread approve audit validate critique inspect"),
    "engineering": _word_set(
        "build implement code develop fix deploy test refactor debug configure install integrate "
        "migrate automate design ship release optimise optimize upgrade add remove api bug server "
        "database endpoint script app service"
    ),
}
_CAPABILITY_ORDER = ("research", "analysis", "writing", "review", "engineering")
ACTION_VERBS = _word_set(
    "research investigate find gather collect explore study survey look search read identify "
    "discover interview learn analyse analyze compare evaluate assess measure calculate estimate "
    "benchmark forecast quantify prioritise prioritize rank plan map write draft document outline "
    "compose summarise summarize describe explain publish edit rewrite prepare create translate "
    "announce present send review check verify proofread approve audit validate critique inspect "
    "build implement code develop fix deploy test refactor debug configure install integrate "
    "migrate automate design set ship release optimise optimize update upgrade add remove launch "
    "define list decide choose organise organize schedule share finish complete deliver"
)
DELIVERABLES = (
    "blog post", "case study", "white paper", "report", "article", "proposal", "summary", "memo",
    "brief", "guide", "presentation", "newsletter", "email", "readme", "spec", "documentation",
    "document", "post",
)  # fmt: skip

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\(?\d{1,3}[.)])\s+")
_LINE_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•]\s+|\(?\d{1,3}[.)]\s+|>\s*)")
_BOUNDARY = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+")
_VERB_AHEAD = r"(?=(?:" + "|".join(sorted(ACTION_VERBS)) + r")\b)"
# Steps are split at ";", "then", and at "," or "and" when an action verb follows.
_CLAUSE_SPLIT = re.compile(
    r"\s*;\s*|,?\s+(?:and\s+)?then\s+|,\s*(?:and\s+)?" + _VERB_AHEAD + r"|\s+and\s+" + _VERB_AHEAD,
    re.IGNORECASE,
)
# "Launch the site: research X, write Y, review Z" — the steps are what follows the colon.
_LEAD_COLON = re.compile(r"^[^:\n]{3,200}:\s+" + _VERB_AHEAD, re.IGNORECASE)
_FILLER = re.compile(
    r"^(?:and|then|also|first(?:ly)?|second(?:ly)?|third(?:ly)?|next|finally|lastly|after that|"
    r"afterwards|please|we need to|we should|we must|i need to|i want to|you should|need to|to)"
    r"\b[,:]?\s*",
    re.IGNORECASE,
)
_DELIVERABLE = re.compile(r"\b(?:" + "|".join(DELIVERABLES) + r")\b", re.IGNORECASE)
_TOPIC_LEAD = re.compile(r"\b(?:about|on|for|regarding|covering|into|of)\s+(.+)", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:a|an|the|our|my|some)\s+", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\b(?:TODO|TBD|FIXME|XXX|lorem ipsum)\b|\[insert[^\]]*\]", re.IGNORECASE)
# Fallback plans by kind of goal: (capability, title, description); each step follows the last.
PLAN_TEMPLATES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "engineering": (
        ("research", "Research the requirements for {topic}", "List what must be true when done."),
        ("analysis", "Design the approach for {topic}", "Choose an approach; note the trade-offs."),
        ("engineering", "Implement {topic}", "Build it in small, tested increments."),
        ("review", "Test and review {topic}", "Check the result against the requirements."),
    ),
    "analysis": (
        ("research", "Gather data on {topic}", "Collect the data and note where it came from."),
        ("analysis", "Analyse {topic}", "Find the patterns, comparisons and numbers that matter."),
        ("writing", "Write up the findings on {topic}", "Explain the findings with evidence."),
        ("review", "Review the findings on {topic}", "Check the reasoning and the numbers."),
    ),
    "writing": (
        ("research", "Research {topic}", "Collect the key facts, sources and open questions."),
        ("writing", "Draft the {deliverable} on {topic}", "Write a complete first draft."),
        ("review", "Review and edit the {deliverable}", "Check accuracy, coverage and clarity."),
    ),
}
_TRIM = ".,;:!?\u2026-\u2013\u2014 "
_SUFFIXES = ("ations", "ation", "ings", "ing", "ied", "ies", "ed", "es", "er", "e", "s", "ly")


@dataclass(frozen=True, slots=True)
class PlannedSubtask:
    """One step of a plan; `depends_on` holds indices of earlier steps only."""

    title: str
    description: str
    capability: str
    depends_on: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewVerdict:
    """The outcome of checking a piece of work against its task."""

    is_approved: bool
    score: float
    comments: list[str]


def words(text: str) -> list[str]:
    """The words of `text`, case-folded, in order."""
    return [match.group().casefold() for match in _WORD.finditer(text[:MAX_TEXT_CHARS])]


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning: no stopwords, no numbers, at least three letters."""
    return [w for w in words(text) if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()]


def key_terms(text: str, limit: int = 8) -> list[str]:
    """The most frequent content words of `text`, ties going to the earliest."""
    found = content_words(text)
    counts = Counter(found)
    first_seen = {word: index for index, word in reversed(list(enumerate(found)))}
    ranked = sorted(counts, key=lambda word: (-counts[word], first_seen[word]))
    return ranked[: max(0, limit)]


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`: paragraphs and list items joined, list and heading markers dropped."""
    blocks: list[list[str]] = []
    is_open = False
    for raw_line in text[:MAX_TEXT_CHARS].splitlines():
        line = _LINE_MARKER.sub("", raw_line).strip()
        starts_block = bool(_LINE_MARKER.match(raw_line))
        if not line:
            is_open = False
            continue
        if starts_block or not is_open:
            blocks.append([])
        blocks[-1].append(line)
        # A heading is a block of its own; a list item may wrap onto the next line.
        is_open = not raw_line.lstrip().startswith("#")
    sentences: list[str] = []
    for block in blocks:
        for piece in _BOUNDARY.split(" ".join(block)):
            if _WORD.search(piece):
                sentences.append(piece.strip())
    return sentences


def summary_sentences(text: str, max_sentences: int = 3) -> list[str]:
    """The `max_sentences` most representative sentences of `text`, in their original order."""
    sentences = split_sentences(text)
    if max_sentences <= 0 or not sentences:
        return []
    if len(sentences) <= max_sentences:
        return sentences
    counts = Counter(w for sentence in sentences for w in content_words(sentence))
    top = max(counts.values(), default=1)

    def score(sentence: str) -> float:
        sentence_words = words(sentence)
        weight = sum(counts[w] / top for w in content_words(sentence))
        # The square root keeps long sentences from winning on length alone.
        return weight / math.sqrt(max(1, len(sentence_words)))

    ranked = sorted(range(len(sentences)), key=lambda index: (-score(sentences[index]), index))
    return [sentences[index] for index in sorted(ranked[:max_sentences])]


def summarise(text: str, max_sentences: int = 3) -> str:
    """An extractive summary: the top sentences by word frequency, in their original order."""
    return " ".join(summary_sentences(text, max_sentences))


def infer_capability(text: str, default: str = "analysis") -> str:
    """The capability a step needs: its leading verb decides, then its keywords, then `default`."""
    step_words = words(text)
    if not step_words:
        return default
    for capability in _CAPABILITY_ORDER:
        if step_words[0] in CAPABILITY_WORDS[capability]:
            return capability
    hits = {c: sum(w in CAPABILITY_WORDS[c] for w in step_words) for c in _CAPABILITY_ORDER}
    best = max(_CAPABILITY_ORDER, key=lambda c: hits[c])
    return best if hits[best] else default


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters."""
    flat = " ".join(text[: limit * 4 + 1].split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def plan_subtasks(goal: str) -> list[PlannedSubtask]:
    """Break `goal` into 3 to 8 ordered steps: its own if it lists them, else a template."""
    goal = goal[:MAX_TEXT_CHARS]
    steps = _unique(_candidate_steps(goal))
    if len(steps) < MIN_SUBTASKS:
        return _template_plan(goal)
    if len(steps) > MAX_SUBTASKS:
        rest = steps[MAX_SUBTASKS - 1 :]
        steps = [*steps[: MAX_SUBTASKS - 1], "Complete the remaining steps: " + "; ".join(rest)]
    context = shorten(goal, 400)
    return [
        PlannedSubtask(
            title=_imperative_title(step),
            description=f"{shorten(step, 600)}.\n\nGoal: {context}",
            capability=infer_capability(step, default="research" if index == 0 else "analysis"),
            depends_on=(index - 1,) if index else (),
        )
        for index, step in enumerate(steps)
    ]


def _candidate_steps(goal: str) -> list[str]:
    listed = [line for line in goal.splitlines() if _LIST_MARKER.match(line)]
    pieces = [_LIST_MARKER.sub("", line) for line in listed] if len(listed) >= 2 else None
    if pieces is None and (lead := _LEAD_COLON.match(goal)):
        after = [c for c in _CLAUSE_SPLIT.split(goal[lead.end() :]) if words(c)]
        if len(after) >= MIN_SUBTASKS - 1:
            pieces = [goal[lead.end() :]]
    clauses = [c for piece in pieces or split_sentences(goal) for c in _CLAUSE_SPLIT.split(piece)]
    steps = [_clean_step(clause) for clause in clauses]
    return [step for step in steps if len(words(step)) >= 2 and content_words(step)]


def _clean_step(text: str) -> str:
    step = text.strip().strip(_TRIM)
    previous = None
    while previous != step:
        previous = step
        step = _FILLER.sub("", step).strip()
    return step.rstrip(_TRIM)


def _unique(steps: list[str]) -> list[str]:
    seen: set[str] = set()
    unique: list[str] = []
    for step in steps:
        if (key := step.casefold()) not in seen:
            seen.add(key)
            unique.append(step)
    return unique


def _imperative_title(step: str) -> str:
    first = words(step)[:1]
    if first and first[0] in ACTION_VERBS:
        return shorten(step[:1].upper() + step[1:], MAX_TITLE_CHARS)
    # Lower-case a capitalised first word, but leave acronyms like "API" alone.
    if len(step) > 1 and step[1].islower():
        step = step[:1].lower() + step[1:]
    return shorten("Work on: " + step, MAX_TITLE_CHARS)


def _template_plan(goal: str) -> list[PlannedSubtask]:
    topic = topic_of(goal)
    context = shorten(goal, 400) or "(no goal text was given)"
    deliverable = _deliverable(goal)
    steps = [
        (capability, title.format(topic=topic, deliverable=deliverable), detail)
        for capability, title, detail in PLAN_TEMPLATES[_goal_kind(goal)]
    ]
    return [
        PlannedSubtask(
            title=shorten(title, MAX_TITLE_CHARS),
            description=f"{detail}\n\nGoal: {context}",
            capability=capability,
            depends_on=(index - 1,) if index else (),
        )
        for index, (capability, title, detail) in enumerate(steps)
    ]


def topic_of(goal: str) -> str:
    """What `goal` is about, in a few words: "Build an API for X" gives "API for X"."""
    sentences = split_sentences(goal)
    step = _clean_step(sentences[0]) if sentences else ""
    head, _, rest = step.partition(" ")
    thing = _ARTICLE.sub("", rest) if head.casefold() in ACTION_VERBS else ""
    lead = _TOPIC_LEAD.search(step)
    # "Build an API for X" is about the API; "Write a report on X" is about X, not the report
    # (nor is "Write a market report on X" about the market report).
    named = thing[: lead.start() - len(head) - 1] if lead and thing else thing
    if thing and not (lead and _DELIVERABLE.search(named)):
        topic = thing
    else:
        topic = lead.group(1) if lead else step
    return shorten(_ARTICLE.sub("", topic), 50) or ", ".join(key_terms(goal, 3)) or "the goal"


def _goal_kind(goal: str) -> str:
    goal_words = words(goal)
    hits = {c: sum(w in CAPABILITY_WORDS[c] for w in goal_words) for c in _CAPABILITY_ORDER}
    best = max(("engineering", "analysis"), key=lambda c: hits[c])
    return best if hits[best] > hits["writing"] else "writing"


def _deliverable(goal: str) -> str:
    found = _DELIVERABLE.search(goal)
    return found.group().casefold() if found else "document"


def write_document(title: str, description: str, thread: Sequence[str]) -> str:
    """A structured markdown working document built from a task and its discussion."""
    description = description[:MAX_TEXT_CHARS].strip()
    messages = [m[:MAX_TEXT_CHARS].strip() for m in list(thread)[-50:] if m.strip()]
    source = "\n\n".join([description, *messages]).strip()
    heading = shorten(title, 200) or "Untitled document"
    terms = key_terms(f"{title}\n{source}", 6)
    questions = [s for s in split_sentences(source) if s.endswith("?")][:5]
    sections = [
        f"# {heading}",
        "## Summary\n\n" + (summarise(source, 2) or "No summary yet: nothing was written down."),
        "## Context\n\n" + (shorten(description, 2_000) or "_No description was given._"),
        "## Key points\n\n" + _bullets(_key_points(description, messages), "No discussion yet."),
        "## Draft\n\n" + _draft(heading, terms, source),
        "## Open questions\n\n" + _bullets(questions, "None recorded."),
        "## Next steps\n\n" + _bullets(_next_steps(questions), ""),
    ]
    return "\n\n".join(sections) + "\n"


def _key_points(description: str, messages: list[str]) -> list[str]:
    if not messages:
        return [shorten(s, 200) for s in summary_sentences(description, 5)]
    firsts = [split_sentences(message)[:1] for message in messages]
    return _unique([shorten(first[0], 200) for first in firsts if first])[:8]


def _draft(heading: str, terms: list[str], source: str) -> str:
    opening = f"This document addresses {heading}."
    if terms:
        opening += f" It covers {', '.join(terms)}."
    body = summarise(source, 5)
    return opening + "\n\n" + (body or "_Nothing to draft from yet: add a description or notes._")


def _next_steps(questions: list[str]) -> list[str]:
    steps = ["Check this draft against the task description.", "Fill in anything still missing."]
    if questions:
        steps.append("Answer the open questions above.")
    return [*steps, "Hand the document over for review."]


def _bullets(items: Sequence[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else f"- {empty}"


def review_work(task_title: str, task_description: str, work: str) -> ReviewVerdict:
    """Check `work` against its task: key-term coverage, substance, structure and placeholders."""
    work = work[:MAX_TEXT_CHARS]
    terms = key_terms(f"{task_title}\n{task_title}\n{task_description}", 8)
    work_stems = {_stem(w) for w in words(work)}
    missing = [term for term in terms if _stem(term) not in work_stems]
    coverage = 1.0 - len(missing) / len(terms) if terms else 1.0
    word_count = len(words(work))
    has_structure = _has_structure(work)
    placeholders = sorted({m.group().strip().upper() for m in _PLACEHOLDER.finditer(work)})
    comments: list[str] = []
    if not work.strip():
        comments.append("The work is empty: nothing was submitted for this task.")
    elif word_count < MIN_WORK_WORDS:
        comments.append(f"Too short: {word_count} words; expected at least {MIN_WORK_WORDS}.")
    if missing:
        comments.append("Does not cover these parts of the task: " + ", ".join(missing) + ".")
    if work.strip() and not has_structure:
        comments.append("Add structure: headings, a list, or separate paragraphs.")
    if placeholders:
        comments.append("Contains placeholders to finish: " + ", ".join(placeholders) + ".")
    score = 0.5 * coverage + 0.3 * min(1.0, word_count / 150) + 0.2 * has_structure
    score = max(0.0, score - 0.2 * bool(placeholders))
    is_approved = (
        coverage >= COVERAGE_TO_APPROVE
        and word_count >= MIN_WORK_WORDS
        and has_structure
        and not placeholders
    )
    if is_approved:
        covered = [term for term in terms if term not in missing]
        comments.insert(
            0, "Meets the task" + (f": covers {', '.join(covered)}." if covered else ".")
        )
    return ReviewVerdict(is_approved=is_approved, score=round(score, 3), comments=comments)


def _has_structure(work: str) -> bool:
    lines = work.splitlines()
    if any(line.lstrip().startswith("#") or _LIST_MARKER.match(line) for line in lines):
        return True
    paragraphs = [p for p in re.split(r"\n\s*\n", work) if p.strip()]
    return len(paragraphs) >= 2


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:6]
