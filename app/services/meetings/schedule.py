"""The meeting's agenda: sessions in days x time slots x rooms, then each session's 1:1 rounds.

Reads the grid the organiser gave (days from the meeting date, slot times, rooms with their
capacities) and the per-person limits, asks :func:`matching.planning.agenda.place_sessions`
where each session goes, keeps investors and related enterprises out of two sessions of one
slot, and fits each session's 1:1 meetings into the rounds its slot leaves after the demand
presentations. Every time is a Beijing wall time turned into UTC by :mod:`app.clock`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.errors import DomainError
from app.services.meetings.context import PlanContext, experts_of, key_of
from app.services.meetings.inputs import DEFAULT_ROOMS, DEFAULT_SLOTS, parse_rooms, parse_slot_times
from matching.planning import propose_pairs, schedule_meetings
from matching.planning.agenda import place_sessions
from matching.planning.invitees import keep_one_place
from matching.planning.plan_records import (
    ExpertAssignment,
    ExpertSeat,
    PlanningError,
    Room,
    SessionInvitees,
    SessionNeeds,
    TimeSlot,
)
from matching.planning.plan_records import Session as PlanSession
from matching.planning.timetable import fit_rounds
from models import Enterprise, Expert, Investor, MatchmakingMeeting, MeetingSession, MeetingSlot


@dataclass(frozen=True)
class Grid:
    """The meeting's slots (over all days) with their wall times, and its rooms."""

    slots: tuple[TimeSlot, ...]
    rooms: tuple[Room, ...]
    times: Mapping[str, tuple[datetime | None, datetime | None]]
    minutes: Mapping[str, int]


def slot_key(day: int, index: int) -> str:
    """Return the key of slot ``index`` (from 0) of day ``day`` (from 0): ``D1S1``."""
    return f"D{day + 1}S{index + 1}"


def grid_of(meeting: MatchmakingMeeting, params: Mapping[str, Any]) -> Grid:
    """Return the slots and rooms of a meeting from its stored parameters."""
    day_slots = params.get("slot_times") or parse_slot_times(DEFAULT_SLOTS)
    rooms = params.get("rooms") or parse_rooms(DEFAULT_ROOMS)
    n_days = int(params.get("n_days") or 1)
    intro = int(params.get("intro_minutes") or 0)
    per_round = int(params.get("slot_minutes") or 20)
    slots, times, minutes = [], {}, {}
    for day in range(n_days):
        on: date | None = meeting.held_on + timedelta(days=day) if meeting.held_on else None
        for index, (start_s, end_s) in enumerate(day_slots):
            start_t, end_t = time.fromisoformat(start_s), time.fromisoformat(end_s)
            length = (datetime.combine(date.min, end_t) - datetime.combine(date.min, start_t))
            total = int(length.total_seconds() // 60)
            key = slot_key(day, index)
            slots.append(TimeSlot(key=key, day=day, label=f"第{day + 1}天 {start_s}–{end_s}",
                                  rounds=max(0, (total - intro) // per_round)))
            times[key] = (clock.at_local(on, start_t) if on else None,
                          clock.at_local(on, end_t) if on else None)
            minutes[key] = total
    return Grid(tuple(slots), tuple(Room(key=name, capacity=int(cap), name=name)
                                    for name, cap in rooms), times, minutes)


def people_limits(session: Session, params: Mapping[str, Any], grid: Grid,
                  ) -> dict[tuple[str, int], dict[str, Any]]:
    """Resolve the organiser's per-person lines to ids: availability (slot keys), cap, minimum."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in params.get("people") or ():
        model = Expert if entry["kind"] == "expert" else Investor
        ref = str(entry["ref"])
        rows = list(session.scalars(select(model.id).where(model.name == ref)))
        if ref.isdigit() and session.get(model, int(ref)) is not None:
            rows = [int(ref)]
        who = "专家" if entry["kind"] == "expert" else "创投机构"
        if not rows:
            raise DomainError(f"人员限制第 {entry.get('line', '?')} 行：没有名为“{ref}”的{who}。",
                              field="people")
        if len(rows) > 1:
            raise DomainError(f"人员限制第 {entry.get('line', '?')} 行：有 {len(rows)} 位名为"
                              f"“{ref}”的{who}，请改填编号（{'、'.join(map(str, rows))}）。",
                              field="people")
        limits: dict[str, Any] = {}
        if entry.get("slots"):
            limits["slots"] = [grid.slots[n - 1].key for n in entry["slots"]
                               if n - 1 < len(grid.slots)]
        for key in ("cap", "min"):
            if entry.get(key) is not None:
                limits[key] = int(entry[key])
        out[(entry["kind"], rows[0])] = limits
    return out


def _headcount(ms: MeetingSession) -> int:
    """People the room must seat: every invitee (experts, enterprises, investors, institutions)."""
    return len(ms.invitations)


def _people(ms: MeetingSession, owners: Mapping[int, int | None]) -> tuple[tuple[str, int], ...]:
    """Who cannot be in two places: the session's experts and its demand owners."""
    out = {("expert", i.expert_id) for i in experts_of(ms)}
    out |= {("enterprise", owners[sd.demand_id]) for sd in ms.demands
            if owners.get(sd.demand_id) is not None}
    return tuple(sorted(out))


def _label(ms: MeetingSession) -> str:
    return f"第{ms.seq}场「{ms.title}」"


def _labels(session: Session, people: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    ids: dict[str, set[int]] = defaultdict(set)
    for kind, pid in people:
        ids[kind].add(pid)
    out = {}
    for kind, model, word in (("expert", Expert, "专家"), ("enterprise", Enterprise, "企业")):
        if ids[kind]:
            for pid, name in session.execute(select(model.id, model.name)
                                             .where(model.id.in_(ids[kind]))):
                out[(kind, pid)] = f"{word}{name}"
    return out


def arrange(session: Session, ctx: PlanContext, free: Iterable[MeetingSession] | None = None,
            ) -> None:
    """Place the meeting's sessions in slots and rooms, then fit each session's 1:1 rounds.

    ``free`` are the sessions that may move (all when ``None``); the others keep their slot
    and room, as do pinned and locked sessions. Investors and related enterprises are kept
    out of two sessions of one slot. Unplaced sessions and the advice go into the meeting's
    parameters for the page.
    """
    meeting = ctx.meeting
    session.flush()
    grid = grid_of(meeting, ctx.params)
    limits = people_limits(session, ctx.params, grid)
    free_ids = None if free is None else {ms.id for ms in free}
    needs = []
    for ms in meeting.sessions:
        keep = ms.pinned or ms.locked or (free_ids is not None and ms.id not in free_ids)
        pin = (ms.slot_key, ms.room) if keep and ms.slot_key and ms.room else None
        needs.append(SessionNeeds(key=key_of(ms), size=_headcount(ms),
                                  people=_people(ms, ctx.owners), pin=pin, label=_label(ms)))
    availability = {p: lim["slots"] for p, lim in limits.items()
                    if p[0] == "expert" and "slots" in lim}
    labels = _labels(session, [p for n in needs for p in n.people])
    try:
        agenda = place_sessions(needs, grid.slots, grid.rooms, availability=availability,
                                labels=labels)
    except PlanningError as exc:
        raise DomainError(exc.message, field="rooms" if exc.code == "agenda" else "_form") from None
    by_key = {key_of(ms): ms for ms in meeting.sessions}
    for ms in meeting.sessions:
        placed = agenda.placement_of(key_of(ms))
        ms.slot_key = placed.slot_key if placed else None
        ms.room = placed.room_key if placed else None
    _one_place_per_slot(meeting, limits)
    rounds = {t.key: t.rounds or 0 for t in grid.slots}
    unplaced_meetings: dict[str, list[list[Any]]] = {}
    for ms in meeting.sessions:
        n_rounds = rounds.get(ms.slot_key, max(rounds.values(), default=0))
        if not ms.locked:
            unplaced_meetings[str(ms.id)] = _timetable(ctx, ms, n_rounds)
        start, _end = grid.times.get(ms.slot_key, (None, None)) if ms.slot_key else (None, None)
        used = max((s.slot for s in ms.slots), default=-1) + 1
        ms.starts_at = start
        ms.ends_at = (start + timedelta(minutes=int(ctx.params.get("intro_minutes") or 0)
                                        + used * int(ctx.params.get("slot_minutes") or 20))
                      if start else None)
    params = dict(ctx.params)
    params["agenda"] = {
        "unplaced": [[by_key[k].id, reason] for k, reason in agenda.unplaced],
        "advice": list(agenda.advice),
        "exact": agenda.exact,
    }
    params["unplaced_meetings"] = {**params.get("unplaced_meetings", {}), **unplaced_meetings}
    ctx.params = params
    meeting.params = params
    session.flush()


def _one_place_per_slot(meeting: MatchmakingMeeting,
                        limits: Mapping[tuple[str, int], Mapping[str, Any]]) -> None:
    """Drop investor and related-enterprise invitations that would put one in two places."""
    ordered = sorted(meeting.sessions, key=lambda m: m.seq)
    lists, kept = [], []
    for ms in ordered:
        owners = {sd.demand.enterprise_id for sd in ms.demands if sd.demand is not None}
        ents = [i.enterprise_id for i in ms.invitations
                if i.kind == "enterprise" and i.enterprise_id not in owners]
        invs = [i.investor_id for i in ms.invitations if i.kind == "investor"]
        lists.append(SessionInvitees(key_of(ms), tuple(ents), tuple(invs)))
        kept.extend((key_of(ms), i.kind, i.enterprise_id if i.kind == "enterprise"
                     else i.investor_id) for i in ms.invitations
                    if i.locked and i.kind in ("enterprise", "investor"))
    filtered = keep_one_place(
        lists, {key_of(ms): ms.slot_key for ms in ordered},
        availability={p: lim["slots"] for p, lim in limits.items()
                      if p[0] == "investor" and "slots" in lim},
        caps={p: lim["cap"] for p, lim in limits.items() if p[0] == "investor" and "cap" in lim},
        kept=kept)
    for ms, keep in zip(ordered, filtered, strict=True):
        owners = {sd.demand.enterprise_id for sd in ms.demands if sd.demand is not None}
        for inv in list(ms.invitations):
            if inv.kind == "investor" and inv.investor_id not in keep.investor_ids:
                ms.invitations.remove(inv)
            elif (inv.kind == "enterprise" and inv.enterprise_id not in owners
                  and inv.enterprise_id not in keep.enterprise_ids):
                ms.invitations.remove(inv)


def _timetable(ctx: PlanContext, ms: MeetingSession, n_rounds: int) -> list[list[Any]]:
    """Write a session's 1:1 rounds; return the requested meetings that did not fit."""
    ms.slots.clear()
    expert_ids = [i.expert_id for i in experts_of(ms)]
    demand_ids = [sd.demand_id for sd in ms.demands]
    if not expert_ids or not demand_ids:
        return []
    plan_s = PlanSession(key=key_of(ms), demand_ids=tuple(demand_ids))
    assignment = ExpertAssignment(tuple(ExpertSeat(plan_s.key, e, 0.0) for e in expert_ids), 0.0)
    block = ctx.affinity.sub(expert_ids, demand_ids)
    block = np.where(np.isfinite(block), block, -1e9)  # experts without text still may meet
    per_demand = int(ctx.params.get("pairs_per_demand") or 2)
    pairs = propose_pairs(plan_s, assignment, block, expert_ids, demand_ids,
                          per_demand=per_demand, min_affinity=-1e8)
    # every demand's first choice before anyone's second choice
    rank: dict[Any, int] = defaultdict(int)
    ordered = []
    for did, eid in pairs:
        ordered.append((rank[did], len(ordered), (did, eid)))
        rank[did] += 1
    ordered.sort()
    kept, unplaced = fit_rounds([p for _, _, p in ordered], ctx.records, n_rounds=n_rounds,
                                n_tables=int(ctx.params.get("tables") or 4))
    table = schedule_meetings(kept, ctx.records, session_key=plan_s.key,
                              n_tables=int(ctx.params.get("tables") or 4))
    for m in table.meetings:
        ms.slots.append(MeetingSlot(demand_id=m.demand_id, expert_id=m.expert_id, slot=m.slot,
                                    table_no=m.table))
    return [[u.demand_id, u.expert_id, u.reason] for u in unplaced]
