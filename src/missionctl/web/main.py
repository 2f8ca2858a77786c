"""App factory for `uvicorn --factory` (used by `missionctl api --workers N`)."""

from __future__ import annotations

from fastapi import FastAPI

from missionctl.bootstrap import configure_logging, open_database
from missionctl.settings import ensure_secret_key, load_settings
from missionctl.web.app import create_app


def app_factory() -> FastAPI:
    """Build the app from the environment's settings; the schema must already be migrated."""
    settings = load_settings()
    configure_logging(settings.log_level)
    ensure_secret_key(settings)
    return create_app(settings, open_database(settings))
