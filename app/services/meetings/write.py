"""Write a computed plan onto a meeting, keeping what is locked; refresh edited sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.services.meetings.context import (
    PlanContext,
    experts_of,
    key_of,
    plan_session_of,
)
from app.services.meetings.schedule import arrange, grid_of, people_limits
from matching import text as mtext
from matching.planning import (
    assign_experts,
    invite_others,
    plan_sessions,
    session_affinity,
)
from matching.planning.plan_records import (
    ExpertAssignment,
    ExpertSeat,
    PlanLocks,
    SessionLimits,
    SessionPlan,
)
from matching.planning.plan_records import Session as PlanSession
from matching.planning.themes import theme_phrases
from models import (
    Industry,
    Invitation,
    MeetingSession,
    SessionDemand,
)

#: Candidates offered per session for 添加专家.
N_CANDIDATES = 12


def _session_title(session: Session, plan_s: PlanSession, seq: int) -> str:
    name = None
    if plan_s.industry is not None:
        ind = session.get(Industry, plan_s.industry)
        name = ind.name if ind else None
    words = "、".join(plan_s.theme_words[:2])
    if name and words:
        return f"{name}专场：{words}"[:200]
    if name:
        return f"{name}专场"[:200]
    return f"第{seq}分场：{words}"[:200] if words else f"第{seq}分场"


def _write_others(ms: MeetingSession, invitees: Any, owners: Mapping[int, Any]) -> None:
    keep_locked = {(i.kind, i.enterprise_id, i.investor_id, i.institution_id)
                   for i in ms.invitations if i.kind != "expert" and i.locked}
    for inv in [i for i in ms.invitations if i.kind != "expert" and not i.locked]:
        ms.invitations.remove(inv)
    for eid in invitees.enterprise_ids:
        if ("enterprise", eid, None, None) not in keep_locked:
            ms.invitations.append(Invitation(kind="enterprise", enterprise_id=eid))
    for iid in invitees.investor_ids:
        if ("investor", None, iid, None) not in keep_locked:
            ms.invitations.append(Invitation(kind="investor", investor_id=iid))
    for inst in invitees.institution_ids:
        if ("institution", None, None, inst) not in keep_locked:
            ms.invitations.append(Invitation(kind="institution", institution_id=inst))
    # The demand owners come too: invited (and checked in) as enterprises of the session.
    related = set(invitees.enterprise_ids)
    for ent_id in dict.fromkeys(owners.get(sd.demand_id) for sd in ms.demands):
        if ent_id is not None and ent_id not in related and (
                ("enterprise", ent_id, None, None) not in keep_locked):
            ms.invitations.append(Invitation(kind="enterprise", enterprise_id=ent_id))




def refresh(session: Session, ctx: PlanContext, sessions: Iterable[MeetingSession]) -> None:
    """Recompute the other invitees and the 1:1 timetable of edited sessions."""
    sessions = [ms for ms in sessions if ms is not None]
    if not sessions:
        return
    session.flush()
    plan = SessionPlan(sessions=tuple(plan_session_of(ms) for ms in sessions))
    seats = tuple(ExpertSeat(key_of(ms), i.expert_id, i.affinity or 0.0)
                  for ms in sessions for i in experts_of(ms))
    invitees = invite_others(plan, ctx.records, assignment=ExpertAssignment(seats, 0.0),
                             expert_institutions=ctx.expert_institutions,
                             enterprises=ctx.enterprises, investors=ctx.investors)
    by_id = {r.id: r for r in ctx.records}
    for ms, inv in zip(sessions, invitees, strict=True):
        _write_others(ms, inv, ctx.owners)
        _retheme(session, ms, [by_id[sd.demand_id] for sd in ms.demands if sd.demand_id in by_id],
                 ctx.records)
    arrange(session, ctx, free=sessions)


def _retheme(session: Session, ms: MeetingSession, records: list, everyone: list) -> None:
    """Recompute the theme words of an edited session; an automatic title follows them."""
    words = theme_phrases(records, everyone, 5) if records else ()
    if words is None:
        return
    auto = _session_title(session, plan_session_of(ms), ms.seq)
    ms.theme_words = list(words)
    if ms.title == auto:
        ms.title = _session_title(session, plan_session_of(ms), ms.seq)


def _candidates(ctx: PlanContext, plan: SessionPlan, assignment: ExpertAssignment,
                rows: Mapping[str, MeetingSession]) -> dict[str, list[list[float]]]:
    """Return, per session id, the best experts not invited (for 添加专家)."""
    aff = ctx.affinity
    if not aff.expert_ids:
        return {}
    scores = session_affinity(plan, aff.matrix, aff.demand_ids)
    out: dict[str, list[list[float]]] = {}
    for s, ps in enumerate(plan.sessions):
        invited = set(assignment.experts_of(ps.key))
        col = scores[:, s]
        n = min(len(col), N_CANDIDATES + len(invited))
        top = np.argpartition(-col, n - 1)[:n] if n < len(col) else np.arange(len(col))
        top = sorted(top, key=lambda i: -col[i])
        picked = [[aff.expert_ids[i], round(float(col[i]), 4)] for i in top
                  if aff.expert_ids[i] not in invited and np.isfinite(col[i])]
        out[str(rows[ps.key].id)] = picked[:N_CANDIDATES]
    return out


def apply_plan(session: Session, ctx: PlanContext, plan: SessionPlan,
                assignment: ExpertAssignment) -> None:
    """Write a computed plan onto the meeting, keeping locked sessions, placements and seats."""
    meeting = ctx.meeting
    existing = {key_of(ms): ms for ms in meeting.sessions}
    plan_keys = {ps.key for ps in plan.sessions}
    for key, ms in existing.items():
        if key not in plan_keys:
            meeting.sessions.remove(ms)
    rows: dict[str, MeetingSession] = {}
    # Sessions that survive keep their place; new ones follow in the planner's order.
    order = sorted(range(len(plan.sessions)), key=lambda i: (
        existing[plan.sessions[i].key].seq if plan.sessions[i].key in existing else 10**6, i))
    plan = SessionPlan(sessions=tuple(plan.sessions[i] for i in order),
                       inferred_industries=plan.inferred_industries)
    for seq, ps in enumerate(plan.sessions, 1):
        ms = existing.get(ps.key)
        if ms is None:
            ms = MeetingSession(seq=seq, locked=False)
            meeting.sessions.append(ms)
        rows[ps.key] = ms
        ms.seq = seq
        if ms.locked:
            continue
        ms.theme_words = list(ps.theme_words)
        ms.industry_id = ps.industry
        ms.title = _session_title(session, ps, seq)
    session.flush()
    # Demands: a locked session keeps its rows; elsewhere pinned rows stay, the rest is rewritten.
    for ps in plan.sessions:
        ms = rows[ps.key]
        if ms.locked:
            continue
        have = {sd.demand_id: sd for sd in ms.demands}
        for sd in list(ms.demands):
            if sd.demand_id not in ps.demand_ids:
                ms.demands.remove(sd)
        for did in ps.demand_ids:
            if did not in have:
                ms.demands.append(SessionDemand(demand_id=did, locked=False))
    session.flush()
    # Experts
    for ps in plan.sessions:
        ms = rows[ps.key]
        if ms.locked:
            continue
        seats = {s.expert_id: s for s in assignment.seats if s.session_key == ps.key}
        for inv in experts_of(ms):
            if inv.expert_id not in seats:
                ms.invitations.remove(inv)
        have = {i.expert_id: i for i in experts_of(ms)}
        for eid, seat in seats.items():
            if eid in have:
                have[eid].affinity = round(seat.affinity, 4)
            else:
                ms.invitations.append(Invitation(kind="expert", expert_id=eid,
                                                 affinity=round(seat.affinity, 4),
                                                 locked=False))
    session.flush()
    # Other invitees and the 1:1 timetables of every session that is not locked.
    open_plan = SessionPlan(sessions=tuple(ps for ps in plan.sessions if not rows[ps.key].locked))
    invitees = invite_others(open_plan, ctx.records, assignment=assignment,
                             expert_institutions=ctx.expert_institutions,
                             enterprises=ctx.enterprises, investors=ctx.investors)
    for ps, inv in zip(open_plan.sessions, invitees, strict=True):
        _write_others(rows[ps.key], inv, ctx.owners)
    session.flush()
    params = dict(ctx.params)
    params["candidates"] = _candidates(ctx, plan, assignment, rows)
    params["inferred"] = {str(d): i for d, i in plan.inferred_industries}
    # Keep only conflicts of sessions that still exist.
    live = {str(ms.id) for ms in rows.values()}
    params["removed"] = [p for p in params.get("removed", []) if str(p[1]) in live]
    ctx.params = params
    meeting.params = params
    arrange(session, ctx)


def solve(session: Session, ctx: PlanContext, locks: PlanLocks,
          conflicts: Sequence[tuple[int, str]], seats_by_key: Mapping[str, int] | None = None,
          on_step: Callable[[], None] | None = None) -> tuple[SessionPlan, ExpertAssignment]:
    """Group the demands into sessions and seat the experts (the two planner steps)."""
    p = ctx.params
    limits_of = people_limits(session, p, grid_of(ctx.meeting, p))
    known = set(ctx.affinity.expert_ids)
    caps = {pid: lim["cap"] for (kind, pid), lim in limits_of.items()
            if kind == "expert" and "cap" in lim and pid in known}
    floors = {pid: lim["min"] for (kind, pid), lim in limits_of.items()
              if kind == "expert" and lim.get("min") and pid in known}
    limits = SessionLimits(min_demands=int(p["min_demands"]), max_demands=int(p["max_demands"]),
                           n_sessions=p.get("n_sessions"))
    plan = plan_sessions(ctx.records, limits, locks=locks, analyzer=mtext.analyze)
    if on_step is not None:
        on_step()
    seats: int | dict[str, int] = int(p["seats"])
    if seats_by_key:
        seats = {ps.key: max(int(p["seats"]), seats_by_key.get(ps.key, 0))
                 for ps in plan.sessions}
    keys = {ps.key for ps in plan.sessions}
    assignment = assign_experts(
        plan, ctx.affinity.matrix, ctx.affinity.expert_ids, ctx.affinity.demand_ids,
        seats=seats, max_sessions_per_expert=int(p["max_sessions_per_expert"]),
        expert_caps=caps, min_sessions=floors,
        conflicts=[(e, k) for e, k in conflicts if k in keys and e in set(ctx.affinity.expert_ids)],
        locks=PlanLocks(expert_seats=tuple((e, k) for e, k in locks.expert_seats if k in keys)),
    )
    return plan, assignment
