"""The organiser's edits: move, add, remove, lock, rename; confirm, mark held, delete."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from app.errors import Conflict, DomainError, NotFound
from app.policy.statuses import MEETING_STATUS_LABELS
from app.services import audit
from app.services.meetings.context import (
    experts_of,
)
from app.services.meetings.organiser_checks import (
    check_editable,
    check_organiser,
    session_row,
)
from app.services.meetings.plan import (
    context_for,
)
from app.services.meetings.schedule import arrange, grid_of
from app.services.meetings.write import (
    refresh,
)
from models import (
    Expert,
    Invitation,
    MatchmakingMeeting,
    MeetingSession,
    SessionDemand,
)


def session_of(meeting: MatchmakingMeeting, session_id: int) -> MeetingSession:
    for ms in meeting.sessions:
        if ms.id == session_id:
            return ms
    raise NotFound("分场不存在。")


def pin_placements(ms: MeetingSession) -> None:
    """Lock the placements of a session edited by hand, so that a re-plan keeps its demands.

    Without this, a re-plan would rebuild the session around the one moved demand (the
    planner seeds a session with its pinned demands and regroups the rest by topic), which
    would look as if the organiser's edit had been undone.
    """
    for sd in ms.demands:
        sd.locked = True


def check_unlocked(ms: MeetingSession) -> None:
    if ms.locked:
        raise Conflict(f"分场「{ms.title}」已锁定：请先解锁再调整。", field="session")


def move_demand(session: Session, user: Any, meeting: MatchmakingMeeting, demand_id: int,
                to_session_id: int) -> SessionDemand:
    """Move a demand to another session; the placement is locked so that a re-plan keeps it."""
    check_organiser(user)
    check_editable(meeting)
    target = session_of(meeting, to_session_id)
    row = next((sd for ms in meeting.sessions for sd in ms.demands if sd.demand_id == demand_id),
               None)
    if row is None:
        raise NotFound("该需求不在本次对接会中。")
    source = row.session
    if source.id == target.id:
        raise DomainError("需求已在该分场中。", field="to_session_id")
    check_unlocked(source)
    check_unlocked(target)
    source.demands.remove(row)
    moved = SessionDemand(demand_id=demand_id, locked=True)
    target.demands.append(moved)
    pin_placements(source)
    pin_placements(target)
    session.flush()
    refresh(session, context_for(session, meeting), [source, target])
    return moved


def _invitation(meeting: MatchmakingMeeting, invitation_id: int) -> Invitation:
    return session_row(meeting, "invitations", invitation_id, "邀请记录不存在。")


def _expert_invitation(user: Any, meeting: MatchmakingMeeting, invitation_id: int,
                       refusal: str) -> Invitation:
    """Return an expert's invitation to an editable meeting the user organises."""
    check_organiser(user)
    check_editable(meeting)
    inv = _invitation(meeting, invitation_id)
    if inv.kind != "expert":
        raise DomainError(refusal, field="invitation_id")
    return inv


def _per_expert_limit(meeting: MatchmakingMeeting, expert_id: int, adding_to: MeetingSession,
                      ) -> None:
    limit = int(meeting.params.get("max_sessions_per_expert") or 1)
    sessions = {ms.id for ms in meeting.sessions for i in experts_of(ms)
                if i.expert_id == expert_id}
    if adding_to.id in sessions:
        raise DomainError("该专家已在此分场中。", field="expert_id")
    if len(sessions) >= limit:
        raise DomainError(f"该专家已受邀 {len(sessions)} 场，达到每位专家场次上限 {limit}："
                          "请先从其他分场移出该专家。", field="expert_id")


def move_expert(session: Session, user: Any, meeting: MatchmakingMeeting, invitation_id: int,
                to_session_id: int) -> Invitation:
    """Move an invited expert to another session; the seat is locked there."""
    inv = _expert_invitation(user, meeting, invitation_id, "只能移动专家。")
    source, target = inv.session, session_of(meeting, to_session_id)
    if source.id == target.id:
        raise DomainError("专家已在该分场中。", field="to_session_id")
    check_unlocked(source)
    check_unlocked(target)
    source.invitations.remove(inv)
    session.flush()
    _per_expert_limit(meeting, inv.expert_id, target)
    moved = Invitation(kind="expert", expert_id=inv.expert_id, affinity=inv.affinity, locked=True)
    target.invitations.append(moved)
    pin_placements(target)
    session.flush()
    refresh(session, context_for(session, meeting), [source, target])
    return moved


def remove_expert(session: Session, user: Any, meeting: MatchmakingMeeting,
                  invitation_id: int) -> None:
    """Remove an invited expert; a re-plan will not invite them to that session again."""
    inv = _expert_invitation(user, meeting, invitation_id, "只能移出专家。")
    ms = inv.session
    check_unlocked(ms)
    params = dict(meeting.params)
    params["removed"] = [*params.get("removed", []), [inv.expert_id, ms.id]]
    meeting.params = params
    ms.invitations.remove(inv)
    session.flush()
    refresh(session, context_for(session, meeting), [ms])


def add_expert(session: Session, user: Any, meeting: MatchmakingMeeting, session_id: int,
               expert_id: int) -> Invitation:
    """Invite an expert to a session by hand; the seat is locked."""
    check_organiser(user)
    check_editable(meeting)
    ms = session_of(meeting, session_id)
    check_unlocked(ms)
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise DomainError("专家不存在。", field="expert_id")
    _per_expert_limit(meeting, expert_id, ms)
    params = dict(meeting.params)
    params["removed"] = [p for p in params.get("removed", [])
                         if not (p[0] == expert_id and p[1] == ms.id)]
    cand = dict((int(e), a) for e, a in params.get("candidates", {}).get(str(ms.id), []))
    meeting.params = params
    inv = Invitation(kind="expert", expert_id=expert_id, affinity=cand.get(expert_id),
                     locked=True)
    ms.invitations.append(inv)
    pin_placements(ms)
    session.flush()
    refresh(session, context_for(session, meeting), [ms])
    return inv


def set_lock(session: Session, user: Any, meeting: MatchmakingMeeting, kind: str, item_id: int,
             locked: bool) -> str:
    """Lock or unlock a session, a placement (session demand) or an expert seat; return a label."""
    check_organiser(user)
    check_editable(meeting)
    if kind == "session":
        ms = session_of(meeting, item_id)
        ms.locked = locked
        label = ms.title
    elif kind == "placement":
        row = next((sd for ms in meeting.sessions for sd in ms.demands if sd.id == item_id), None)
        if row is None:
            raise NotFound("该需求不在本次对接会中。")
        row.locked = locked
        label = row.demand.title
    elif kind == "seat":
        inv = _invitation(meeting, item_id)
        if inv.kind != "expert":
            raise DomainError("只能锁定专家席位。", field="kind")
        inv.locked = locked
        label = inv.expert.name if inv.expert else str(inv.expert_id)
    else:
        raise DomainError("未知的锁定对象。", field="kind")
    session.flush()
    return label


def rename_session(session: Session, user: Any, meeting: MatchmakingMeeting, session_id: int,
                   title: str) -> MeetingSession:
    """Rename a session."""
    check_organiser(user)
    check_editable(meeting)
    ms = session_of(meeting, session_id)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise DomainError("分场名称须为 1–200 字。", field="title")
    ms.title = title
    session.flush()
    return ms


def confirm(session: Session, user: Any, meeting: MatchmakingMeeting) -> MatchmakingMeeting:
    """Confirm the plan: no more planning or edits; exports go out."""
    check_organiser(user)
    _require_status(meeting, "planned", "只有已排期的对接会可以确认。")
    if not meeting.sessions:
        raise Conflict("对接会还没有分场，不能确认。", field="status")
    return _set_status(session, user, meeting, "confirmed")


def mark_held(session: Session, user: Any, meeting: MatchmakingMeeting) -> MatchmakingMeeting:
    """Mark a confirmed meeting as held."""
    check_organiser(user)
    _require_status(meeting, "confirmed", "只有已确认的对接会可以标记为已召开。")
    return _set_status(session, user, meeting, "held")


def _require_status(meeting: MatchmakingMeeting, status: str, refusal: str) -> None:
    if meeting.status != status:
        raise Conflict(refusal, field="status")


def _set_status(session: Session, user: Any, meeting: MatchmakingMeeting,
                status: str) -> MatchmakingMeeting:
    before = meeting.status
    meeting.status = status
    session.flush()
    audit.record(session, user, "meeting.confirm" if status == "confirmed" else "meeting.held",
                 "meeting",
                 meeting.id, before=MEETING_STATUS_LABELS.get(before, before),
                 after=MEETING_STATUS_LABELS.get(status, status))
    return meeting


def delete_meeting(session: Session, user: Any, meeting: MatchmakingMeeting) -> None:
    """Delete a meeting that is not confirmed yet."""
    check_organiser(user)
    check_editable(meeting)
    audit.record(session, user, "meeting.delete", "meeting", meeting.id,
                 before={"名称": meeting.title, "状态": MEETING_STATUS_LABELS.get(meeting.status,
                                                                               meeting.status)})
    session.delete(meeting)
    session.flush()


def resolve_session(meeting: MatchmakingMeeting, text: str | None) -> MeetingSession:
    """Return the session a picker names ("第3场 …", "3" or a session id); raise naming it."""
    raw = (text or "").strip()
    match = re.match(r"^第?\s*(\d+)\s*场?", raw)
    if match is None:
        raise DomainError("请从列表中选择目标分场（如“第3场”）。", field="to_session")
    seq = int(match.group(1))
    for ms in meeting.sessions:
        if ms.seq == seq:
            return ms
    raise DomainError(f"没有第{seq}场：本次对接会共 {len(meeting.sessions)} 场。",
                      field="to_session")


def place_session(session: Session, user: Any, meeting: MatchmakingMeeting, session_id: int,
                  slot_key: str | None, room: str | None) -> MeetingSession:
    """Pin a session to a time slot and room (both empty: unpin and let the agenda place it)."""
    check_organiser(user)
    check_editable(meeting)
    ms = session_of(meeting, session_id)
    grid = grid_of(meeting, meeting.params or {})
    if not slot_key and not room:
        ms.pinned = False
        arrange(session, context_for(session, meeting), free=[ms])
        return ms
    labels = {s.key: s.label for s in grid.slots}
    if slot_key not in labels:
        raise DomainError("请选择本次会议的一个时段。", field="slot_key")
    if room not in {r.key for r in grid.rooms}:
        raise DomainError("请选择本次会议的一间会议室。", field="room")
    other = next((o for o in meeting.sessions
                  if o.id != ms.id and o.slot_key == slot_key and o.room == room), None)
    if other is not None and (other.pinned or other.locked):
        raise Conflict(f"{labels[slot_key]} 的“{room}”已固定给第{other.seq}场："
                       "请先解除那一场的固定。", field="room")
    ms.slot_key, ms.room, ms.pinned = slot_key, room, True
    free = [other] if other is not None else []
    if other is not None:
        other.slot_key = other.room = None  # it moves elsewhere
    arrange(session, context_for(session, meeting), free=free)
    return ms
