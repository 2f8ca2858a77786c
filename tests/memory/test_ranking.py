"""Search ranking (relevance, recency, importance) and tenant isolation, on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from missionctl.db import DEFAULT_TENANT_ID, new_id, utcnow
from missionctl.identity.models import TenantRow
from missionctl.memory.models import MemoryRow
from missionctl.memory.search import fts5_query, rank, score, search_terms, tsquery_text
from missionctl.permissions import Role
from tests.conftest import Backend, client_for, make_user
from tests.memory.test_memory_api import found, remember


def age(backend: Backend, memory: dict[str, Any], days: float) -> None:
    """Pretend a memory was last saved `days` ago."""
    when = utcnow() - timedelta(days=days)
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        session.execute(
            update(MemoryRow)
            .where(MemoryRow.memory_id == uuid.UUID(memory["memory_id"]))
            .values(created_at=when, updated_at=when)
        )


def test_more_matching_words_rank_first(api: httpx.Client) -> None:
    remember(api, "Lunch order", "sandwiches on friday")
    remember(api, "Pool sizing", "the postgresql connection pool holds ten")
    remember(api, "Vacuum tuning", "postgresql autovacuum for the jobs queue table")
    remember(api, "Queue notes", "the jobs queue is drained by workers")
    hits = ok_hits(api, q="postgresql autovacuum queue")
    titles = [h["memory"]["title"] for h in hits]
    assert titles[0] == "Vacuum tuning"
    assert "Lunch order" not in titles
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_rarer_words_rank_first(api: httpx.Client) -> None:
    # Made first (oldest), so recency cannot be what puts it on top.
    remember(api, "Zebra crossing", "the zebra report")
    for n in range(4):
        remember(api, f"Report {n}", f"the weekly report number {n}")
    assert found(api, q="report zebra")[0] == "Zebra crossing"
    assert len(found(api, q="report zebra")) == 5


def test_title_matches_weigh_more_than_body_matches(api: httpx.Client) -> None:
    remember(api, "Kubernetes upgrade", "steps we followed")
    remember(api, "Weekly notes", "we talked about kubernetes briefly")
    assert found(api, q="kubernetes") == ["Kubernetes upgrade", "Weekly notes"]


def test_recency_breaks_ties(api: httpx.Client, backend: Backend) -> None:
    remember(api, "Release notes A", "release process")
    newer = remember(api, "Release notes B", "release process")
    assert found(api, q="release") == ["Release notes B", "Release notes A"]
    age(backend, newer, 90)
    assert found(api, q="release") == ["Release notes A", "Release notes B"]
    hits = ok_hits(api, q="release")
    assert hits[1]["score"] < hits[0]["score"] * 0.6  # three half-lives: 0.5625 of a fresh one


def test_importance_breaks_ties(api: httpx.Client) -> None:
    remember(api, "Vital rule", "never deploy on friday", importance=5)
    remember(api, "Trivia rule", "never deploy on friday", importance=1)
    remember(api, "Normal rule", "never deploy on friday")
    assert found(api, q="deploy friday") == ["Vital rule", "Normal rule", "Trivia rule"]


def test_age_never_outweighs_a_much_better_match(api: httpx.Client, backend: Backend) -> None:
    exact = remember(api, "Invoice numbering scheme", "invoice numbering uses the year prefix")
    remember(api, "Misc", "an invoice arrived")
    age(backend, exact, 365)
    assert found(api, q="invoice numbering scheme")[0] == "Invoice numbering scheme"


def test_the_ranking_formula() -> None:
    assert score(1.0, 0, 3) == pytest.approx(1.1)
    assert score(1.0, 30, 3) == pytest.approx(1.1 * 0.75)  # one half-life: recency 0.75
    assert score(1.0, 10_000, 3) == pytest.approx(0.55)  # never below half
    assert score(0.5, 0, 5) < score(1.0, 0, 1)
    assert score(1.0, -5, 3) == score(1.0, 0, 3)  # clocks skew; the future is "now"
    assert rank([], utcnow()) == []


def test_search_terms_keep_words_only() -> None:
    assert search_terms('NEAR("deploy" OR title:x*) & !rollback') == [
        "near",
        "deploy",
        "title",
        "x",
        "rollback",
    ]  # "or" is a stop word
    assert search_terms("the a of") == []
    assert search_terms("Café CAFÉ café") == ["café"]
    assert len(search_terms(" ".join(f"w{n}" for n in range(100)))) == 32
    assert search_terms("y" * 500) == ["y" * 64]
    assert fts5_query(["deploy", "near"]) == '"deploy" OR "near"'
    assert tsquery_text(["deploy", "near"]) == "'deploy' | 'near'"


def test_another_tenant_cannot_see_or_find_them(
    server: str, api: httpx.Client, backend: Backend
) -> None:
    memory = remember(api, "Secret formula", "the secret sauce recipe", tags=["recipe"])
    tenant_id = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=tenant_id, slug=f"t-{tenant_id.hex[:8]}", name="Other"))
    _user, token = make_user(backend, Role.ADMIN, tenant_id=tenant_id)
    with client_for(server, token) as other:
        assert found(other) == []
        assert found(other, q="secret sauce recipe") == []
        assert other.get(f"/memories/{memory['memory_id']}").status_code == 404
        assert other.delete(f"/memories/{memory['memory_id']}").status_code == 404
        theirs = remember(other, "Their secret", "secret of their own")
        assert found(other, q="secret") == ["Their secret"]
        assert ok_hits(other, q="secret")[0]["score"] == pytest.approx(1.1, rel=0.01)
    assert found(api, q="secret") == ["Secret formula"]
    assert api.get(f"/memories/{theirs['memory_id']}").status_code == 404


def ok_hits(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """The hits of a search."""
    response = api.get("/memories", params=params)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()
    return hits
