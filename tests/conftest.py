"""Fixtures: a real database (temporary SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from app.db import Database
from app.services import reference_data

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "artifacts"


def _fresh(url: str) -> Database:
    db = Database(url)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    return db


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Return the URL of the test database."""
    return os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )


@pytest.fixture(scope="session")
def migrated(database_url: str) -> Database:
    """Migrate an empty test database to head once per run."""
    db = _fresh(database_url)
    db.upgrade("head")
    yield db
    db.engine.dispose()


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
