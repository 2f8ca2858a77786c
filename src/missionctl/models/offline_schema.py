"""Tool arguments for the offline model, built from a JSON schema and a bag of facts; no I/O.

Facts are keyed by canonical names (`title`, `description`, `capability`, `depends_on`, `content`,
`summary`, `verdict`, `approved`, `score`, `comments`, `task_id`, `goal`, `subtasks`, `answer`);
a schema property takes the fact its name maps to through `ARGUMENT_ALIASES` (camelCase and
kebab-case names are read as snake_case). Values are coerced to the property's type; required
properties with no fact get type-appropriate empties (the schema's own default if it has one, a
first enum value, "", 0, false, [], {}), and optional ones are left out unless `fill_all` is set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Facts = Mapping[str, Any]

ARGUMENT_ALIASES = {
    "title": "title", "name": "title", "subject": "title", "heading": "title",
    "description": "description", "details": "description", "instructions": "description",
    "capability": "capability", "capabilities": "capability", "skill": "capability",
    "skills": "capability", "role": "capability", "depends_on": "depends_on",
    "dependencies": "depends_on", "after": "depends_on", "blocked_by": "depends_on",
    "content": "content", "body": "content", "text": "content", "markdown": "content",
    "document": "content", "draft": "content", "summary": "summary", "abstract": "summary",
    "verdict": "verdict", "decision": "verdict", "approved": "approved", "is_approved": "approved",
    "approve": "approved", "accepted": "approved", "passed": "approved", "score": "score",
    "rating": "score", "comments": "comments", "feedback": "comments", "notes": "comments",
    "issues": "comments", "task_id": "task_id", "parent_id": "task_id",
    "parent_task_id": "task_id", "goal": "goal", "query": "goal", "prompt": "goal",
    "question": "goal", "subtasks": "subtasks", "tasks": "subtasks", "steps": "subtasks",
    "answer": "answer", "response": "answer", "reply": "answer", "result": "answer",
    "output": "answer", "message": "answer",
}  # fmt: skip
_YES = ("approv", "accept", "pass", "yes")
_NO = ("chang", "reject", "revis", "fail")
_MAX_REF_HOPS = 20


@dataclass(frozen=True, slots=True)
class StepRef:
    """A plan step another depends on: its index for integer schemas, its title for strings."""

    index: int
    title: str


def build_arguments(schema: Mapping[str, Any], facts: Facts, *, fill_all: bool = False) -> Any:
    """A value satisfying JSON `schema` (usually an object of arguments), taken from `facts`."""
    return _coerce(facts, schema, schema.get("$defs", {}), fill_all)


def canonical_name(name: str) -> str:
    """The fact a property named `name` takes."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).casefold().replace("-", "_")
    return ARGUMENT_ALIASES.get(snake, snake)


def takes_list_of(schema: Mapping[str, Any], fact: str) -> bool:
    """Whether `schema` has an array property that takes `fact`, e.g. a whole list of subtasks."""
    defs = schema.get("$defs", {})
    properties = _resolve(schema, defs).get("properties") or {}
    return any(
        canonical_name(name) == fact and _type(_resolve(prop, defs)) == "array"
        for name, prop in properties.items()
    )


def _resolve(schema: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    for _ in range(_MAX_REF_HOPS):  # a bound, since `$ref`s may be cyclic
        if not isinstance(schema, Mapping) or "$ref" not in schema:
            break
        schema = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
    if not isinstance(schema, Mapping):
        return {}
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if not branches or "type" in schema:
        return dict(schema)
    # For an optional value, the branch that is not `null` says what to build.
    usable = [b for b in branches if _resolve(b, defs).get("type") != "null"]
    chosen = _resolve((usable or branches)[0], defs)
    if "default" in schema:
        chosen["default"] = schema["default"]
    return chosen


def _type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else ""
    return str(kind)


def _object(
    schema: Mapping[str, Any], facts: Facts, defs: Mapping[str, Any], fill_all: bool
) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    args: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = facts.get(canonical_name(name))
        if value is not None:
            args[name] = _coerce(value, prop, defs, fill_all)
        elif name in required or fill_all:
            args[name] = _default(prop, defs, fill_all)
    return args


def _coerce(value: Any, raw: Any, defs: Mapping[str, Any], fill_all: bool) -> Any:
    schema = _resolve(raw, defs)
    kind = _type(schema)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return _pick_enum(value, schema["enum"])
    if kind == "array":
        values = list(value) if isinstance(value, list | tuple) else [value]
        item_schema = schema.get("items", {})
        if _resolve(item_schema, defs).get("format") == "uuid":
            # Steps planned in one response have no ids yet; the caller links them by position.
            values = [v for v in values if not isinstance(v, StepRef)]
        items = [_coerce(v, item_schema, defs, fill_all) for v in values]
        return items[: schema.get("maxItems", len(items))]
    if kind == "object":
        return _object(schema, value if isinstance(value, Mapping) else {}, defs, fill_all)
    if isinstance(value, list | tuple):
        if kind == "string":
            return _fit("\n".join(str(_plain(v, kind)) for v in value), schema)
        value = value[0] if value else _default(schema, defs, fill_all)
    return _scalar(_plain(value, kind), kind, schema, defs)


def _scalar(value: Any, kind: str, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    if kind == "string":
        return _fit(value if isinstance(value, str) else json.dumps(value, default=str), schema)
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "number"):
        number = value if isinstance(value, int | float) else _default(schema, defs, False)
        return int(number) if kind == "integer" else float(number)
    return None if kind == "null" else value


def _plain(value: Any, kind: str) -> Any:
    if isinstance(value, StepRef):
        return value.title if kind == "string" else value.index
    return value


def _fit(value: str, schema: Mapping[str, Any]) -> str:
    if isinstance(limit := schema.get("maxLength"), int) and len(value) > limit:
        value = value[:limit]
    return value.ljust(int(schema.get("minLength", 0)), ".")


def _pick_enum(value: Any, options: Sequence[Any]) -> Any:
    if value in options and not isinstance(value, bool):
        return value
    wanted: tuple[str, ...]
    if isinstance(value, bool):
        wanted = _YES if value else _NO
    else:
        wanted = (str(_plain(value, "string")).casefold()[:5],)
    hits = (option for option in options if any(w in str(option).casefold() for w in wanted))
    return next(hits, options[0])


def _default(raw: Any, defs: Mapping[str, Any], fill_all: bool) -> Any:
    schema = _resolve(raw, defs)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    match _type(schema):
        case "string":
            return _fit("", schema)
        case "integer" | "number":
            return schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        case "boolean":
            return False
        case "array":
            count = int(schema.get("minItems", 0))
            return [_default(schema.get("items", {}), defs, fill_all) for _ in range(count)]
        case "object":
            return _object(schema, {}, defs, fill_all)
    return None
