"""How the API serves the dashboard: its files, the page fallback, and nothing shadowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from missionctl.db import Database, make_engine
from missionctl.settings import load_settings
from missionctl.web import ui
from missionctl.web.app import create_app
from tests.conftest import ServerThread


def _serve(tmp_path: Path) -> ServerThread:
    settings = load_settings(data_dir=tmp_path / "data", secret_key="x" * 48)
    return ServerThread(create_app(settings, Database(make_engine("sqlite://"))))


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Mission Control</title>")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    monkeypatch.setattr(ui, "UI_DIST", dist)
    with _serve(tmp_path) as base, httpx.Client(base_url=base) as client:
        yield client


def test_pages_get_the_app_and_assets_are_cached(built: httpx.Client) -> None:
    for path in ("/", "/tasks/0190", "/documents?q=x", "/admin"):
        page = built.get(path)
        assert page.status_code == 200, path
        assert page.text.startswith("<!doctype html>")
        assert page.headers["cache-control"] == "no-cache"
        assert "script-src 'self';" in page.headers["content-security-policy"]
    asset = built.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["content-encoding"] == "gzip"  # httpx asked for it, and decoded it
    assert asset.text == "console.log(1)"
    plain = built.get("/assets/index-abc123.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == "console.log(1)"
    assert built.get("/assets/missing.js").status_code == 404
    assert built.get("/assets/../index.html").status_code in (200, 404)  # never a file outside
    assert built.get("/assets/%2e%2e/secret.key").status_code == 404
    assert built.get("/favicon.svg").headers["content-type"].startswith("image/svg")
    assert built.post("/tasks/0190").status_code == 405
    # Rebuilt while the server runs: the new files are served without a restart.
    (ui.UI_DIST / "assets" / "index-def456.js").write_text("console.log(2)")
    assert built.get("/assets/index-def456.js").text == "console.log(2)"


def test_the_api_side_is_never_shadowed(built: httpx.Client) -> None:
    assert built.get("/api/v1/health").json()["status"] == "ok"
    missing = built.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    # Not 405: the fallback answers every method, so unknown API paths stay 404s.
    assert built.post("/api/v1/no-such-route").status_code == 404
    assert built.get("/api").status_code == 404
    assert built.get("/docs").text.count("swagger") > 0
    schema = built.get("/api/v1/openapi.json").json()
    assert not any(not path.startswith("/api/v1/") for path in schema["paths"])
    assert built.get("/api/v1/tasks").status_code == 401  # routed to the API, which wants a token


def test_without_a_build_the_root_points_at_the_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "UI_DIST", tmp_path / "not-built")
    with _serve(tmp_path) as base, httpx.Client(base_url=base) as client:
        root = client.get("/", follow_redirects=False)
        assert root.status_code == 307
        assert root.headers["location"] == "/docs"
        assert client.get("/tasks/1").status_code == 404
