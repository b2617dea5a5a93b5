"""Reading a meeting for pages and exports: names behind ids, local times, timetable grids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
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


def names(session: Session, meeting: MatchmakingMeeting) -> Names:
    """Load the rows behind the ids of a meeting's sessions."""
    d_ids, e_ids, ent_ids, inv_ids, inst_ids = set(), set(), set(), set(), set()
    for ms in meeting.sessions:
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
    for e in (meeting.params or {}).get("candidates", {}).values():
        e_ids.update(int(x[0]) for x in e)

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
