"""Reading a meeting for pages and exports: names behind ids, local times, timetable grids."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.services.meetings.schedule import grid_of
from models import (
    Demand,
    Enterprise,
    Expert,
    Industry,
    Institution,
    Investor,
    Invitation,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    SessionDemand,
)

KIND_LABELS = {"expert": "专家", "enterprise": "相关企业", "investor": "创投机构",
               "institution": "高校院所"}
OUTCOME_LABELS = {"interested": "有意向", "not_interested": "无意向"}


def local(dt: datetime | None) -> datetime | None:
    """Return a stored timestamp in Beijing time (the one clock decides how)."""
    return clock.local_time(dt)


def slot_time(meeting: MatchmakingMeeting, ms: MeetingSession, slot: int) -> datetime | None:
    """Return when 1:1 slot `slot` (from 0) of a session starts."""
    start = local(ms.starts_at)
    if start is None:
        return None
    p = meeting.params or {}
    return start + timedelta(minutes=int(p.get("intro_minutes") or 0)
                             + slot * int(p.get("slot_minutes") or 20))


@dataclass
class Names:
    """Display names of everything a meeting page shows, loaded in a few queries."""

    demands: dict[int, Demand]
    experts: dict[int, Expert]
    enterprises: dict[int, Enterprise]
    investors: dict[int, Investor]
    institutions: dict[int, Institution]
    industries: dict[int, str]


def names(session: Session, meeting: MatchmakingMeeting,
          only: MeetingSession | None = None) -> Names:
    """Load the rows behind the ids of a meeting's sessions (or of one session, ``only``)."""
    d_ids, e_ids, ent_ids, inv_ids, inst_ids = set(), set(), set(), set(), set()
    for ms in ([only] if only is not None else meeting.sessions):
        d_ids.update(sd.demand_id for sd in ms.demands)
        for i in ms.invitations:
            if i.expert_id:
                e_ids.add(i.expert_id)
            if i.enterprise_id:
                ent_ids.add(i.enterprise_id)
            if i.investor_id:
                inv_ids.add(i.investor_id)
            if i.institution_id:
                inst_ids.add(i.institution_id)
        e_ids.update(s.expert_id for s in ms.slots)
    for sid, e in (meeting.params or {}).get("candidates", {}).items():
        if only is None or sid == str(only.id):
            e_ids.update(int(x[0]) for x in e)
    for sid, missed in (meeting.params or {}).get("unplaced_meetings", {}).items():
        if only is None or sid == str(only.id):
            d_ids.update(int(x[0]) for x in missed)
            e_ids.update(int(x[1]) for x in missed)

    def load(model, ids):
        if not ids:
            return {}
        return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}

    demands = load(Demand, d_ids)
    ent_ids.update(d.enterprise_id for d in demands.values())
    return Names(demands=demands, experts=load(Expert, e_ids),
                 enterprises=load(Enterprise, ent_ids),
                 investors=load(Investor, inv_ids), institutions=load(Institution, inst_ids),
                 industries=dict(session.execute(select(Industry.id, Industry.name)).all()))


def invitee_name(inv: Invitation, n: Names) -> str:
    """Return the display name of an invitee."""
    if inv.kind == "expert" and inv.expert_id in n.experts:
        return n.experts[inv.expert_id].name
    if inv.kind == "enterprise" and inv.enterprise_id in n.enterprises:
        return n.enterprises[inv.enterprise_id].name
    if inv.kind == "investor" and inv.investor_id in n.investors:
        return n.investors[inv.investor_id].name
    if inv.kind == "institution" and inv.institution_id in n.institutions:
        return n.institutions[inv.institution_id].name
    return "—"


def grid(ms: MeetingSession) -> tuple[int, int, dict[tuple[int, int], MeetingSlot]]:
    """Return (slots, tables, {(slot, table): MeetingSlot}) of a session's 1:1 timetable."""
    cells = {(s.slot, s.table_no): s for s in ms.slots}
    n_slots = max((s.slot for s in ms.slots), default=-1) + 1
    n_tables = max((s.table_no for s in ms.slots), default=-1) + 1
    return n_slots, n_tables, cells


def counts(session: Session) -> dict[str, int]:
    """Return row counts of every meeting table (tests check that a refused plan wrote nothing)."""

    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (MatchmakingMeeting, MeetingSession, SessionDemand, Invitation, MeetingSlot)}


def owner_ids(ms: MeetingSession) -> set[int]:
    """Return the enterprises that own a demand of the session."""
    return {sd.demand.enterprise_id for sd in ms.demands if sd.demand is not None}


@dataclass
class AgendaView:
    """The agenda grid of a page: per day, the slot rows with a cell per room."""

    rooms: list[tuple[str, int]]
    days: list[tuple[str, list[tuple[Any, list[MeetingSession | None]]]]]
    unplaced: list[tuple[MeetingSession, str]]
    advice: list[str]
    labels: dict[str, str]


def agenda_view(meeting: MatchmakingMeeting) -> AgendaView:
    """Lay the sessions out by day, time slot and room for the agenda grid and the print page."""
    grid = grid_of(meeting, meeting.params or {})
    at = {(ms.slot_key, ms.room): ms for ms in meeting.sessions if ms.slot_key}
    days: dict[int, list] = {}
    for slot in grid.slots:
        row = [at.get((slot.key, room.key)) for room in grid.rooms]
        days.setdefault(slot.day, []).append((slot, row))
    by_id = {ms.id: ms for ms in meeting.sessions}
    agenda = (meeting.params or {}).get("agenda") or {}
    unplaced = [(by_id[sid], reason) for sid, reason in agenda.get("unplaced", []) if sid in by_id]
    day_names = []
    for day, rows in sorted(days.items()):
        on = meeting.held_on + timedelta(days=day) if meeting.held_on else None
        day_names.append((f"第{day + 1}天" + (f"（{on.isoformat()}）" if on else ""), rows))
    return AgendaView(rooms=[(r.key, r.capacity) for r in grid.rooms], days=day_names,
                      unplaced=unplaced, advice=list(agenda.get("advice", [])),
                      labels={s.key: s.label for s in grid.slots})


def session_counts(session: Session, meeting: MatchmakingMeeting) -> dict[int, dict[str, int]]:
    """Return per session id the counts a collapsed session shows, in three queries."""
    ids = [ms.id for ms in meeting.sessions]
    out: dict[int, dict[str, int]] = {i: defaultdict(int) for i in ids}
    if not ids:
        return out
    for sid, n in session.execute(select(SessionDemand.session_id, func.count())
                                  .where(SessionDemand.session_id.in_(ids))
                                  .group_by(SessionDemand.session_id)):
        out[sid]["demands"] = n
    for sid, kind, n in session.execute(select(Invitation.session_id, Invitation.kind, func.count())
                                        .where(Invitation.session_id.in_(ids))
                                        .group_by(Invitation.session_id, Invitation.kind)):
        out[sid][kind] = n
        out[sid]["people"] += n
    for sid, n in session.execute(select(MeetingSlot.session_id, func.count())
                                  .where(MeetingSlot.session_id.in_(ids))
                                  .group_by(MeetingSlot.session_id)):
        out[sid]["meetings"] = n
    return out
