"""Plan a new meeting and re-plan a saved one; planner errors become form errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.services.meetings.context import (
    PlanContext,
    build_context,
    experts_of,
    find_demands,
    key_of,
    plan_session_of,
)
from app.services.meetings.inputs import (
    PlanInput,
)
from app.services.meetings.organiser_checks import (
    check_editable,
    check_organiser,
)
from app.services.meetings.write import (
    apply_plan,
    solve,
)
from matching.planning.plan_records import (
    ExpertAssignment,
    PlanLocks,
    PlanningError,
    SessionPlan,
)
from models import (
    Demand,
    District,
    Industry,
    MatchmakingMeeting,
    TechField,
)

# Which form field a planner error belongs to (PlanningError.code -> field).
ERROR_FIELDS = {
    "no_demands": "demands", "one_demand": "demands", "duplicate": "demands",
    "empty_text": "demands", "limits": "min_demands", "too_many_sessions": "n_sessions",
    "too_few_sessions": "n_sessions", "no_experts": "seats", "seats": "seats",
    "slots": "tables", "locks": "_form", "affinity": "_form", "input": "_form",
}


def planning_error(exc: PlanningError,
                    meeting: MatchmakingMeeting | None = None) -> DomainError:
    field = ERROR_FIELDS.get(exc.code, "_form")
    message = exc.message
    if meeting is not None:  # the planner names saved sessions by key: say 第N场 instead
        for ms in meeting.sessions:
            message = re.sub(rf"(?<![A-Za-z0-9]){key_of(ms)}(?![0-9])", f"第{ms.seq}场", message)
        exc = PlanningError(message, exc.code)
    if exc.code == "limits" and "请把场次数" in exc.message:
        field = "n_sessions"  # "10 项需求分成 2 场无法满足…：请把场次数调到 4–5 之间"
    elif exc.code == "limits" and "专家" in exc.message:
        field = "max_sessions_per_expert"
    return DomainError(exc.message, field=field)


#: Steps of a plan, for the progress bar.
PLAN_STEPS = ("载入需求与专家匹配度", "按行业与主题分场", "邀请专家", "排议程、写入方案")

Progress = Callable[[int, str], None]


def _no_progress(done: int, message: str) -> None:
    """Ignore progress (planning inline)."""


def check_plan_input(session: Session, user: Any, inp: PlanInput) -> list[Demand]:
    """Check what the form asks for against the database; return the demands it picks."""
    check_organiser(user)
    if inp.district_id is not None and session.get(District, inp.district_id) is None:
        raise DomainError("所属区不存在。", field="district_id")
    for ind in inp.industry_ids:
        if session.get(Industry, ind) is None:
            raise DomainError("所选行业不存在。", field="industry_ids")
    for f in inp.field_ids:
        if session.get(TechField, f) is None:
            raise DomainError("所选技术领域不存在。", field="field_ids")
    demands = find_demands(session, user, inp)
    if not demands:
        raise DomainError("没有找到符合条件的已发布需求：请放宽区、发布时间、行业或技术领域的"
                          "筛选条件。", field="demands")
    if inp.n_sessions is not None and inp.n_sessions > len(demands):
        raise DomainError(f"场次数（{inp.n_sessions}）多于符合条件的需求数（{len(demands)}）：请把"
                          f"场次数减到至多 {len(demands)}，或留空由系统自动确定。",
                          field="n_sessions")
    return demands


def new_meeting(user: Any, inp: PlanInput, demands: Sequence[Demand]) -> MatchmakingMeeting:
    """Return a draft meeting (not added to the session) holding the form's parameters."""
    return MatchmakingMeeting(
        title=inp.title, district_id=inp.district_id, held_on=inp.held_on,
        venue=inp.venue or None, status="draft", created_by_id=getattr(user, "id", None),
        params=inp.params() | {"demand_ids": [d.id for d in demands], "removed": []})


def compute_plan(session: Session, meeting: MatchmakingMeeting, demands: list[Demand], *,
                 snapshot: Any = None, progress: Progress = _no_progress,
                 ) -> tuple[PlanContext, SessionPlan, ExpertAssignment]:
    """Compute a plan without writing anything; raise DomainError when the planner refuses."""
    progress(0, PLAN_STEPS[0])
    ctx = build_context(session, meeting, demands, dict(meeting.params), snapshot=snapshot)
    try:
        progress(1, PLAN_STEPS[1])
        plan, assignment = solve(session, ctx, PlanLocks(), (), on_step=lambda: progress(
            2, PLAN_STEPS[2]))
    except PlanningError as exc:
        raise planning_error(exc) from None
    return ctx, plan, assignment


def write_plan(session: Session, ctx: PlanContext, plan: SessionPlan,
               assignment: ExpertAssignment, progress: Progress = _no_progress) -> None:
    """Write a computed plan and its agenda onto the meeting (added to the session)."""
    progress(3, PLAN_STEPS[3])
    session.add(ctx.meeting)
    apply_plan(session, ctx, plan, assignment)
    ctx.meeting.status = "planned"
    session.flush()


def plan_meeting(session: Session, user: Any, inp: PlanInput) -> MatchmakingMeeting:
    """Create a meeting and its proposed plan inline; raise DomainError (nothing written)."""
    demands = check_plan_input(session, user, inp)
    meeting = new_meeting(user, inp, demands)
    ctx, plan, assignment = compute_plan(session, meeting, demands)
    write_plan(session, ctx, plan, assignment)  # only now, with a complete plan, rows are written
    return meeting


def meeting_demands(session: Session, meeting: MatchmakingMeeting) -> list[Demand]:
    ids = list(meeting.params.get("demand_ids") or [])
    placed = [sd.demand_id for ms in meeting.sessions for sd in ms.demands]
    ids = list(dict.fromkeys(ids + placed))
    if not ids:
        return []
    return list(session.scalars(select(Demand).where(Demand.id.in_(ids)).order_by(Demand.id)))


def context_for(session: Session, meeting: MatchmakingMeeting) -> PlanContext:
    """Load the planning context of a saved meeting (demands, affinity, other invitees)."""
    return build_context(session, meeting, meeting_demands(session, meeting), dict(meeting.params))


def replan(session: Session, user: Any, meeting: MatchmakingMeeting, *,
           snapshot: Any = None, progress: Progress = _no_progress) -> list[str]:
    """Re-plan everything that is not locked; return notes for the organiser.

    Locked sessions stay whole (demands, experts, other invitees, timetable); locked
    placements keep their demand in their session; locked expert seats stay when their
    session survives (a seat in a session that has neither a session lock nor a pinned demand
    cannot, and is reported).
    """
    check_organiser(user)
    check_editable(meeting)
    progress(0, PLAN_STEPS[0])
    ctx = build_context(session, meeting, meeting_demands(session, meeting),
                        dict(meeting.params), snapshot=snapshot)
    notes: list[str] = []
    locked_sessions = [ms for ms in meeting.sessions if ms.locked]
    pinned = [(sd.demand_id, key_of(ms)) for ms in meeting.sessions if not ms.locked
              for sd in ms.demands if sd.locked]
    surviving = {key_of(ms) for ms in locked_sessions} | {k for _, k in pinned}
    seat_locks = []
    seats_by_key: dict[str, int] = {}
    for ms in meeting.sessions:
        for inv in experts_of(ms):
            if ms.locked or inv.locked:
                if key_of(ms) in surviving:
                    seat_locks.append((inv.expert_id, key_of(ms)))
                    seats_by_key[key_of(ms)] = seats_by_key.get(key_of(ms), 0) + 1
                else:
                    notes.append(f"专家{inv.expert.name}锁定在「{ms.title}」，但该分场既未锁定也没有"
                                 "锁定的需求，重新分场后无法保留，已解除该锁定。")
    locks = PlanLocks(sessions=tuple(plan_session_of(ms) for ms in locked_sessions),
                      placements=tuple(pinned), expert_seats=tuple(seat_locks))
    conflicts = [(int(e), f"K{s}") for e, s in ctx.params.get("removed", [])]
    try:
        progress(1, PLAN_STEPS[1])
        plan, assignment = solve(session, ctx, locks, conflicts, seats_by_key,
                                 on_step=lambda: progress(2, PLAN_STEPS[2]))
    except PlanningError as exc:
        raise planning_error(exc, meeting) from None
    progress(3, PLAN_STEPS[3])
    # Seats inside a locked session are kept by the solver (as locks) and by apply_plan.
    apply_plan(session, ctx, plan, assignment)
    meeting.status = "planned"
    session.flush()
    return notes
