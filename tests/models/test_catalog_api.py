"""Deployments and policies over HTTP: the catalog, sealed credentials, test connection, roles."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from missionctl.bootstrap import apply_models_file
from missionctl.errors import InvalidInput
from missionctl.models.models import DeploymentRow
from missionctl.permissions import Role
from tests.conftest import Backend, client_for, make_user
from tests.models.conftest import DeploymentMaker, chat
from tests.models.fake_providers import FakeProvider, dead_url


def test_the_offline_model_is_always_there_and_labelled(models: httpx.Client) -> None:
    listed = models.get("/models").json()
    assert [d["name"] for d in listed] == ["offline"]
    assert listed[0]["label"] == "offline model"
    assert listed[0]["is_builtin"] is True
    assert listed[0]["prices"]["source"] == "free"
    reply = chat(models, "offline", "Summarise: the sky is blue. Grass is green.")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["label"] == "offline model"
    assert body["deployment"] == "offline"
    assert body["content"]
    assert body["input_tokens"] > 0
    assert body["cost_usd"] == 0.0
    assert body["is_priced"] is True


def test_default_policies_route_to_offline_until_a_tagged_deployment_exists(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    assert chat(models, "smart").json()["deployment"] == "offline"
    policies = {p["name"]: p for p in models.get("/model-policies").json()}
    assert policies["smart"]["deployments"] == ["offline"]
    assert policies["smart"]["is_builtin"] is True
    deploy("gpt", tags=["smart"])
    provider.script("from the fake")
    reply = chat(models, "smart").json()
    assert reply["deployment"] == "gpt"
    assert reply["content"] == "from the fake"


def test_a_deployment_key_is_sealed_at_rest_and_never_echoed(
    models: httpx.Client, deploy: DeploymentMaker, backend: Backend, provider: FakeProvider
) -> None:
    created = deploy("gpt")
    assert "api_key" not in created
    assert created["has_api_key"] is True
    assert "sk-test" not in models.get("/models/gpt").text
    assert "sk-test" not in models.get("/models").text
    with backend.db.transaction(write=False) as session:
        sealed = session.scalar(select(DeploymentRow.api_key_sealed))
    assert sealed is not None
    assert sealed.startswith("v1.")
    assert "sk-test" not in sealed
    chat(models, "gpt")
    assert provider.last_request.headers["authorization"] == "Bearer sk-test"


def test_test_connection_reports_success_and_a_wrong_key(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("good")
    deploy("bad", api_key="sk-wrong")
    ok = models.post("/models/good/test").json()
    assert ok["is_ok"] is True
    assert ok["latency_ms"] > 0
    wrong = models.post("/models/bad/test").json()
    assert wrong["is_ok"] is False
    assert "401" in wrong["detail"]


def test_changing_a_key_and_clearing_it(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt", api_key="sk-wrong")
    assert models.post("/models/gpt/test").json()["is_ok"] is False
    changed = models.patch("/models/gpt", json={"api_key": "sk-test"})
    assert changed.status_code == 200
    assert models.post("/models/gpt/test").json()["is_ok"] is True
    cleared = models.patch("/models/gpt", json={"clear_api_key": True}).json()
    assert cleared["has_api_key"] is False


def test_prices_come_from_genai_prices_or_overrides_and_unknown_models_are_unpriced(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    known = deploy("known", model="gpt-4o-mini")
    assert known["prices"] == {
        "input_per_mtok": 0.15,
        "output_per_mtok": 0.6,
        "source": "genai-prices",
    }
    override = deploy("override", model="gpt-4o-mini", prices={"input_per_mtok": 1.0})
    assert override["prices"]["input_per_mtok"] == 1.0
    assert override["prices"]["output_per_mtok"] == 0.6
    assert override["prices"]["source"] == "override"
    unknown = deploy("local", model="my-own-llama", provider="openai-compatible")
    assert unknown["prices"] == {
        "input_per_mtok": None,
        "output_per_mtok": None,
        "source": "unpriced",
    }


def test_bad_deployments_are_refused_with_clear_codes(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    no_url = models.post(
        "/models", json={"name": "x", "provider": "openai-compatible", "model": "m"}
    )
    assert no_url.status_code == 422
    assert no_url.json()["code"] == "validation_failed"
    bad_provider = models.post("/models", json={"name": "x", "provider": "bedrock", "model": "m"})
    assert bad_provider.status_code == 422
    reserved = models.post("/models", json={"name": "offline", "provider": "openai", "model": "m"})
    assert reserved.status_code == 422
    deploy("gpt")
    again = models.post("/models", json={"name": "gpt", "provider": "openai", "model": "m"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"
    assert models.get("/models/nope").json()["code"] == "not_found"
    assert models.delete("/models/offline").status_code == 422


def test_policies_name_existing_deployments_only(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    deploy("a")
    refused = models.post("/model-policies", json={"name": "smart", "deployments": ["a", "ghost"]})
    assert refused.status_code == 422
    assert refused.json()["missing"] == ["ghost"]
    created = models.post(
        "/model-policies",
        json={"name": "smart", "deployments": ["a", "offline"], "strategy": "cost"},
    )
    assert created.status_code == 201
    assert created.json()["is_builtin"] is False
    assert models.get("/model-policies/smart").json()["strategy"] == "cost"
    assert models.patch("/model-policies/smart", json={"retries": 3}).json()["retries"] == 3
    assert models.delete("/model-policies/smart").status_code == 204
    assert models.get("/model-policies/smart").json()["is_builtin"] is True


def test_unknown_alias_is_a_clear_error(models: httpx.Client) -> None:
    response = chat(models, "gpt-9")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "gpt-9" in response.json()["detail"]


def test_a_dead_deployment_is_unavailable_with_every_attempt_listed(
    models: httpx.Client, deploy: DeploymentMaker
) -> None:
    deploy("dead", base_url=dead_url(), timeout_seconds=2)
    response = chat(models, "dead")
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "model_unavailable"
    assert {a["outcome"] for a in problem["attempts"]} == {"error"}


def test_roles_viewers_read_builders_manage_operators_use(
    server: str, backend: Backend, models: httpx.Client, deploy: DeploymentMaker
) -> None:
    deploy("gpt")
    _viewer_id, viewer_token = make_user(backend, Role.VIEWER)
    _operator_id, operator_token = make_user(backend, Role.OPERATOR)
    with client_for(server, viewer_token) as viewer, client_for(server, operator_token) as operator:
        assert viewer.get("/models").status_code == 200
        assert viewer.get("/usage").status_code == 200
        assert chat(viewer, "offline").status_code == 403
        assert (
            viewer.post(
                "/models", json={"name": "y", "provider": "openai", "model": "m"}
            ).status_code
            == 403
        )
        assert (
            operator.post("/budgets", json={"scope": "tenant", "limit_usd": 1}).status_code == 403
        )
        assert chat(operator, "offline").status_code == 200
        assert operator.delete("/models/gpt").status_code == 403


def test_policies_and_deployments_share_one_namespace_of_aliases(
    models: httpx.Client, deploy: DeploymentMaker, provider: FakeProvider
) -> None:
    deploy("gpt")
    clash = models.post("/model-policies", json={"name": "gpt", "deployments": ["gpt"]})
    assert clash.status_code == 409
    assert (
        models.post("/model-policies", json={"name": "offline", "deployments": ["gpt"]}).status_code
        == 409
    )
    assert (
        models.post(
            "/model-policies", json={"name": "team", "deployments": ["offline"]}
        ).status_code
        == 201
    )
    taken = models.post("/models", json={"name": "team", "provider": "openai", "model": "m"})
    assert taken.status_code == 409
    # A deployment named like a built-in policy is reachable exactly as `deployment:<name>`.
    deploy("smart")
    provider.script("straight to it")
    assert chat(models, "deployment:smart").json()["content"] == "straight to it"
    assert chat(models, "deployment:ghost").json()["code"] == "invalid_input"


def test_the_models_file_is_applied_at_start_up(
    models: httpx.Client, backend: Backend, tmp_path: Path
) -> None:
    catalog = tmp_path / "models.yaml"
    catalog.write_text(
        "deployments:\n"
        "  - {name: local, provider: openai-compatible, model: llama3,"
        " base_url: 'http://127.0.0.1:11434/v1', tags: [cheap]}\n"
        "budgets:\n  - {scope: tenant, period: daily, limit_tokens: 5000}\n"
    )
    settings = backend.settings.model_copy(update={"models_file": catalog})
    assert apply_models_file(backend.db, settings) == (
        f"Models file {catalog}: 2 created, 0 updated, 0 unchanged."
    )
    assert apply_models_file(backend.db, settings) == (
        f"Models file {catalog}: 0 created, 0 updated, 2 unchanged."
    )
    assert [d["name"] for d in models.get("/models").json()] == ["offline", "local"]
    assert models.get("/model-policies/cheap").json()["deployments"] == ["local"]
    catalog.write_text("deployments: [{name: x}]\n")
    with pytest.raises(InvalidInput, match=r"deployments\.0\.provider"):
        apply_models_file(backend.db, settings)
    assert apply_models_file(backend.db, backend.settings) is None
