"""Full-text retrieval of memories: the one module where SQLite and PostgreSQL differ.

SQLite matches against the FTS5 table `memories_fts` (title, content and tags; porter stemming)
and scores with `bm25()`; PostgreSQL matches the generated `search_vector` column (title and
tags weighted A, content B; English stemming) and scores with `ts_rank()` per term, weighted by
the term's inverse document frequency among the memories searched (as bm25 does). Either way the
database returns its best `CANDIDATES` matches among the memories the caller may see, and
`rank` orders them in Python with one formula:

    score = relevance * (0.5 + 0.5 * 2 ** (-age_days / 30)) * (0.8 + 0.1 * importance)

`relevance` is the database's raw score divided by the best one among the candidates (so it is
in (0, 1] and the two dialects' scales agree); age is counted from the memory's last save, with
a half-life of 30 days, and never takes more than half a score away (an old exact match still
beats a fresh vague one); importance 1…5 weighs 0.9…1.3.

User text never reaches either query language as syntax: `search_terms` keeps words only
(letters and digits), and each word is quoted as a literal term; the terms are OR-ed for recall.
"""

from __future__ import annotations

import functools
import math
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    Text,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from missionctl.db import tenant_of
from missionctl.memory.models import MemoryRow
from missionctl.models.offline_text import STOPWORDS

CANDIDATES = 50
MAX_TERMS = 32
MAX_TERM_CHARS = 64
HALF_LIFE_DAYS = 30.0
_WORD = re.compile(r"[^\W_]+")
# bm25 column weights, in the FTS5 table's column order: title, content, tags.
_BM25_WEIGHTS = "3.0, 1.0, 2.0"
_FTS = table("memories_fts", column("rowid"))
_FTS_TABLE: ColumnElement[Any] = literal_column("memories_fts")
_VECTOR: ColumnElement[Any] = literal_column("memories.search_vector")


def search_terms(text: str) -> list[str]:
    """The distinct words of `text`, lowercased, without stop words: at most 32 of 64 chars."""
    terms: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group()[:MAX_TERM_CHARS]
        if word not in STOPWORDS and word not in terms:
            terms.append(word)
            if len(terms) == MAX_TERMS:
                break
    return terms


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each term a quoted string, OR-ed."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def tsquery_text(terms: Sequence[str]) -> str:
    """A `to_tsquery` expression: each term a quoted lexeme, OR-ed."""
    return " | ".join("'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms)


def score(relevance: float, age_days: float, importance: int) -> float:
    """The ranking formula of the module docstring (relevance already normalised to (0, 1])."""
    recency = 0.5 + 0.5 * math.pow(2.0, -max(age_days, 0.0) / HALF_LIFE_DAYS)
    return relevance * recency * (0.8 + 0.1 * importance)


class Candidate(Protocol):
    """What ranking reads of a match (a memory row, or just these columns of one)."""

    @property
    def memory_id(self) -> uuid.UUID: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def importance(self) -> int: ...


C = TypeVar("C", bound=Candidate)


def rank(matches: Sequence[tuple[C, float]], now: datetime) -> list[tuple[C, float]]:
    """Text matches (row, raw relevance: higher is better) ordered by `score`, best first."""
    best = max((raw for _row, raw in matches), default=0.0)
    scored = []
    for row, raw in matches:
        relevance = raw / best if best > 0 else 1.0
        age_days = (now - row.updated_at).total_seconds() / 86_400
        scored.append((row, score(relevance, age_days, row.importance)))
    scored.sort(key=lambda hit: (hit[1], hit[0].updated_at, hit[0].memory_id), reverse=True)
    return scored


def idf(total: int, found: int) -> float:
    """Inverse document frequency (Lucene's, always positive): rarer terms weigh more."""
    return math.log(1.0 + (total - found + 0.5) / (found + 0.5))


def text_matches(
    session: Session,
    terms: Sequence[str],
    shape: tuple[str, ...],
    params: dict[str, Any],
) -> list[tuple[Candidate, float]]:
    """The best `CANDIDATES` memories matching any term (and the filter `shape` with its
    `params`: see `filter_clause`), with raw relevance: what ranking needs of each, not the
    whole row (the caller reads the few it keeps)."""
    if not terms:
        return []
    # The session scopes ORM queries to its tenant anyway; said again because scores and
    # counts (document frequencies) must never be computed over another tenant's memories.
    params = {**params, "tenant_id": tenant_of(session)}
    if session.get_bind().dialect.name == "postgresql":
        queries = [tsquery_text([term]) for term in terms]
        rows = session.execute(_per_term(shape), {**params, "term_queries": queries}).all()
        total = int(rows[0][2]) if rows else 0  # one row per term, each with the same total
        found = {int(n): int(count) for n, count, _total in rows}
        weights = [idf(total, found.get(n, 0)) for n in range(1, len(queries) + 1)]
        params |= {
            "term_queries_ranked": queries,
            "term_weights": weights,
            "tsquery": tsquery_text(terms),
        }
        statement = _postgres_matches(shape)
    else:
        params["fts_query"] = fts5_query(terms)
        statement = _sqlite_matches(shape)
    return [(row, float(row.relevance or 0.0)) for row in session.execute(statement, params)]


# Each filter a search may have, on bound parameters: the statements below are built once per
# combination of them (building one cost more than running it).
_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "visible": lambda: visible_to(_bound("agent_id")),
    "own": lambda: MemoryRow.agent_id == _bound("agent_id"),
    "agents_only": lambda: MemoryRow.agent_id.is_not(None),
    "kind": lambda: MemoryRow.kind == bindparam("kind", type_=String),
    "task": lambda: MemoryRow.task_id == _bound("task_id"),
}


def visible_to(agent_id: Any) -> ColumnElement[bool]:
    """Where-clause: the memories an agent may see, its own and the shared ones."""
    return or_(MemoryRow.agent_id.is_(None), MemoryRow.agent_id == agent_id)


def _bound(name: str) -> Any:
    return bindparam(name, type_=MemoryRow.memory_id.type)


def filter_clause(shape: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """The where-clauses of a filter shape (names of `_FILTERS`), the tenant's first."""
    return [MemoryRow.tenant_id == _bound("tenant_id"), *(_FILTERS[name]() for name in shape)]


_RANKED_BY = (MemoryRow.memory_id, MemoryRow.updated_at, MemoryRow.importance)


def _ranked(statement: Select[Any], relevance: ColumnElement[Any]) -> Select[Any]:
    return statement.order_by(relevance.desc(), MemoryRow.memory_id.desc()).limit(CANDIDATES)


@functools.cache
def _sqlite_matches(shape: tuple[str, ...]) -> Select[Any]:
    # bm25() is lower for better matches; negated, higher is better as for ts_rank.
    relevance = (-func.bm25(_FTS_TABLE, literal_column(_BM25_WEIGHTS))).label("relevance")
    statement = (
        select(*_RANKED_BY, relevance)
        .join(_FTS, _FTS.c.rowid == literal_column("memories.rowid"))
        .where(_FTS_TABLE.op("MATCH")(bindparam("fts_query", type_=String)))
        .where(*filter_clause(shape))
    )
    return _ranked(statement, relevance)


def _tsquery_of(text: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.to_tsquery(literal_column("'english'::regconfig"), text)


@functools.cache
def _per_term(shape: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: per term (as arrays, `unnest`: one shape whatever the number of terms), how
    many of the memories searched it matches, and how many are searched."""
    where = filter_clause(shape)
    term = (
        func.unnest(bindparam("term_queries", type_=ARRAY(Text)))
        .table_valued("query", with_ordinality="n")
        .render_derived()
    )
    matched = and_(*where, _VECTOR.op("@@")(_tsquery_of(term.c.query)))
    searched = select(func.count()).select_from(MemoryRow).where(*where).correlate(None)
    return (
        select(term.c.n, func.count(MemoryRow.memory_id), searched.scalar_subquery())
        .select_from(term.outerjoin(MemoryRow, matched))
        .group_by(term.c.n)
    )


@functools.cache
def _postgres_matches(shape: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: relevance is the sum of idf(term) * ts_rank(term), the idf weights from
    `_per_term` (ts_rank alone knows nothing of how rare a term is)."""
    weighted = (
        func.unnest(
            bindparam("term_queries_ranked", type_=ARRAY(Text)),
            bindparam("term_weights", type_=ARRAY(Float)),
        )
        .table_valued("query", "weight")
        .render_derived()
    )
    relevance = (
        select(func.sum(weighted.c.weight * func.ts_rank(_VECTOR, _tsquery_of(weighted.c.query))))
        .select_from(weighted)
        .scalar_subquery()
        .label("relevance")
    )
    matched = _VECTOR.op("@@")(_tsquery_of(bindparam("tsquery", type_=String)))
    statement = select(*_RANKED_BY, relevance).where(matched, *filter_clause(shape))
    return _ranked(statement, relevance)
