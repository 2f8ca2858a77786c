"""`missionctl models`, `budgets` and `usage` as real processes on a real data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Cli, as_json, failed, make_cli, succeeded
from tests.models.fake_providers import FakeProvider

CATALOG = """
deployments:
  - name: gpt
    provider: openai
    model: gpt-4o-mini
    base_url: {base_url}
    api_key: sk-test
    tags: [smart]
  - name: local
    provider: openai-compatible
    model: homegrown-7b
    base_url: http://127.0.0.1:9/v1
policies:
  - name: thrifty
    deployments: [gpt, offline]
    strategy: cost
budgets:
  - scope: tenant
    period: monthly
    limit_usd: 25
"""


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider(api_key="sk-test") as fake:
        yield fake


@pytest.fixture(scope="module")
def models_dir(
    tmp_path_factory: pytest.TempPathFactory, bytecode_cache: Path, provider: FakeProvider
) -> Cli:
    """A migrated data directory with the catalog applied."""
    cli = make_cli(tmp_path_factory.mktemp("models"), bytecode_cache)
    succeeded(cli("db", "upgrade"))
    catalog = cli.workdir / "models.yaml"
    catalog.write_text(CATALOG.format(base_url=provider.openai_base_url))
    assert succeeded(cli("models", "apply", str(catalog))).splitlines()[-1] == (
        "4 created, 0 updated, 0 unchanged"
    )
    return cli


def test_apply_is_idempotent_and_export_round_trips_without_keys(models_dir: Cli) -> None:
    again = succeeded(models_dir("models", "apply", "models.yaml"))
    assert again.strip() == "0 created, 0 updated, 4 unchanged"
    exported = succeeded(models_dir("models", "export"))
    assert "sk-test" not in exported
    document = yaml.safe_load(exported)
    assert [d["name"] for d in document["deployments"]] == ["gpt", "local"]
    assert document["policies"][0]["strategy"] == "cost"
    assert document["budgets"] == [{"scope": "tenant", "period": "monthly", "limit_usd": 25.0}]
    listed = as_json(models_dir("models", "list", "--json"))
    assert [(d["name"], d["has_api_key"]) for d in listed] == [
        ("offline", False),
        ("gpt", True),
        ("local", False),
    ]


def test_chat_goes_through_the_gateway_and_is_metered(
    models_dir: Cli, provider: FakeProvider
) -> None:
    provider.script("hello from the fake")
    result = models_dir("models", "chat", "smart", "hi there")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from the fake"
    assert result.stderr.startswith("[gpt: ")
    offline = models_dir("models", "chat", "offline", "Summarise: the sky is blue.")
    assert offline.returncode == 0
    assert offline.stderr.startswith("[offline: ")
    usage = succeeded(models_dir("usage", "--group-by", "deployment", "--csv"))
    keys = [line.split(",")[1] for line in usage.splitlines()[1:]]
    assert keys == ["gpt", "offline"]


def test_budgets_set_list_raise(models_dir: Cli) -> None:
    succeeded(
        models_dir(
            "budgets", "set", "--scope", "workflow", "--scope-id", "nightly", "--tokens", "1000"
        )
    )
    budgets = as_json(models_dir("budgets", "list", "--json"))
    nightly = next(b for b in budgets if b["scope"] == "workflow")
    assert nightly["limit_tokens"] == 1000
    raised = succeeded(models_dir("budgets", "raise", nightly["budget_id"], "--tokens", "5000"))
    assert "5000 tokens" in raised


def test_bad_input_is_one_line_and_a_non_zero_exit(models_dir: Cli) -> None:
    bad = models_dir.workdir / "bad.yaml"
    bad.write_text("deployments:\n  - name: x\n    provider: bedrock\n    model: m\n")
    assert "deployments.0.provider" in failed(models_dir("models", "apply", str(bad)), 2)
    bad.write_text("deployments: [unclosed\n")
    assert "not valid YAML" in failed(models_dir("models", "apply", str(bad)), 2)
    assert "cannot read" in failed(models_dir("models", "apply", "missing.yaml"), 2)
    assert "unknown model" in failed(models_dir("models", "chat", "gpt-9", "hi"), 2)
    assert "must be a date" in failed(models_dir("usage", "--since", "soon"), 2)
    assert "not a budget id" in failed(models_dir("budgets", "raise", "nope", "--usd", "1"), 2)
    refused = models_dir("models", "chat", "local", "hi")
    assert refused.returncode == 7
    assert refused.stderr.startswith("error: no deployment of 'local' answered")
