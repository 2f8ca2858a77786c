"""Browser tests: the real server (`missionctl up`: API, worker and scheduler on a fresh SQLite
database with the demo team) driven in the system Chromium through pytest-playwright.

One server per test process (a session fixture); the tests live in one module, so under
`pytest -n 2 --dist loadfile` they share one worker and one server. The dashboard must have been
built (`make ui`, which `make test` runs first); Chromium must be installed (`make chromium`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from missionctl.web.ui import UI_DIST

CHROMIUM = os.environ.get("MISSIONCTL_TEST_CHROMIUM", "/usr/lib/chromium/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "ui" / "screenshots"
ADMIN_EMAIL = "admin@missionctl.local"
VIEWER_EMAIL = "viewer@example.com"
VIEWER_PASSWORD = "viewer password 123"


class ServerProcess:
    """`missionctl up` in a child process, on a fixed port and data directory."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir / "server.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MISSIONCTL_")}
        self.env |= {
            "MISSIONCTL_DATA_DIR": str(data_dir),
            "MISSIONCTL_HOST": "127.0.0.1",
            "MISSIONCTL_PORT": str(port),
            "MISSIONCTL_LOG_LEVEL": "warning",
            "MISSIONCTL_RATE_LIMIT_AUTH": "1000",
            "MISSIONCTL_WORKER_CONCURRENCY": "2",
            "MISSIONCTL_SHUTDOWN_GRACE_SECONDS": "2",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def missionctl(self, *args: str, stdin: bytes = b"") -> None:
        """Run a CLI command on the same data directory (the server may be up or down)."""
        subprocess.run(
            [str(Path(sys.executable).parent / "missionctl"), *args],
            input=stdin,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "missionctl"), "up"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not become ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@dataclass(frozen=True)
class Dashboard:
    """The server under test and the people who sign in to it."""

    server: ServerProcess
    admin_password: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @contextmanager
    def api(self, email: str = ADMIN_EMAIL, password: str | None = None) -> Iterator[httpx.Client]:
        """An API client signed in as this person (the admin by default)."""
        with httpx.Client(base_url=f"{self.url}/api/v1", timeout=30) as client:
            tokens = client.post(
                "/auth/login", json={"email": email, "password": password or self.admin_password}
            )
            tokens.raise_for_status()
            client.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"
            yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`missionctl up` on a free port with a fresh data directory, and a viewer to sign in as."""
    if not (UI_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make ui` (make test does it first)")
    server = ServerProcess(tmp_path_factory.mktemp("dashboard"), _free_port())
    try:
        server.start()
        match = re.search(r"password: (\S+)", (server.data_dir / "initial-admin.txt").read_text())
        assert match, "the first admin's password file has no password"
        dashboard = Dashboard(server=server, admin_password=match.group(1))
        with dashboard.api() as admin:
            invitation = admin.post(
                "/invitations", json={"email": VIEWER_EMAIL, "role": "viewer"}
            ).json()
            accepted = admin.post(
                "/auth/accept-invitation",
                json={"token": invitation["token"], "password": VIEWER_PASSWORD},
            )
            accepted.raise_for_status()
        yield dashboard
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The system Chromium (never a downloaded browser), headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` (make test does it first)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def base_url(dashboard: Dashboard) -> str:
    """Pages open on the server under test (replaces pytest-playwright's own fixture, whose
    instance-method form pytest deprecates, and warnings are errors here)."""
    return dashboard.url


@pytest.fixture(scope="session")
def browser_context_args(
    browser_context_args: dict[str, Any], dashboard: Dashboard
) -> dict[str, Any]:
    """Every page opens on the server under test, at a laptop's size, in light mode."""
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 860},
        "color_scheme": "light",
    }


# The machine running the suite is often busy (2 cores, the rest of the suite beside us):
# wait longer than Playwright's 5 s before calling something missing.
expect.set_options(timeout=15_000)


@pytest.fixture
def patient_page(page: Page) -> Page:
    """Playwright's page, with a longer timeout for actions (see above)."""
    page.set_default_timeout(20_000)
    return page


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in through the form and wait for the command center."""
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Command center")).to_be_visible()


def sign_in_admin(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, ADMIN_EMAIL, dashboard.admin_password)


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot of the page for the README (ui/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled"
    )
