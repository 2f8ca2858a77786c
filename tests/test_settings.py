"""Settings: defaults, MISSIONCTL_* variables, .env files, one-line errors, the secret key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from missionctl.settings import (
    SECRET_KEY_FILE,
    SettingsError,
    ensure_data_dir,
    ensure_secret_key,
    load_settings,
)

KEY = "k" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No inherited MISSIONCTL_* variable and no stray .env: each test starts from nothing."""
    for name in list(os.environ):
        if name.upper().startswith("MISSIONCTL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_error(excinfo: pytest.ExceptionInfo[SettingsError], variable: str) -> str:
    """The message, checked to be a single line that names the variable."""
    message = str(excinfo.value)
    assert "\n" not in message
    assert variable in message, message
    return message


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == Path(".missionctl")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.database_url is None
    assert settings.secret_key is None
    assert settings.log_level == "info"
    database = tmp_path.resolve() / ".missionctl" / "missionctl.db"
    assert settings.resolved_database_url == f"sqlite:///{database}"
    assert settings.is_sqlite


def test_loading_the_settings_creates_nothing(tmp_path: Path) -> None:
    load_settings()
    assert list(tmp_path.iterdir()) == []


def test_environment_variables_with_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MISSIONCTL_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MISSIONCTL_HOST", "localhost")
    monkeypatch.setenv("MISSIONCTL_PORT", "9123")
    monkeypatch.setenv("MISSIONCTL_SECRET_KEY", KEY)
    monkeypatch.setenv("MISSIONCTL_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MISSIONCTL_MAX_ATTACHMENT_BYTES", "1234")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "state"
    assert settings.host == "localhost"
    assert settings.port == 9123
    assert settings.secret_key == KEY
    assert settings.log_level == "debug"
    assert settings.max_attachment_bytes == 1234
    database = (tmp_path / "state" / "missionctl.db").resolve()
    assert settings.resolved_database_url == f"sqlite:///{database}"


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("DATABASE_URL", "mysql://elsewhere/db")
    settings = load_settings()
    assert settings.port == 8000
    assert settings.database_url is None


def test_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONCTL_PORT", "9123")
    assert load_settings(port=9200).port == 9200


def test_a_dotenv_file_in_the_working_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("MISSIONCTL_PORT=9300\nMISSIONCTL_LOG_LEVEL=warning\n")
    settings = load_settings()
    assert settings.port == 9300
    assert settings.log_level == "warning"
    monkeypatch.setenv("MISSIONCTL_PORT", "9301")
    assert load_settings().port == 9301  # the real environment wins over .env


def test_a_bad_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MISSIONCTL_PORT=eighty\n")
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    one_line_error(excinfo, "MISSIONCTL_PORT")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://mc:pw@db.internal:5432/mc", "postgresql+psycopg://mc:pw@db.internal:5432/mc"),
        ("postgresql://mc@127.0.0.1/mc", "postgresql+psycopg://mc@127.0.0.1/mc"),
        ("postgresql+psycopg://mc@127.0.0.1/mc", "postgresql+psycopg://mc@127.0.0.1/mc"),
    ],
)
def test_postgres_urls_are_served_by_psycopg_3(given: str, expected: str) -> None:
    settings = load_settings(database_url=given)
    assert settings.database_url == expected
    assert settings.resolved_database_url == expected
    assert not settings.is_sqlite


def test_a_postgres_url_from_the_environment_is_rewritten_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISSIONCTL_DATABASE_URL", "postgres://mc@127.0.0.1/mc")
    assert load_settings().resolved_database_url == "postgresql+psycopg://mc@127.0.0.1/mc"


def test_an_explicit_sqlite_url_is_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    settings = load_settings(database_url=url)
    assert settings.resolved_database_url == url
    assert settings.is_sqlite


def test_an_empty_database_url_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONCTL_DATABASE_URL", "")
    settings = load_settings()
    assert settings.database_url is None
    assert settings.resolved_database_url.endswith("/.missionctl/missionctl.db")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MISSIONCTL_PORT", "0"),
        ("MISSIONCTL_PORT", "70000"),
        ("MISSIONCTL_PORT", "abc"),
        ("MISSIONCTL_DATABASE_URL", "mysql://mc@127.0.0.1/mc"),
        ("MISSIONCTL_DATABASE_URL", "127.0.0.1:5432/mc"),
        ("MISSIONCTL_SECRET_KEY", "too-short"),
        ("MISSIONCTL_LOG_LEVEL", "verbose"),
        ("MISSIONCTL_HOST", ""),
        ("MISSIONCTL_MAX_ATTACHMENT_BYTES", "0"),
        ("MISSIONCTL_DB_POOL_SIZE", "500"),
    ],
)
def test_a_bad_variable_fails_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = one_line_error(excinfo, variable)
    assert message.startswith(f"invalid setting {variable}: ")


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("port", 0, "MISSIONCTL_PORT"),
        ("port", 70000, "MISSIONCTL_PORT"),
        ("port", "abc", "MISSIONCTL_PORT"),
        ("database_url", "oracle://scott@127.0.0.1/orcl", "MISSIONCTL_DATABASE_URL"),
        ("secret_key", "x" * 31, "MISSIONCTL_SECRET_KEY"),
        ("log_level", "trace", "MISSIONCTL_LOG_LEVEL"),
    ],
)
def test_a_bad_override_names_its_variable(field: str, value: object, variable: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(**{field: value})
    one_line_error(excinfo, variable)


@pytest.mark.parametrize("url", ["sqlitecloud://127.0.0.1/mc.db", "postgresqlx://mc@127.0.0.1/mc"])
def test_a_scheme_that_only_starts_like_a_known_one_is_refused(url: str) -> None:
    # Neither is SQLite nor PostgreSQL; accepting them defers the failure to the first connection
    # (and `sqlitecloud` would even be treated as SQLite by `is_sqlite`).
    with pytest.raises(SettingsError) as excinfo:
        load_settings(database_url=url)
    one_line_error(excinfo, "MISSIONCTL_DATABASE_URL")


def test_the_boundaries_of_the_port_are_accepted() -> None:
    assert load_settings(port=1).port == 1
    assert load_settings(port=65535).port == 65535


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 9000  # type: ignore[misc]


def test_ensure_data_dir_creates_nested_directories(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "a" / "b")
    assert ensure_data_dir(settings) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    assert ensure_data_dir(settings) == tmp_path / "a" / "b"  # again: no error


def test_an_unusable_data_dir_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError) as excinfo:
        ensure_data_dir(load_settings(data_dir=blocker / "data"))
    one_line_error(excinfo, "MISSIONCTL_DATA_DIR")


def test_the_secret_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings(data_dir=data_dir)
    key = ensure_secret_key(settings)
    assert len(key) >= 32
    path = data_dir / SECRET_KEY_FILE
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_secret_key(settings) == key
    assert ensure_secret_key(load_settings(data_dir=data_dir)) == key


def test_each_data_dir_gets_its_own_key(tmp_path: Path) -> None:
    first = ensure_secret_key(load_settings(data_dir=tmp_path / "one"))
    second = ensure_secret_key(load_settings(data_dir=tmp_path / "two"))
    assert first != second


def test_a_configured_secret_key_is_used_and_no_file_written(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert ensure_secret_key(load_settings(data_dir=data_dir, secret_key=KEY)) == KEY
    assert not (data_dir / SECRET_KEY_FILE).exists()


def test_a_configured_key_beats_an_existing_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    generated = ensure_secret_key(load_settings(data_dir=data_dir))
    assert ensure_secret_key(load_settings(data_dir=data_dir, secret_key=KEY)) == KEY
    assert (data_dir / SECRET_KEY_FILE).read_text().strip() == generated


def test_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / SECRET_KEY_FILE).write_text("short\n")
    with pytest.raises(SettingsError) as excinfo:
        ensure_secret_key(load_settings(data_dir=data_dir))
    assert "\n" not in str(excinfo.value)
    assert SECRET_KEY_FILE in str(excinfo.value)
