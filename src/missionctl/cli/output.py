"""Printing for the CLI: plain aligned tables for people, JSON for scripts.

Hand-written on purpose: a dozen lines, stable in pipes and tests, no terminal-width guessing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import BaseModel


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Print a model, a list of models or a dict as JSON."""
    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(indent=2))
    elif isinstance(value, dict):
        typer.echo(json.dumps(value, indent=2, default=str))
    else:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in value], indent=2))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows under headers, columns padded to their widest cell."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            typer.echo("  ".join("-" * w for w in widths))


def print_fields(fields: Sequence[tuple[str, object]]) -> None:
    """Print `name: value` lines, names aligned."""
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        typer.echo(f"{name.ljust(width)}  {'' if value is None else value}")
