"""Fixtures: a real database (temporary SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.db import Database
from app.services import reference_data

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "artifacts"


def _fresh(url: str) -> tuple[Database, str | None]:
    """Return an empty database for this run, and the name of a PostgreSQL one to drop after.

    On PostgreSQL the run gets its own database beside the one named (``<name>_run_<pid>``), so
    two runs against the same server never clobber each other or the named database's data.
    """
    given = make_url(url)
    if not given.get_backend_name().startswith("postgresql"):
        return Database(url), None
    name = f"{given.database}_run_{os.getpid()}"
    server = create_engine(given, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return Database(given.set(database=name).render_as_string(hide_password=False)), name


def _drop(url: str, name: str | None) -> None:
    if name is None:
        return
    server = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Return the URL of the test database."""
    return os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )


@pytest.fixture(scope="session")
def migrated(database_url: str) -> Database:
    """Migrate an empty test database to head once per run."""
    db, own = _fresh(database_url)
    db.upgrade("head")
    yield db
    db.engine.dispose()
    _drop(database_url, own)


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test",
    "WTF_CSRF_ENABLED": False,
    "SEMANTIC_ENABLED": False,
    "BACKGROUND_JOBS": False,
    "RATELIMIT_ENABLED": False,
}


def app_on(migrated: Database, **config):
    """Yield an app on the migrated test database with `config` over TEST_CONFIG; wipe its rows
    afterwards (the body of every app fixture)."""
    application = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, **config})
    yield application
    with application.extensions["db"].Session.begin() as session:
        reference_data.clear_all(session)
    application.extensions["db"].engine.dispose()


@pytest.fixture
def app(migrated: Database):
    """Return an app on the migrated test database; rows are wiped after each test."""
    yield from app_on(migrated)


@pytest.fixture
def client(app):
    """Return a test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner."""
    return app.test_cli_runner()


def session_on(application):
    """Yield a session of `application` inside its app context; roll back and close after."""
    with application.app_context():
        s = application.extensions["db"].Session()
        yield s
        s.rollback()
        s.close()


@pytest.fixture
def session(app):
    """Return a session on the test database (the test commits what it needs)."""
    yield from session_on(app)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the shared data folder or skip when it is absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present")
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Return the folder where tests keep screenshots and downloads (kept by .ci/run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
