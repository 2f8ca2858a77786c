"""`missionctl agents versions|diff|rollback` as real processes on a real data directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from missionctl.agents.schemas import AgentCreate, AgentUpdate
from missionctl.agents.service import create_agent, find_agent_by_name, update_agent
from missionctl.bootstrap import open_database
from missionctl.common import Actor
from missionctl.settings import load_settings
from tests.cli.conftest import Cli, as_json, failed, make_cli, succeeded


def evolve(cli: Cli) -> None:
    """scout at v3: created by the CLI (v1), a new role (v2), new instructions and model (v3)."""
    succeeded(cli("agents", "create", "scout", "--role", "Scout", "--instructions", "Find."))
    db = open_database(load_settings(data_dir=cli.data_dir, secret_key="x" * 48))
    try:
        with db.transaction() as session:
            scout = find_agent_by_name(session, "scout")
            assert scout is not None
            actor = Actor.user()
            update_agent(session, scout.agent_id, AgentUpdate(role="Senior scout"), actor=actor)
            changes = AgentUpdate(instructions="Find.\nCite.", model="gpt-4o-mini")
            update_agent(session, scout.agent_id, changes, actor=actor)
            # Another agent, for the test that gives it the name `scout`.
            create_agent(session, AgentCreate(name="ranger", role="Ranger"), actor=actor)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def evolved(tmp_path_factory: pytest.TempPathFactory, bytecode_cache: Path) -> Cli:
    """A data directory whose agent `scout` is at version 3 (read-only tests share it)."""
    cli = make_cli(tmp_path_factory.mktemp("versions"), bytecode_cache)
    succeeded(cli("db", "upgrade"))
    evolve(cli)
    return cli


@pytest.fixture
def fresh_evolved(tmp_path: Path, bytecode_cache: Path) -> Cli:
    """The same, for one test that changes it."""
    cli = make_cli(tmp_path, bytecode_cache)
    succeeded(cli("db", "upgrade"))
    evolve(cli)
    return cli


def test_versions_table_newest_first_with_the_current_one_marked(evolved: Cli) -> None:
    lines = succeeded(evolved("agents", "versions", "scout")).splitlines()
    assert lines[0].split() == ["VERSION", "NAME", "ROLE", "MODEL", "BY", "SAVED", "NOTE"]
    assert set(lines[1]) <= {"-", " "}
    assert [re.split(r"\s{2,}", line)[0] for line in lines[2:]] == ["v3 *", "v2", "v1"]
    assert re.split(r"\s{2,}", lines[2])[1:4] == ["scout", "Senior scout", "gpt-4o-mini"]
    assert re.split(r"\s{2,}", lines[4])[1:5] == ["scout", "Scout", "offline", "user"]


def test_versions_json_by_name_or_id(evolved: Cli) -> None:
    versions = as_json(evolved("agents", "versions", "scout", "--json"))
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["role"] for v in versions] == ["Senior scout", "Senior scout", "Scout"]
    by_id = as_json(evolved("agents", "versions", versions[0]["agent_id"], "--json"))
    assert by_id == versions


def test_diff_prints_changed_fields_and_the_instructions_diff(evolved: Cli) -> None:
    out = succeeded(evolved("agents", "diff", "scout", "1", "v3"))
    assert out.splitlines() == [
        "role: 'Scout' -> 'Senior scout'",
        "instructions:",
        "--- v1/instructions",
        "+++ v3/instructions",
        "@@ -1 +1,2 @@",
        " Find.",
        "+Cite.",
        "model: 'offline' -> 'gpt-4o-mini'",
    ]


def test_diff_json_and_identical_versions(evolved: Cli) -> None:
    diff = as_json(evolved("agents", "diff", "scout", "2", "3", "--json"))
    assert (diff["from_version"], diff["to_version"]) == (2, 3)
    assert list(diff["changes"]) == ["instructions", "model"]
    assert diff["changes"]["model"] == {
        "old": "offline",
        "new": "gpt-4o-mini",
        "unified_diff": None,
    }
    same = succeeded(evolved("agents", "diff", "scout", "2", "2"))
    assert same == "v2 and v2 define the same agent\n"


@pytest.mark.parametrize(
    ("args", "exit_code", "needle"),
    [
        (("versions", "nobody"), 3, "agent nobody not found"),
        (("diff", "scout", "1", "7"), 3, "not found"),
        (("diff", "scout", "one", "2"), 2, "'one' is not a version number"),
        (("rollback", "scout", "0"), 2, "'0' is not a version number"),
        (("rollback", "scout", "v-1"), 2, "'v-1' is not a version number"),
        (("rollback", "scout", "99999999999"), 3, "not found"),
        (("rollback", "nobody", "1"), 3, "agent nobody not found"),
    ],
)
def test_bad_input_is_one_error_line(
    evolved: Cli, args: tuple[str, ...], exit_code: int, needle: str
) -> None:
    line = failed(evolved("agents", *args), exit_code)
    assert needle in line
    # Nothing changed.
    assert [v["version"] for v in as_json(evolved("agents", "versions", "scout", "--json"))] == [
        3,
        2,
        1,
    ]


def test_rollback_makes_a_new_version(fresh_evolved: Cli) -> None:
    out = succeeded(fresh_evolved("agents", "rollback", "scout", "1"))
    assert out == "rolled agent scout back to v1, now v4\n"
    versions = as_json(fresh_evolved("agents", "versions", "scout", "--json"))
    assert [(v["version"], v["note"]) for v in versions] == [
        (4, "rollback to v1"),
        (3, None),
        (2, None),
        (1, None),
    ]
    (scout,) = [
        a for a in as_json(fresh_evolved("agents", "list", "--json")) if a["name"] == "scout"
    ]
    assert (scout["role"], scout["model"], scout["instructions"]) == ("Scout", "offline", "Find.")
    again = succeeded(fresh_evolved("agents", "rollback", "scout", "v1"))
    assert again == "agent scout already has the definition of v1\n"
    rolled = as_json(fresh_evolved("agents", "rollback", "scout", "3", "--json"))
    assert (rolled["version"], rolled["role"]) == (5, "Senior scout")


def test_rollback_to_a_name_now_taken_fails_cleanly(fresh_evolved: Cli) -> None:
    db = open_database(load_settings(data_dir=fresh_evolved.data_dir, secret_key="x" * 48))
    try:
        with db.transaction() as session:
            ranger = find_agent_by_name(session, "ranger")
            scout = find_agent_by_name(session, "scout")
            assert ranger is not None and scout is not None
            actor = Actor.user()
            update_agent(session, scout.agent_id, AgentUpdate(name="lookout"), actor=actor)
            update_agent(session, ranger.agent_id, AgentUpdate(name="scout"), actor=actor)
    finally:
        db.dispose()
    line = failed(fresh_evolved("agents", "rollback", "lookout", "1"), 4)
    assert "'scout' now belongs to another agent" in line
    versions = as_json(fresh_evolved("agents", "versions", "lookout", "--json"))
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
