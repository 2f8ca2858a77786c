"""Built-in workflow templates: YAML files in `library/`, each a definition with `[[ slot ]]`
parameters. Instantiating one fills the slots and saves the result like any definition (so it is
checked the same way)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from missionctl.errors import InvalidInput, NotFound
from missionctl.workflows.schemas import TemplateParameter, WorkflowTemplate

LIBRARY = Path(__file__).parent / "library"
_SLOT = re.compile(r"\[\[\s*([a-z_][a-z0-9_]*)\s*\]\]")


@cache
def _load() -> dict[str, WorkflowTemplate]:
    found: dict[str, WorkflowTemplate] = {}
    for path in sorted(LIBRARY.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[path.stem] = WorkflowTemplate(
            name=path.stem,
            title=data["title"],
            description=data["description"],
            parameters=[TemplateParameter.model_validate(p) for p in data.get("parameters", [])],
            source=data["workflow"],
        )
    return found


def list_templates() -> list[WorkflowTemplate]:
    """Every built-in template, by name."""
    return list(_load().values())


def get_template(name: str) -> WorkflowTemplate:
    """One template."""
    template = _load().get(name)
    if template is None:
        raise NotFound("workflow template", name)
    return template


def instantiate(name: str, parameters: dict[str, Any], *, name_override: str | None = None) -> str:
    """The template's definition text with its slots filled (defaults for those not given)."""
    template = get_template(name)
    known = {p.name: p for p in template.parameters}
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise InvalidInput(
            f"unknown template parameters: {', '.join(unknown)} (known: {', '.join(known)})",
            field="parameters",
        )
    values = {p.name: p.default for p in template.parameters} | parameters
    if name_override:
        values["name"] = name_override
    missing = sorted(k for k, v in values.items() if v is None)
    if missing:
        raise InvalidInput(f"template parameters needed: {', '.join(missing)}", field="parameters")

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            raise InvalidInput(
                f"template slot {match.group(1)!r} has no parameter", field="parameters"
            )
        text = str(value)
        if "\n" in text:
            raise InvalidInput(f"parameter {match.group(1)!r} must be one line", field="parameters")
        return text

    return _SLOT.sub(fill, template.source)
