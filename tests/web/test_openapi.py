"""The OpenAPI document: served, complete, and every field described."""

from __future__ import annotations

import httpx

from tests.factories import ok


def test_openapi_is_served_with_every_endpoint_of_the_board(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    paths = spec["paths"]
    expected = {
        "/api/v1/agents": {"get", "post"},
        "/api/v1/agents/{agent_id}": {"get", "put", "patch", "delete"},
        "/api/v1/agents/{agent_id}/heartbeat": {"post"},
        "/api/v1/tasks": {"get", "post"},
        "/api/v1/tasks/{task_id}": {"get", "put", "patch", "delete"},
        "/api/v1/tasks/{task_id}/assign": {"post"},
        "/api/v1/tasks/{task_id}/status": {"post"},
        "/api/v1/tasks/{task_id}/messages": {"get", "post"},
        "/api/v1/messages/{message_id}": {"get"},
        "/api/v1/documents": {"get", "post"},
        "/api/v1/documents/{document_id}": {"get", "put", "delete"},
        "/api/v1/documents/{document_id}/versions": {"get"},
        "/api/v1/activities": {"get"},
        "/api/v1/activities/agent/{agent_id}": {"get"},
        "/api/v1/activities/task/{task_id}": {"get"},
        "/api/v1/notifications": {"get"},
        "/api/v1/notifications/{notification_id}/read": {"put"},
        "/api/v1/notifications/mark-all-read": {"post"},
        "/api/v1/state/working-md": {"get", "put"},
        "/api/v1/health": {"get"},
        "/api/v1/ready": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_every_schema_field_and_parameter_has_a_description(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    missing = []
    for name, schema in spec["components"]["schemas"].items():
        if name in {"HTTPValidationError", "ValidationError"}:
            continue  # FastAPI's own, not served: our errors are problem+json
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{name}.{field}")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                described = parameter.get("description") or parameter.get("schema", {}).get(
                    "description"
                )
                if not described and parameter["in"] != "path":
                    missing.append(f"{method.upper()} {path} ?{parameter['name']}")
    assert missing == []


def test_docs_page_is_served_offline(api: httpx.Client) -> None:
    base = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200
    # Offline: every script and stylesheet comes from this server, none from a CDN.
    assert "https://" not in docs.text and "http://" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in docs.text
        assert httpx.get(f"{base}/docs/assets/{asset}").status_code == 200


def test_health_and_ready(api: httpx.Client) -> None:
    assert ok(api.get("/health"))["status"] == "ok"
    ready = ok(api.get("/ready"))
    assert ready["status"] == "ready" and ready["schema_revision"]


def test_the_document_says_which_routes_need_a_bearer_token(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    assert paths["/api/v1/tasks"]["get"]["security"] == [{"HTTPBearer": []}]
    assert paths["/api/v1/audit"]["get"]["security"] == [{"HTTPBearer": []}]
    for public in ("/api/v1/auth/login", "/api/v1/health", "/api/v1/ready"):
        operation = next(iter(paths[public].values()))
        assert "security" not in operation, public
