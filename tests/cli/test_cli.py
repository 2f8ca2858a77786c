"""The `missionctl` console script, run as a real process on a real data directory.

Every command is a subprocess of the installed entry point, with only MISSIONCTL_DATA_DIR set (no
inherited MISSIONCTL_* variable, no .env: the working directory is a fresh temporary one). `up`
runs in the background on a free 127.0.0.1 port and is always stopped, SIGTERM then SIGKILL.
"""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from missionctl import __version__, migrations
from tests.cli.conftest import (
    COMMAND_TIMEOUT,
    MISSIONCTL,
    Cli,
    StartUp,
    as_json,
    failed,
    items,
    make_cli,
    succeeded,
)

DEMO_TEAM = {"orchestrator", "researcher", "writer", "reviewer"}
# uvicorn shuts down cleanly on SIGTERM and then re-raises the signal, so a graceful stop exits
# with -SIGTERM (0 on older uvicorn); -SIGKILL means it had to be killed.
GRACEFUL_EXIT = {0, -signal.SIGTERM}


@dataclass
class Workspace:
    """A migrated data directory shared by the tests of this module, with one agent."""

    cli: Cli
    agent_id: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, bytecode_cache: Path) -> Workspace:
    cli = make_cli(tmp_path_factory.mktemp("workspace"), bytecode_cache)
    assert succeeded(cli("db", "upgrade")).strip() == (
        f"database at revision {migrations.head_revision()}"
    )
    out = succeeded(
        cli("agents", "create", "scout", "--role", "Researcher", "-c", "research", "-c", "web")
    )
    match = re.fullmatch(r"created agent scout \(([0-9a-f-]{36})\)\n", out)
    assert match, out
    return Workspace(cli=cli, agent_id=match.group(1))


@pytest.fixture(scope="module")
def assigned_task(workspace: Workspace) -> str:
    """A high-priority task created for the workspace's agent; its id."""
    out = succeeded(
        workspace.cli(
            "tasks", "create", "Write the launch post", "--assignee", "scout", "--priority", "high"
        )
    )
    match = re.fullmatch(r"created task ([0-9a-f-]{36}) in assigned: Write the launch post\n", out)
    assert match, out
    return match.group(1)


# --- commands on a migrated data directory -------------------------------------------------------


def test_a_created_agent_is_in_the_table(workspace: Workspace) -> None:
    lines = succeeded(workspace.cli("agents", "list")).splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "STATUS", "CAPABILITIES", "MODEL", "ID"]
    assert set(lines[1]) <= {"-", " "}
    rows = [line.split() for line in lines[2:]]
    assert rows == [["scout", "Researcher", "idle", "research,web", "offline", workspace.agent_id]]


def test_agents_list_json(workspace: Workspace) -> None:
    agents = as_json(workspace.cli("agents", "list", "--json"))
    assert [a["name"] for a in agents] == ["scout"]
    (scout,) = agents
    assert scout["agent_id"] == workspace.agent_id
    assert scout["role"] == "Researcher"
    assert scout["capabilities"] == ["research", "web"]
    assert scout["status"] == "idle"


def test_a_duplicate_agent_name_is_one_error_line(workspace: Workspace) -> None:
    line = failed(workspace.cli("agents", "create", "scout", "--role", "Other"), 4)
    assert "scout" in line


def test_a_task_with_an_assignee_starts_assigned(workspace: Workspace, assigned_task: str) -> None:
    tasks = as_json(workspace.cli("tasks", "list", "--status", "assigned", "--json"))
    assert [t["task_id"] for t in tasks] == [assigned_task]
    (task,) = tasks
    assert task["title"] == "Write the launch post"
    assert task["status"] == "assigned"
    assert task["priority"] == "high"
    assert task["assignee_ids"] == [workspace.agent_id]
    assert task["is_goal"] is False


def test_tasks_show_prints_the_task_and_its_thread(
    workspace: Workspace, assigned_task: str
) -> None:
    out = succeeded(workspace.cli("tasks", "show", assigned_task))

    def field(name: str) -> str:
        match = re.search(rf"^{name}\s+(.*)$", out, re.MULTILINE)
        assert match, f"no {name!r} in:\n{out}"
        return match.group(1)

    assert field("id") == assigned_task
    assert field("title") == "Write the launch post"
    assert field("status") == "assigned"
    assert field("priority") == "high"
    assert field("goal") == "no"
    assert field("assignees") == "scout"
    assert "thread (0 message(s))" in out.splitlines()


def test_tasks_show_refuses_a_malformed_id(workspace: Workspace) -> None:
    line = failed(workspace.cli("tasks", "show", "not-a-uuid"), 2)
    assert "not-a-uuid" in line


def test_tasks_show_of_an_unknown_task_exits_3(workspace: Workspace) -> None:
    unknown = str(uuid.uuid4())
    line = failed(workspace.cli("tasks", "show", unknown), 3)
    assert unknown in line


def test_a_goal_lands_in_the_inbox(workspace: Workspace, assigned_task: str) -> None:
    out = succeeded(workspace.cli("goal", "Write a brief about X"))
    match = re.fullmatch(r"created goal ([0-9a-f-]{36}) in inbox: Write a brief about X\n", out)
    assert match, out
    goals = as_json(workspace.cli("tasks", "list", "--goals", "--json"))
    # The assigned (non-goal) task exists too and must not be listed.
    assert [g["task_id"] for g in goals] == [match.group(1)]
    (goal,) = goals
    assert goal["is_goal"] is True
    assert goal["status"] == "inbox"
    assert goal["title"] == "Write a brief about X"
    assert goal["assignee_ids"] == []
    assert assigned_task != goal["task_id"]


# --- commands that must fail before doing anything -----------------------------------------------


def test_a_command_before_db_upgrade_says_what_to_run(fresh: Cli) -> None:
    result = fresh("agents", "list")
    assert result.returncode != 0
    line = failed(result, result.returncode)
    assert "missionctl db upgrade" in line


def test_a_bad_setting_exits_2_naming_the_variable(fresh: Cli) -> None:
    line = failed(fresh("agents", "list", MISSIONCTL_PORT="abc"), 2)
    assert "MISSIONCTL_PORT" in line
    assert not fresh.data_dir.exists()  # it failed before touching anything


def test_version(fresh: Cli) -> None:
    assert succeeded(fresh("--version")) == f"missionctl {__version__}\n"


# --- `missionctl up` -----------------------------------------------------------------------------


def test_up_seeds_the_demo_team_once(fresh: Cli, start_up: StartUp) -> None:
    first = start_up(fresh)
    agents = items(first, "/agents")
    assert {a["name"] for a in agents} == DEMO_TEAM
    assert len(agents) == 4
    goals = items(first, "/tasks", is_goal="true")
    assert len(goals) == 1
    # The demo team takes the demo goal at once: planned into subtasks, worked, reviewed, done.
    deadline = time.monotonic() + 60
    while items(first, "/tasks", is_goal="true")[0]["status"] != "done":
        assert time.monotonic() < deadline, items(first, "/tasks")
        time.sleep(0.2)
    subtasks = items(first, "/tasks", parent_task_id=goals[0]["task_id"])
    assert len(subtasks) >= 3 and all(t["status"] == "done" for t in subtasks)

    working_md = fresh.data_dir / "WORKING.md"
    assert "@orchestrator" in working_md.read_text()
    key_file = fresh.data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key.strip()) >= 32

    admin_file = fresh.data_dir / "initial-admin.txt"
    assert stat.S_IMODE(admin_file.stat().st_mode) == 0o600
    password = admin_file.read_text().split("password: ")[1].strip()
    assert first.stop() in GRACEFUL_EXIT
    assert "Seeded the demo team" in first.output()
    assert password in first.output()  # printed once, at creation

    second = start_up(fresh)
    again = items(second, "/agents")
    assert sorted(a["agent_id"] for a in again) == sorted(a["agent_id"] for a in agents)
    assert [t["task_id"] for t in items(second, "/tasks", is_goal="true")] == [goals[0]["task_id"]]
    assert key_file.read_text() == key  # the key survives restarts
    assert second.stop() in GRACEFUL_EXIT
    assert "Seeded" not in second.output()
    assert password not in second.output()  # never printed again


def test_up_without_the_demo_leaves_the_database_empty(fresh: Cli, start_up: StartUp) -> None:
    server = start_up(fresh, "--no-demo")
    assert items(server, "/agents") == []
    assert items(server, "/tasks") == []
    assert (fresh.data_dir / "WORKING.md").is_file()
    assert "@orchestrator" not in (fresh.data_dir / "WORKING.md").read_text()
    assert server.stop() in GRACEFUL_EXIT
    assert "Seeded" not in server.output()


def test_users_create_reads_the_password_from_stdin_and_makes_the_tenant(
    workspace: Workspace,
) -> None:
    cli = workspace.cli

    def create(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MISSIONCTL), "users", "create", *args],
            cwd=cli.workdir,
            env=cli.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    out = succeeded(
        create(
            "--tenant",
            "acme",
            "--email",
            "Ops@Acme.example",
            "--role",
            "operator",
            "--password-stdin",
            stdin="a long enough password\n",
        )
    )
    assert out.strip() == "created ops@acme.example as operator in acme"
    # The same person can join a second tenant; twice in one is a conflict.
    succeeded(
        create(
            "--tenant",
            "beta",
            "--email",
            "ops@acme.example",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="a long enough password\n",
        )
    )
    assert "already a member" in failed(
        create(
            "--tenant",
            "acme",
            "--email",
            "ops@acme.example",
            "--role",
            "admin",
            "--password-stdin",
            stdin="a long enough password\n",
        ),
        4,
    )
    assert "--password-stdin" in failed(
        create("--tenant", "acme", "--email", "x@acme.example", "--role", "viewer", stdin=""), 2
    )
    assert "password" in failed(
        create(
            "--tenant",
            "acme",
            "--email",
            "y@acme.example",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="short\n",
        ),
        2,
    )
    assert "slug" in failed(
        create(
            "--tenant",
            "Not A Slug",
            "--email",
            "z@acme.example",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="a long enough password\n",
        ),
        2,
    )
