"""Background job rows: the state a job queue task keeps in the database.

A :class:`models.BackgroundJob` row is created when a job is queued (``queued``), claimed by
exactly one consumer (``running``: a conditional update, so two hosts never both run it), kept
alive by that consumer's heartbeat, and finished with its message and full report (``done`` /
``failed``). A running job whose heartbeat is older than the lease is marked ``failed`` by
:func:`reap_stale` — the consumer died — and keeps the progress and report it had written.

No Flask here; the queue itself (Huey) and the consumer process are in :mod:`app.job_queue`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models import BackgroundJob, utcnow

#: A running job whose consumer has not sent a heartbeat for this long is taken for dead.
LEASE_SECONDS = 60.0
#: How often a consumer refreshes the heartbeat of the jobs it runs.
HEARTBEAT_SECONDS = 5.0
DIED_MESSAGE = ("后台任务中断：处理进程已退出（{seconds:.0f} 秒无心跳），"
                "已完成的进度保留，请重新提交。")


def create(session: Session, kind: str, *, total: int = 0, message: str | None = None,
           params: dict[str, Any] | None = None) -> BackgroundJob:
    """Add a queued job row (flushed, so it has an id)."""
    job = BackgroundJob(kind=kind, status="queued", total=total, done=0, message=message,
                        params=params or {})
    session.add(job)
    session.flush()
    return job


def claim(session: Session, job_id: int, worker: str) -> bool:
    """Move a queued job to running for ``worker``; False when someone else has it already."""
    now = utcnow()
    return bool(session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job_id, BackgroundJob.status == "queued")
        .values(status="running", worker=worker, heartbeat_at=now, started_at=now)
        .execution_options(synchronize_session=False)).rowcount)


def progress(session: Session, job_id: int, done: int, total: int | None = None,
             report: dict[str, Any] | None = None) -> None:
    """Record how far a running job is (and, if given, its report so far)."""
    _set(session, job_id, done=done, heartbeat_at=utcnow(), total=total, report=report)


def finish(session: Session, job_id: int, status: str, message: str,
           report: dict[str, Any] | None = None, *, done: int | None = None) -> None:
    """End a job: ``done`` or ``failed``, its message (cut to the column) and its report."""
    _set(session, job_id, status=status, message=message[:500], finished_at=utcnow(),
         report=report, done=done)


def _set(session: Session, job_id: int, **values: Any) -> None:
    """Write the given columns of one job row; a None value leaves its column as it is."""
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id)
                    .values(**{k: v for k, v in values.items() if v is not None})
                    .execution_options(synchronize_session=False))


def heartbeat(session: Session, worker: str, job_ids: list[int]) -> int:
    """Refresh the lease of the jobs this worker runs; return how many rows were touched."""
    if not job_ids:
        return 0
    return session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id.in_(job_ids), BackgroundJob.worker == worker,
               BackgroundJob.status == "running")
        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def reap_stale(session: Session, lease_seconds: float = LEASE_SECONDS,
               job_id: int | None = None) -> int:
    """Mark running jobs without a recent heartbeat as failed, keeping their report.

    Returns how many were marked. ``job_id`` limits the check to one job (a page polling it).
    """
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    stmt = (update(BackgroundJob)
            .where(BackgroundJob.status == "running",
                   or_(BackgroundJob.heartbeat_at.is_(None),
                       BackgroundJob.heartbeat_at < cutoff))
            .values(status="failed", finished_at=utcnow(),
                    message=DIED_MESSAGE.format(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
    if job_id is not None:
        stmt = stmt.where(BackgroundJob.id == job_id)
    return session.execute(stmt).rowcount


def active(session: Session, kind: str,
           statuses: tuple[str, ...] = ("queued", "running")) -> BackgroundJob | None:
    """Return a queued or running job of a kind (to avoid queueing the same work twice)."""
    return session.scalar(select(BackgroundJob).where(
        BackgroundJob.kind == kind, BackgroundJob.status.in_(statuses))
        .order_by(BackgroundJob.id.desc()).limit(1))


def latest(session: Session, kind: str) -> BackgroundJob | None:
    """Return the most recent job of a kind."""
    return session.scalar(select(BackgroundJob).where(BackgroundJob.kind == kind)
                          .order_by(BackgroundJob.id.desc()).limit(1))
