"""Engine and sessions: one unit of work per request, closed at teardown; migrations.

The request commits once: after the view returns a response below 400 the session is committed
(a failure there becomes the 500 page, so nothing is acknowledged that was not written); any
error status or exception rolls it back. Views, services and security code never call
``commit()`` or ``rollback()``; work that must happen only once the data is durable (starting a
background job) is registered with :func:`after_commit`. Scripts, CLI commands and jobs use
:meth:`Database.unit_of_work`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, Response, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite connections are cheap and writers queue on the file lock: a pool as large as the
        # threads that may wait on it, so a burst of writers never starves for a connection.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Yield a new session; commit it on success, roll it back on error, always close it."""
        session = self.Session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def alembic_config(self) -> AlembicConfig:
        """Return an Alembic configuration pointing at this database."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the database up to a revision."""
        command.upgrade(self.alembic_config(), revision)

    def downgrade(self, revision: str = "base") -> None:
        """Migrate the database down to a revision."""
        command.downgrade(self.alembic_config(), revision)


def init_app(app: Flask) -> Database:
    """Attach the database to the app: commit each request once, close its session at teardown."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions["db"] = database

    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is None:
            return response
        if response.status_code < 400 or (g.get("keep_on_refusal")
                                           and response.status_code < 500):
            session.commit()
            for callback in g.pop("after_commit", []):
                callback()
        else:
            session.rollback()
            g.pop("after_commit", None)
        return response

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        g.pop("after_commit", None)
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    return database


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once this request's unit of work has been committed (never on error)."""
    g.setdefault("after_commit", []).append(callback)


@contextmanager
def attempt() -> Iterator[Session]:
    """Run a use case in a savepoint: if it raises, its writes are undone and the error goes on.

    For views that answer a refused action with a redirect (a 3xx commits the request).
    """
    session = get_session()
    with session.begin_nested():
        yield session


def keep_on_refusal() -> None:
    """Commit this request's work even though it answers 4xx (a draft kept, submission refused)."""
    g.keep_on_refusal = True


def flush() -> None:
    """Send this request's pending changes to the database (ids, constraint checks) uncommitted."""
    get_session().flush()


def get_db() -> Database:
    """Return the current app's database."""
    return current_app.extensions["db"]


def get_session() -> Session:
    """Return this request's session, creating it on first use."""
    if "db_session" not in g:
        g.db_session = get_db().Session()
    return g.db_session
