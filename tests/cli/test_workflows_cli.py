"""`missionctl workflows …` as a real process: apply, list, run --wait with live progress (a
worker in its own process when none runs), runs, approve, resume, and bad input as one line."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import MISSIONCTL, Cli, as_json, failed, make_cli, succeeded

EXAMPLE = Path(__file__).parents[1] / "workflows" / "brief.yaml"


@pytest.fixture
def cli(tmp_path: Path, bytecode_cache: Path) -> Cli:
    made = make_cli(tmp_path, bytecode_cache)
    succeeded(made("db", "upgrade"))
    return made


def test_apply_list_and_bad_definitions(cli: Cli, tmp_path: Path) -> None:
    assert succeeded(cli("workflows", "apply", str(EXAMPLE))) == "saved brief v1\n"
    assert succeeded(cli("workflows", "apply", str(EXAMPLE))) == "unchanged: brief v1\n"
    listing = succeeded(cli("workflows", "list"))
    assert listing.splitlines()[2].split()[:3] == ["brief", "1", "-"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text().replace("needs: [review]", "needs: [reviw]"))
    line = failed(cli("workflows", "apply", str(broken)), 2)
    assert line == "error: nodes.publish.needs[0] (line 8, column 38): no node 'reviw'"
    assert failed(cli("workflows", "apply", str(tmp_path / "missing.yaml")), 2).startswith(
        "error: cannot read"
    )
    assert failed(cli("workflows", "run", "brief"), 2) == "error: inputs.topic: required"
    assert failed(cli("workflows", "run", "nothing"), 3) == "error: workflow nothing not found"
    assert failed(cli("workflows", "approve", "not-a-run", "review"), 2).startswith("error: ")


def test_run_wait_shows_progress_and_ends_when_approved(cli: Cli) -> None:
    succeeded(cli("workflows", "apply", str(EXAMPLE)))
    waiting = subprocess.Popen(
        [str(MISSIONCTL), "workflows", "run", "brief", "--input", "topic=tides", "--wait"],
        cwd=cli.workdir,
        env=cli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = as_json(cli("workflows", "runs", "--status", "waiting", "--json"))
            if found:
                run_id = found[0]["run_id"]
                break
            time.sleep(0.3)
        assert run_id, "the run never waited for its approval"
        assert succeeded(cli("workflows", "approve", run_id, "review")) == (
            f"approved review of run {run_id}\n"
        )
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert "no worker running: running the workflow in this process" in err
    lines = out.splitlines()
    assert lines[0].startswith(f"run {run_id} of brief v1")
    assert any(line.split()[:2] == ["review", "waiting"] for line in lines)
    assert f"approve: missionctl workflows approve {run_id} review" in out
    assert any(line.split()[:2] == ["note", "succeeded"] for line in lines)
    assert "succeeded: 5 steps" in out
    outputs = json.loads(out[out.index("{") :])
    assert "tides" in outputs["note"]
    shown = succeeded(cli("workflows", "show", run_id))
    assert "succeeded" in shown and "publish" in shown


def test_a_failed_run_is_listed_and_resumed(cli: Cli, tmp_path: Path) -> None:
    definition = tmp_path / "call.json"
    definition.write_text(
        json.dumps(
            {
                "name": "call",
                "nodes": {"get": {"type": "http", "url": "http://127.0.0.1:9/nothing"}},
            }
        )
    )
    assert succeeded(cli("workflows", "apply", str(definition))) == "saved call v1\n"
    result = cli("workflows", "run", "call", "--wait", "--timeout", "60")
    assert result.returncode == 1
    assert "failed at get: 127.0.0.1 is not an allowed host" in result.stderr
    [dead] = as_json(cli("workflows", "runs", "--status", "failed", "--json"))
    assert dead["failed_step"] == "get"
    assert succeeded(cli("workflows", "resume", dead["run_id"])) == (
        f"resumed run {dead['run_id']} (v1)\n"
    )
    assert as_json(cli("workflows", "show", dead["run_id"], "--json"))["status"] == "queued"
