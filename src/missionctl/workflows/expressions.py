"""The workflow expression language, pure: parse, check, evaluate and render. No I/O.

An expression is a small subset of Python's expression syntax, read with `ast.parse` and then
walked by this module's own evaluator; nothing is ever handed to `eval` or `exec`. Only the
nodes listed in `_ALLOWED` exist: literals, names of the run's variables, `.` and `[…]` lookups
(never on names starting with `_`), arithmetic, comparisons, `and`/`or`/`not`, `a if c else b`,
and calls to the functions in `FUNCTIONS`. `true`, `false` and `null` are accepted too, so a
YAML author can write either spelling.

Lookups are forgiving the way templates usually are: a missing key or an attribute of `None`
is `None`, so `nodes.review.output.approved` of a node that was skipped reads as `None`. Names
that are not variables are refused when the definition is validated.

A template is a string with `{{ expression }}` parts. A template that is exactly one such part
keeps the expression's type (`"{{ nodes.list.output.items }}"` is a list); otherwise each part
is turned into text (`None` becomes empty, lists and mappings become JSON) and joined.

Why our own and not Jinja2's sandbox or simpleeval: error positions must point at the exact
column for validation, references to `nodes.<id>` must be extracted to check the graph, and the
whole surface stays small enough to read in one sitting.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_EXPRESSION_CHARS = 2000
MAX_RESULT_ITEMS = 100_000  # longest string or list an operator may build
ROOT_NAMES = frozenset({"inputs", "nodes", "vars", "item", "index", "trigger", "run"})
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; `column` is 1-based when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})" if self.column else self.message


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(value) if "." in str(value) else int(value)
        except (TypeError, ValueError):
            raise ExpressionError(f"not a number: {value!r}") from None
    return value


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None or value == "" else value


def _get(value: Any, key: Any, fallback: Any = None) -> Any:
    found = _lookup(value, key)
    return fallback if found is None else found


def _join(values: Any, separator: str = ", ") -> str:
    return separator.join(_text(v) for v in _sequence(values))


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, list | tuple | str):
        return value
    if isinstance(value, dict):
        return list(value)
    if value is None:
        return []
    raise ExpressionError(f"not a list: {value!r}")


def _range(*bounds: int) -> list[int]:
    values = range(*(int(b) for b in bounds))
    if len(values) > MAX_RESULT_ITEMS:
        raise ExpressionError(f"range longer than {MAX_RESULT_ITEMS}")
    return list(values)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda value: len(_sequence(value)),
    "str": _text,
    "int": lambda value: int(_number(value)),
    "float": lambda value: float(_number(value)),
    "bool": bool,
    "abs": lambda value: abs(_number(value)),
    "round": lambda value, digits=0: round(_number(value), int(digits)),
    "min": lambda *values: min(values[0] if len(values) == 1 else values),
    "max": lambda *values: max(values[0] if len(values) == 1 else values),
    "sum": lambda values: sum(_number(v) for v in _sequence(values)),
    "sorted": lambda values: sorted(_sequence(values)),
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "strip": lambda value: _text(value).strip(),
    "split": lambda value, separator=None: _text(value).split(separator),
    "join": _join,
    "replace": lambda value, old, new: _text(value).replace(_text(old), _text(new)),
    "contains": lambda container, part: part in _sequence(container),
    "startswith": lambda value, prefix: _text(value).startswith(_text(prefix)),
    "endswith": lambda value, suffix: _text(value).endswith(_text(suffix)),
    "keys": lambda value: list(value) if isinstance(value, Mapping) else [],
    "values": lambda value: list(value.values()) if isinstance(value, Mapping) else [],
    "default": _default,
    "get": _get,
    "json": lambda value: json.dumps(value, default=str),
    "from_json": lambda value: json.loads(_text(value)),
    "range": _range,
    "pluck": lambda values, key: [_lookup(v, key) for v in _sequence(values)],
    "floor": lambda value: math.floor(_number(value)),
    "ceil": lambda value: math.ceil(_number(value)),
}

_ALLOWED: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Call,
)


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, checked expression."""

    source: str
    tree: ast.Expression

    @property
    def references(self) -> frozenset[str]:
        """The node ids it reads as `nodes.<id>` or `nodes["<id>"]`."""
        return _node_references(self.tree)

    @property
    def roots(self) -> frozenset[str]:
        """The variable names it reads (`inputs`, `nodes`, `item`…)."""
        return frozenset(
            n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id in ROOT_NAMES
        )

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """Its value in `scope` (the run's variables); `ExpressionError` when it fails."""
        try:
            value = _Evaluator(scope).visit(self.tree.body)
            if isinstance(value, Mapping) and not isinstance(value, dict):
                value = dict(value)  # a lazy view of the scope becomes plain data
            return value
        except ExpressionError:
            raise
        except RecursionError:
            raise ExpressionError("expression nested too deeply") from None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise ExpressionError(f"cannot evaluate {self.source.strip()!r}: {exc}") from None


def _column(node: ast.AST) -> int:
    return int(getattr(node, "col_offset", 0)) + 1


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        raise ExpressionError(f"{what} is not allowed in an expression", _column(node))
    if isinstance(node, ast.Name):
        if node.id not in ROOT_NAMES and node.id not in _CONSTANTS:
            allowed = ", ".join(sorted(ROOT_NAMES))
            raise ExpressionError(f"unknown name {node.id!r} (names: {allowed})", _column(node))
    elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExpressionError(f"attribute {node.attr!r} is not allowed", _column(node))
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"only these functions may be called: {known}", _column(node))
        if node.keywords:
            raise ExpressionError("functions take positional arguments only", _column(node))


@lru_cache(maxsize=4096)
def parse(source: str) -> Expression:
    """Parse and check an expression; `ExpressionError` with the column of the first fault."""
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        # Python gives no offset for input that ends too soon: point just past the end.
        raise ExpressionError(f"invalid syntax: {exc.msg}", exc.offset or len(text) + 1) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            _check_node(node)  # before its `func` Name is seen as an unknown variable
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            continue
        if isinstance(node, ast.Name) and _is_called(tree, node):
            continue
        _check_node(node)
    return Expression(source=text, tree=tree)


def _is_called(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def _node_references(tree: ast.AST) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        parent: ast.expr | None = None
        key: Any = None
        if isinstance(node, ast.Attribute):
            parent, key = node.value, node.attr
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            parent, key = node.value, node.slice.value
        if isinstance(parent, ast.Name) and parent.id == "nodes" and isinstance(key, str):
            found.add(key)
    return frozenset(found)


def _lookup(value: Any, key: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(key)
    if isinstance(value, list | tuple | str) and isinstance(key, int) and not isinstance(key, bool):
        return value[key] if -len(value) <= key < len(value) else None
    return None


def _bounded(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_RESULT_ITEMS:
        raise ExpressionError(f"result longer than {MAX_RESULT_ITEMS}")
    return value


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.Eq):
        return bool(left == right)
    if isinstance(op, ast.NotEq):
        return bool(left != right)
    if isinstance(op, ast.In | ast.NotIn):
        inside = left in _sequence(right) if right is not None else False
        return inside if isinstance(op, ast.In) else not inside
    if isinstance(op, ast.Is):
        return left is right
    if isinstance(op, ast.IsNot):
        return left is not right
    ordered = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__"}
    result = getattr(left, ordered[type(op)])(right)
    if result is NotImplemented:
        raise ExpressionError(f"cannot compare {left!r} with {right!r}")
    return bool(result)


_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope

    def visit(self, node: ast.expr) -> Any:  # noqa: PLR0912 - one case per node type
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            return self.scope.get(node.id)
        if isinstance(node, ast.Attribute):
            return _lookup(self.visit(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.BoolOp):
            return self._bool(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            number = _number(operand)
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            is_repeat = isinstance(node.op, ast.Mult) and isinstance(left, str | list)
            if is_repeat and _number(right) * len(left) > MAX_RESULT_ITEMS:
                raise ExpressionError(f"result longer than {MAX_RESULT_ITEMS}")
            return _bounded(_ARITHMETIC[type(node.op)](left, right))
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comparator)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {
                self.visit(k) if k is not None else None: self.visit(v)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return _bounded(FUNCTIONS[node.func.id](*(self.visit(a) for a in node.args)))
        raise ExpressionError(f"{type(node).__name__} is not allowed", _column(node))

    def _subscript(self, node: ast.Subscript) -> Any:
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            if not isinstance(value, list | str):
                return None
            parts = (node.slice.lower, node.slice.upper, node.slice.step)
            bounds = [None if p is None else int(_number(self.visit(p))) for p in parts]
            return value[slice(*bounds)]
        return _lookup(value, self.visit(node.slice))

    def _bool(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        result: Any = is_and
        for operand in node.values:
            result = self.visit(operand)
            if bool(result) != is_and:
                return result
        return result


# -- templates --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """A string with `{{ … }}` parts, parsed."""

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def is_literal(self) -> bool:
        """True when it holds no expression."""
        return all(isinstance(p, str) for p in self.parts)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """Its expressions, in order."""
        return tuple(p for p in self.parts if isinstance(p, Expression))

    def render(self, scope: Mapping[str, Any]) -> Any:
        """Its value: the expression's own value when it is one `{{ … }}`, else text."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Expression):
            return self.parts[0].evaluate(scope)
        return "".join(p if isinstance(p, str) else _text(p.evaluate(scope)) for p in self.parts)


@lru_cache(maxsize=4096)
def parse_template(source: str) -> Template:
    """Parse a template; `ExpressionError` (column within the whole string) on a bad part."""
    parts: list[str | Expression] = []
    position = 0
    for match in _TEMPLATE.finditer(source):
        if match.start() > position:
            parts.append(source[position : match.start()])
        inner = match.group(1)
        try:
            parts.append(parse(inner))
        except ExpressionError as exc:
            lead = len(inner) - len(inner.lstrip())
            column = match.start(1) + lead + (exc.column or 1)
            raise ExpressionError(exc.message, column) from None
        position = match.end()
    rest = source[position:]
    if "{{" in rest:
        raise ExpressionError("unclosed '{{'", position + rest.index("{{") + 1)
    if rest:
        parts.append(rest)
    stripped = source.strip()
    if len(parts) > 1 and stripped.startswith("{{") and stripped.endswith("}}"):
        only = [p for p in parts if not (isinstance(p, str) and not p.strip())]
        if len(only) == 1:
            parts = only
    return Template(source=source, parts=tuple(parts))


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template inside a JSON-like value (strings, lists, mappings)."""
    if isinstance(value, str):
        return parse_template(value).render(scope) if "{{" in value else value
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: render(v, scope) for k, v in value.items()}
    return value


def templates_in(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string holding `{{` inside a JSON-like value, with its path."""
    if isinstance(value, str):
        return [(path, value)] if "{{" in value else []
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in templates_in(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in templates_in(v, f"{path}.{k}")]
    return []
