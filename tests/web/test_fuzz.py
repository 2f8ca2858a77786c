"""Schemathesis walks the whole OpenAPI document against the real server, signed in as an admin.

Valid and invalid inputs alike must get a designed answer: never a 5xx, always a status the
document declares for that operation, in the declared content type, matching its schema.
The document is taken from the app itself (it does not depend on the database); the requests go
over real HTTP to the test server of each backend.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from missionctl.db import Database, make_engine
from missionctl.permissions import Role
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from tests.conftest import Backend, client_for, make_user, reset

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _openapi() -> dict[str, object]:
    app = create_app(load_settings(secret_key="x" * 48), Database(make_engine("sqlite://")))
    return app.openapi()


# The live stream never ends by design; its own tests cover it.
schema = schemathesis.openapi.from_dict(_openapi()).exclude(path="/api/v1/events/stream")


@pytest.fixture
def seeded(server: str, backend: Backend) -> tuple[str, dict[str, str]]:
    """The server's base URL and an admin's headers, with an agent and a task to point at."""
    reset(backend.db)
    _user_id, token = make_user(backend, Role.ADMIN)
    with client_for(server, token) as client:
        writer = client.post("/agents", json={"name": "writer", "role": "Writer"}).json()
        client.post("/tasks", json={"title": "seed", "assignee_ids": [writer["agent_id"]]})
    return server, {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case, seeded: tuple[str, dict[str, str]]) -> None:
    base_url, headers = seeded
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
