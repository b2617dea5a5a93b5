"""Planning as a background job: the request saves a draft meeting and a job row, the job plans.

Submitting a plan or a re-plan writes its operation-log row (编排对接会 / 重新编排) here.

Progress and the outcome live in the :class:`models.BackgroundJob` row (kind
``meeting_plan``), so any worker can answer the progress poll. The meeting's parameters hold the
job's id (``params["job_id"]``); a refused plan leaves the draft with ``params["plan_error"]``
and nothing else written. The work runs as the job queue's ``plan_meeting`` task
(app/job_handlers.py), which calls :func:`run_plan_job` in the consumer process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app import clock
from app.errors import Conflict, DomainError
from app.services.audit import record
from app.services.meetings.inputs import PlanInput
from app.services.meetings.organiser_checks import check_editable, check_organiser
from app.services.meetings.plan import (
    PLAN_STEPS,
    check_plan_input,
    compute_plan,
    meeting_demands,
    new_meeting,
    replan,
    write_plan,
)
from models import BackgroundJob, MatchmakingMeeting, User

log = logging.getLogger(__name__)

JOB_KIND = "meeting_plan"
UnitOfWork = Callable[[], AbstractContextManager[Session]]


def submit_plan(session: Session, user: Any, inp: PlanInput) -> tuple[MatchmakingMeeting, int]:
    """Check the form, save a draft meeting and a queued job row; return them (flushed).

    The caller starts the job once the request has committed (``app.db.after_commit``).
    """
    demands = check_plan_input(session, user, inp)
    meeting = new_meeting(user, inp, demands)
    job = BackgroundJob(kind=JOB_KIND, status="queued", total=len(PLAN_STEPS), done=0,
                        message="排队中")
    session.add_all([meeting, job])
    session.flush()
    meeting.params = {**meeting.params, "job_id": job.id}
    job.params = _task(meeting, user)
    session.flush()
    record(session, user, "meeting.plan", "meeting", meeting.id,
           after={"需求数": len(meeting.params["demand_ids"]), "后台任务": job.id})
    return meeting, job.id


def _task(meeting: MatchmakingMeeting, user: Any) -> dict[str, Any]:
    """Return what the job queue's ``plan_meeting`` task needs to run this plan."""
    return {"task": "plan_meeting", "meeting_id": meeting.id, "user_id": user.id}


def submit_replan(session: Session, user: Any, meeting: MatchmakingMeeting) -> int:
    """Queue a re-plan of a saved meeting (checked now, computed by the job); return the job id."""
    check_organiser(user)
    check_editable(meeting)
    job = job_of(session, meeting)
    if job is not None and job.status in ("queued", "running"):
        raise Conflict("该对接会正在规划中，请等待当前规划完成。", field="status")
    job = BackgroundJob(kind=JOB_KIND, status="queued", total=len(PLAN_STEPS), done=0,
                        message="排队中", params=_task(meeting, user))
    session.add(job)
    session.flush()
    params = {k: v for k, v in meeting.params.items() if k != "plan_error"}
    meeting.params = {**params, "job_id": job.id}
    session.flush()
    record(session, user, "meeting.replan", "meeting", meeting.id, after={"后台任务": job.id})
    return job.id


def job_of(session: Session, meeting: MatchmakingMeeting) -> BackgroundJob | None:
    """Return the planning job of a meeting, if it has one."""
    job_id = (meeting.params or {}).get("job_id")
    return session.get(BackgroundJob, job_id) if job_id else None


def _set(unit_of_work: UnitOfWork, job_id: int, **values: Any) -> None:
    with unit_of_work() as session:
        session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(**values))


def run_plan_job(unit_of_work: UnitOfWork, meeting_id: int, job_id: int, user_id: int,
                 index: Any = None) -> None:
    """Plan a draft meeting; record progress, then done or the refusal, in the job row.

    ``index`` has ``get(session)`` returning the search snapshot (the app's index holder);
    ``None`` loads it the default way (needs an application context).
    """
    def progress(done: int, message: str) -> None:
        _set(unit_of_work, job_id, status="running", done=done, message=message)

    try:
        with unit_of_work() as session:
            meeting = session.get(MatchmakingMeeting, meeting_id)
            user = session.get(User, user_id)
            if meeting is None or user is None:
                raise DomainError("对接会或用户已不存在。")
            snapshot = index.get(session) if index is not None else None
            if meeting.status == "draft":
                demands = meeting_demands(session, meeting)
                ctx, plan, assignment = compute_plan(session, meeting, demands,
                                                     snapshot=snapshot, progress=progress)
                write_plan(session, ctx, plan, assignment, progress=progress)
                message = f"已生成 {len(meeting.sessions)} 个分场"
            else:
                notes = replan(session, user, meeting, snapshot=snapshot, progress=progress)
                message = "已重新分场：锁定的分场、需求和专家席位保持不变。" + "".join(notes)
            # the job row is written by this unit of work, so "done" and the plan commit together
            session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(
                status="done", done=len(PLAN_STEPS), finished_at=clock.now(),
                message=message[:500]))
    except DomainError as exc:
        _refused(unit_of_work, meeting_id, job_id, exc.message, exc.field)
    except Exception:  # the page must not poll forever
        log.exception("meeting plan job %s failed", job_id)
        _refused(unit_of_work, meeting_id, job_id,
                 "规划失败：服务器内部错误，方案未生成，请稍后重试。", None)


def _refused(unit_of_work: UnitOfWork, meeting_id: int, job_id: int, message: str,
             field: str | None) -> None:
    with unit_of_work() as session:
        meeting = session.get(MatchmakingMeeting, meeting_id)
        if meeting is not None:
            meeting.params = {**meeting.params, "plan_error": {"message": message,
                                                               "field": field}}
        session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id).values(
            status="failed", finished_at=clock.now(), message=message[:500]))
