"""What every response carries, and what no request may send: headers, body limit, CORS."""

from __future__ import annotations

import httpx

from missionctl.db import Database, make_engine
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from tests.conftest import ServerThread
from tests.factories import ok, problem


def test_security_headers_on_api_and_errors(api: httpx.Client, anonymous: httpx.Client) -> None:
    for response in (
        api.get("/tasks"),
        api.get("/tasks"),
        anonymous.get("/tasks"),
        anonymous.get("/health"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self';" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # plain HTTP: HSTS would be a lie


def test_docs_may_run_swagger_inline_script(api: httpx.Client) -> None:
    base = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    csp = httpx.get(f"{base}/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp


def test_hsts_behind_tls(api: httpx.Client) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS-terminating proxy.
    response = api.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_request_bodies_are_limited(api: httpx.Client, tmp_path: object) -> None:
    settings = load_settings(data_dir=tmp_path, secret_key="x" * 48, max_request_bytes=4096)
    app = create_app(settings, Database(make_engine("sqlite://")))
    with ServerThread(app) as base, httpx.Client(base_url=f"{base}/api/v1") as client:
        big = b'{"title": "' + b"x" * 5000 + b'"}'
        problem(
            client.post("/tasks", content=big, headers={"content-type": "application/json"}),
            413,
            "payload_too_large",
        )

        def chunks():  # no Content-Length: counted while streaming
            yield b'{"title": "'
            yield b"x" * 5000
            yield b'"}'

        problem(
            client.post("/tasks", content=chunks(), headers={"content-type": "application/json"}),
            413,
            "payload_too_large",
        )


def test_cors_only_for_configured_origins(tmp_path: object) -> None:
    settings = load_settings(
        data_dir=tmp_path, secret_key="x" * 48, cors_origins=["https://ops.example"]
    )
    app = create_app(settings, Database(make_engine("sqlite://")))
    with ServerThread(app) as base:
        allowed = httpx.options(
            f"{base}/api/v1/tasks",
            headers={
                "Origin": "https://ops.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
        other = httpx.get(f"{base}/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert ok(other)["status"] == "ok"
