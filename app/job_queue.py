"""The job queue: Huey tasks run by a separate consumer process, never by gunicorn workers.

Storage: Huey's SQLite storage under the instance folder (one file per database) by default;
Redis when ``REDIS_URL`` is set (several hosts share one queue). Tests run tasks at once in
the calling thread (``immediate``). The consumer is ``flask --app app jobs-worker``, started
and stopped with gunicorn by ``scripts/run``.

One Huey task, ``run_job(job_id, payload)``, runs every kind of job; what it does is the
handler registered for ``params["task"]`` of the job's :class:`models.BackgroundJob` row:

* ``embed``: semantic vectors for pending experts (profiles first), items and demands;
* ``import``: a big import file (the bytes travel in the payload, not the database);
* ``plan_meeting``: a meeting plan (``app.services.meetings.run_plan_job``);
* ``index``: rebuild the expert index in the consumer and move the data version.

A row is claimed by one consumer only (:func:`app.services.job_rows.claim`), its progress and
report are written to the row, and a heartbeat thread in the consumer keeps its lease: a job
whose consumer dies is marked failed by the next consumer's check or by the page polling it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy import event
from sqlalchemy.orm import Session

from .services import job_rows as rows

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a handler gets: the app, its job row id, parameters, payload and a progress hook."""

    app: Flask
    job_id: int
    params: dict[str, Any]
    payload: Any
    report: dict[str, Any] = field(default_factory=dict)
    done: int | None = None  # the last progress reported (written at the end if throttled)
    _last: float = 0.0

    @property
    def db(self) -> Any:
        """Return the app's :class:`app.db.Database`."""
        return self.app.extensions["db"]

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress (at most once a second), with the report written so far."""
        self.done = done
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        try:  # a short separate transaction: progress is never worth failing the job
            with self.db.unit_of_work() as session:
                rows.progress(session, self.job_id, done, total, self.report or None)
        except Exception:
            log.warning("job progress update failed", exc_info=True)


#: name -> handler(ctx) returning (message, report or None) on success; raising marks it failed.
Handler = Callable[[JobContext], tuple[str, dict[str, Any] | None]]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a task name."""
    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn
    return register


def worker_id() -> str:
    """Return this process's name in job rows: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobFailed(Exception):
    """A handler's expected failure: its message (Chinese) and report go to the job row."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.report = report


class JobStopped(Exception):
    """The consumer is shutting down: the handler stopped between two batches (resumable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Consumer(Consumer):
    """Huey's consumer that also tells long handlers to stop when a shutdown signal arrives."""

    def __init__(self, huey: Any, stopping: threading.Event, **options: Any) -> None:
        super().__init__(huey, **options)
        self._stopping = stopping

    def _handle_signal(self, signum: int, frame: Any) -> None:
        self._stopping.set()
        super()._handle_signal(signum, frame)


class JobQueue:
    """The app's Huey instance, its task, and the set of jobs this process is running."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.huey = make_huey(app)
        self.running: set[int] = set()
        self.stopping = threading.Event()  # set when the consumer is asked to shut down
        self._lock = threading.Lock()
        self.task = self.huey.task(name="run_job", retries=0)(self.run_job)
        self.huey.periodic_task(crontab(minute="*"), name="housekeeping")(self.housekeeping)

    def push(self, job_id: int, payload: Any = None) -> None:
        """Put a committed job row on the queue (runs at once in tests)."""
        self.task(job_id, payload)

    def run_job(self, job_id: int, payload: Any = None) -> None:
        """Claim a job row and run its handler; record the outcome on the row."""
        app = self.app
        db = app.extensions["db"]
        with app.app_context():
            with db.unit_of_work() as session:
                if not rows.claim(session, job_id, worker_id()):
                    return  # another consumer has it (or it was reaped)
                from models import BackgroundJob

                params = dict(session.get(BackgroundJob, job_id).params or {})
            with self._lock:
                self.running.add(job_id)
            ctx = JobContext(app, job_id, params, payload)
            try:
                fn = HANDLERS[params.get("task", "")]
                message, report = fn(ctx)
                status = "done"
            except JobFailed as exc:
                status, message, report = "failed", exc.message, exc.report
            except JobStopped as exc:
                status, message, report = "stopped", exc.message, None
            except Exception as exc:
                log.exception("background job failed", extra={"job": job_id})
                status = "failed"
                message, report = f"后台任务失败：{type(exc).__name__}: {exc}", None
            finally:
                with self._lock:
                    self.running.discard(job_id)
            with db.unit_of_work() as session:
                rows.finish(session, job_id, status, message,
                            report if report is not None else (ctx.report or None),
                            done=ctx.done)
            log.info("job finished", extra={"job": job_id, "status": status,
                                            "worker": worker_id()})

    def beat(self) -> None:
        """Refresh the lease of this process's running jobs and reap dead consumers' jobs."""
        with self._lock:
            running = list(self.running)
        with self.app.extensions["db"].unit_of_work() as session:
            rows.heartbeat(session, worker_id(), running)
            rows.reap_stale(session, self.lease_seconds)

    @property
    def lease_seconds(self) -> float:
        """Return the lease of a running job (seconds without heartbeat before it is dead)."""
        return float(self.app.config.get("JOB_LEASE_SECONDS", rows.LEASE_SECONDS))

    def housekeeping(self) -> None:
        """Every minute in the consumer: queue the embedding job when rows wait for vectors."""
        from .job_handlers import queue_embedding_if_pending

        queue_embedding_if_pending(self.app)


def make_huey(app: Flask) -> Any:
    """Return the Huey instance of an app: Redis if configured, else SQLite; immediate in tests."""
    url = app.config.get("DATABASE_URL", "")
    name = "liaison-" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:12]
    if app.config.get("TESTING") and not app.config.get("JOBS_REAL_QUEUE"):
        return SqliteHuey(name, filename=":memory:", immediate=True)
    redis_url = app.config.get("REDIS_URL") or os.environ.get("REDIS_URL")
    if redis_url:
        return RedisHuey(name, url=redis_url)
    folder = Path(app.config.get("JOBS_DIR") or app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(folder / f"{name}-queue.db"))


def queue(app: Flask | None = None) -> JobQueue:
    """Return the app's job queue."""
    return (app or current_app).extensions["jobs"]


def enqueue(task: str, *, session: Session | None = None, kind: str | None = None,
            total: int = 0, message: str | None = None, payload: Any = None,
            **params: Any) -> Any:
    """Create a queued job row and put it on the queue once the row is committed.

    In a request the row goes in the request's unit of work and is pushed after its commit
    (:func:`app.db.after_commit`); elsewhere pass ``session``: it is pushed when that session
    commits. ``params`` (JSON) are stored on the row; ``payload`` (bytes ...) travels with the
    queued task only. Returns the row.
    """
    if task not in HANDLERS:
        raise KeyError(f"unknown job task {task!r}")
    q = queue()
    in_request = session is None
    if in_request:
        from .db import get_session

        session = get_session()
    job = rows.create(session, kind or task, total=total, message=message,
                      params={"task": task, **params})
    job_id = job.id
    if in_request:
        from .db import after_commit

        after_commit(lambda: q.push(job_id, payload))
    else:
        event.listen(session, "after_commit", lambda _s: q.push(job_id, payload), once=True)
    return job


def run_consumer(app: Flask, workers: int) -> None:
    """Run the consumer in this process until SIGINT/SIGTERM, with the heartbeat thread."""
    q = queue(app)
    stop = threading.Event()
    interval = float(app.config.get("JOB_HEARTBEAT_SECONDS", rows.HEARTBEAT_SECONDS))

    def beat() -> None:
        while not stop.wait(interval):
            try:
                q.beat()
            except Exception:  # noqa: BLE001 - the heartbeat must survive a bad moment
                log.warning("job heartbeat failed", exc_info=True)

    threading.Thread(target=beat, daemon=True, name="job-heartbeat").start()
    from .job_handlers import follow_index

    threading.Thread(target=follow_index, args=(app, stop), daemon=True,
                     name="index-follow").start()  # this host's base follows the newest
    try:
        q.beat()
        q.housekeeping()  # vectors from the first minute: do not wait for the first tick
    except Exception:
        log.exception("first housekeeping failed")
    # SIGTERM (scripts/run stopping) lets running jobs end their batch: at most a minute
    consumer = _Consumer(q.huey, q.stopping, workers=workers, worker_type="thread",
                         graceful_signal="TERM", shutdown_timeout=60)
    try:
        consumer.run()
    finally:
        stop.set()


@click.command("jobs-worker")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True)
def jobs_worker_command(workers: int) -> None:
    """Run the background job consumer (embedding, imports, meeting plans, index builds)."""
    from flask import current_app as app

    run_consumer(app._get_current_object(), workers)


def embed_after_writes(app: Flask) -> None:
    """Queue the embedding job once a commit has written rows that lost their vector.

    Experts (profile first) are embedded by the consumer within seconds of the save; the job is
    queued only when none is queued or running (that one picks the new rows up).
    """
    from models import Demand, Expert, ExpertItem

    db = app.extensions["db"]

    @event.listens_for(db.Session, "after_flush")
    def _mark(session: Session, _context: Any) -> None:
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Expert | ExpertItem | Demand) and obj.vector is None:
                session.info["embed_wanted"] = True
                return

    @event.listens_for(db.Session, "after_commit")
    def _queue(session: Session) -> None:
        if session.info.pop("embed_wanted", False):
            try:
                from .job_handlers import queue_embedding

                queue_embedding(app)
            except Exception:  # noqa: BLE001 - the write is committed; the minute tick retries
                log.warning("could not queue the embedding job", exc_info=True)

    @event.listens_for(db.Session, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop("embed_wanted", None)


@click.command("jobs-enqueue")
@click.argument("task", type=click.Choice(["embed", "index"]))
@click.option("--count", type=click.IntRange(1, 100), default=1, show_default=True)
def jobs_enqueue_command(task: str, count: int) -> None:
    """Queue background jobs (an index build, the embedding job) for the consumers."""
    from flask import current_app as app

    ids = []
    for _ in range(count):
        with app.extensions["db"].unit_of_work() as session:
            ids.append(enqueue(task, session=session,
                               kind="embedding" if task == "embed" else task).id)
    click.echo(" ".join(map(str, ids)))


def init_app(app: Flask) -> None:
    """Attach the job queue and the consumer command; load the task handlers."""
    app.extensions["jobs"] = JobQueue(app)
    app.cli.add_command(jobs_worker_command)
    app.cli.add_command(jobs_enqueue_command)
    from . import job_handlers  # noqa: F401 - registers the handlers

    if app.config.get("SEMANTIC_ENABLED") and app.config.get(
            "EMBED_AT_WRITE", not app.config.get("TESTING")):
        embed_after_writes(app)
