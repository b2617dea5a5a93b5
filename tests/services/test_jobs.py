"""The job queue: rows claimed once, progress and report on the row, a dead consumer's job
marked failed by its lease (a real consumer process, killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.job_queue import HANDLERS, JobFailed, enqueue, handler
from app.services import job_rows as rows
from app.services import reference_data
from models import BackgroundJob
from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def echo_handler():
    """A handler that records what it was given (a test task, removed afterwards)."""
    seen: list = []

    @handler("echo")
    def echo(ctx):
        seen.append((ctx.job_id, ctx.params, ctx.payload))
        ctx.report["half"] = True
        ctx.progress(1, 2, force=True)
        if ctx.params.get("fail"):
            raise JobFailed("第 3 行「单位」：火星大学不存在")
        return "完成", {"rows": 2}

    yield seen
    HANDLERS.pop("echo", None)


def test_a_queued_job_runs_after_the_commit_with_its_row(app, session, echo_handler):
    job = enqueue("echo", session=session, total=2, payload=b"\x00bytes", n=7)
    assert echo_handler == []  # nothing runs before the row is committed
    session.commit()
    assert echo_handler == [(job.id, {"task": "echo", "n": 7}, b"\x00bytes")]
    session.expire_all()
    row = session.get(BackgroundJob, job.id)
    assert (row.status, row.message, row.report, row.done) == ("done", "完成", {"rows": 2}, 1)
    assert row.worker and row.finished_at is not None


def test_a_failing_job_keeps_its_message_and_report(app, session, echo_handler):
    job = enqueue("echo", session=session, fail=True)
    session.commit()
    session.expire_all()
    row = session.get(BackgroundJob, job.id)
    assert row.status == "failed" and "火星大学" in row.message
    assert row.report == {"half": True}  # what it had written before it failed


def test_a_rolled_back_job_is_never_queued(app, session, echo_handler):
    enqueue("echo", session=session)
    session.rollback()
    assert echo_handler == []
    assert session.scalars(select(BackgroundJob)).all() == []


def test_a_job_is_claimed_once(app, session):
    job = rows.create(session, "x")
    session.commit()
    assert rows.claim(session, job.id, "host-a:1")
    assert not rows.claim(session, job.id, "host-b:2")  # a second host never runs it too
    session.commit()
    session.expire_all()
    assert session.get(BackgroundJob, job.id).worker == "host-a:1"


def test_unknown_task_is_refused(app, session):
    with pytest.raises(KeyError):
        enqueue("no-such-task", session=session)


CONSUMER = textwrap.dedent("""
    import sys, time
    from app import create_app
    from app.job_queue import handler, run_consumer

    app = create_app({"DATABASE_URL": sys.argv[1], "SEMANTIC_ENABLED": False,
                      "JOBS_DIR": sys.argv[2], "JOB_HEARTBEAT_SECONDS": 0.2})

    @handler("wait")
    def wait(ctx):
        ctx.report["rows_checked"] = 3
        ctx.progress(3, 10, force=True)
        time.sleep(600)  # killed long before

    run_consumer(app, 1)
""")


def test_a_job_whose_consumer_is_killed_is_marked_failed_with_its_report(
        migrated, tmp_path):
    if migrated.engine.dialect.name != "sqlite":
        pytest.skip("the consumer subprocess shares the SQLite queue file")
    config = {**TEST_CONFIG, "DATABASE_URL": migrated.url, "JOBS_REAL_QUEUE": True,
              "JOBS_DIR": str(tmp_path), "JOB_LEASE_SECONDS": 1.0}
    app = create_app(config)
    handler("wait")(lambda ctx: ("", None))  # the name must be known where it is queued
    proc = subprocess.Popen([sys.executable, "-c", CONSUMER, migrated.url, str(tmp_path)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with app.app_context():
            with app.extensions["db"].unit_of_work() as s:
                job_id = enqueue("wait", session=s, total=10).id
            db = app.extensions["db"]
            deadline = time.monotonic() + 60  # a guard against hanging, not a speed test
            beats = set()
            while time.monotonic() < deadline and len(beats) < 3:
                with db.Session() as s:
                    row = s.get(BackgroundJob, job_id)
                    if row.status == "running" and row.done == 3:
                        beats.add(row.heartbeat_at)
                time.sleep(0.1)
            assert len(beats) >= 3, "the consumer did not run the job with a heartbeat"
            assert row.worker.endswith(f":{proc.pid}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            with db.unit_of_work() as s:
                assert rows.reap_stale(s, 60.0) == 0  # its lease has not run out yet
            time.sleep(1.2)
            with db.unit_of_work() as s:
                assert rows.reap_stale(s, 1.0) == 1
            with db.Session() as s:
                row = s.get(BackgroundJob, job_id)
                assert row.status == "failed" and "处理进程已退出" in row.message
                assert row.report == {"rows_checked": 3} and row.done == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        HANDLERS.pop("wait", None)
        with app.extensions["db"].Session.begin() as s:
            reference_data.clear_all(s)
        app.extensions["db"].engine.dispose()
