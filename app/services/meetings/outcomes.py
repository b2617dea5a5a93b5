"""After the meeting: check-in, each 1:1 pair's outcome and follow-up, carried to matches."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.errors import Conflict, DomainError
from app.services.match_writer import apply_system_transition
from app.services.meetings.organiser_checks import (
    check_organiser,
    session_row,
)
from app.services.meetings.read import (
    OUTCOME_LABELS,
)
from models import (
    Demand,
    Match,
    MatchmakingMeeting,
    MeetingSlot,
    utcnow,
)


def _after(meeting: MatchmakingMeeting) -> None:
    if meeting.status not in ("confirmed", "held"):
        raise Conflict("对接会确认后才能登记签到和洽谈结果。", field="status")


def check_in(
    session: Session, user: Any, meeting: MatchmakingMeeting, attended_ids: Iterable[int]
) -> int:
    """Record who attended: invitations in `attended_ids` True, every other False."""
    check_organiser(user)
    _after(meeting)
    chosen = {int(i) for i in attended_ids}
    n = 0
    for ms in meeting.sessions:
        for inv in ms.invitations:
            inv.attended = inv.id in chosen
            n += inv.attended
    session.flush()
    return n


def _slot(meeting: MatchmakingMeeting, slot_id: int) -> MeetingSlot:
    return session_row(meeting, "slots", slot_id, "洽谈记录不存在。")


def _user_id(user: Any) -> int | None:
    return getattr(user, "id", None) if hasattr(user, "username") else None


def _match_to(
    session: Session,
    user: Any,
    meeting: MatchmakingMeeting,
    slot: MeetingSlot,
    target: str,
    reason: str,
    amount: float | None = None,
) -> Match:
    """Create or move the Match of a 1:1 pair to `target`, with an event naming the meeting."""
    match = match_of(session, slot)
    if match is None:
        demand = session.get(Demand, slot.demand_id)  # loaded first: no flush of a status-less row
        now = utcnow()
        match = Match(
            demand=demand,
            expert_id=slot.expert_id,
            proposed_by_id=_user_id(user),
            created_at=now,
            updated_at=now,
            explanation={"source": "meeting", "meeting_id": meeting.id},
        )
        session.add(match)
    elif match.status == target and (amount is None or match.contract_amount == amount):
        return match
    apply_system_transition(
        session, match, target, user=user, reason=reason, contract_amount=amount
    )
    return match


#: Match statuses that the meeting's immediate outcome may move forward to "introduced".
_BEFORE_INTRODUCED = ("proposed", "accepted")


def record_outcome(
    session: Session, user: Any, meeting: MatchmakingMeeting, slot_id: int, outcome: str | None
) -> MeetingSlot:
    """Record a 1:1 pair's immediate outcome; 有意向 marks the pair's match as introduced."""
    check_organiser(user)
    _after(meeting)
    slot = _slot(meeting, slot_id)
    if outcome in ("", None):
        slot.outcome = None
        session.flush()
        return slot
    if outcome not in OUTCOME_LABELS:
        raise DomainError("洽谈结果只能是“有意向”或“无意向”。", field="outcome")
    slot.outcome = outcome
    if outcome == "interested":
        match = session.scalar(
            select(Match).where(
                Match.demand_id == slot.demand_id, Match.expert_id == slot.expert_id
            )
        )
        if match is None or match.status in _BEFORE_INTRODUCED:
            _match_to(
                session,
                user,
                meeting,
                slot,
                "introduced",
                f"需求对接会「{meeting.title}」一对一洽谈，双方有合作意向",
            )
    session.flush()
    return slot


def record_followup(
    session: Session,
    user: Any,
    meeting: MatchmakingMeeting,
    slot_id: int,
    *,
    agreement: bool | None,
    amount: Any = None,
    on: date | None = None,
    note: str = "",
) -> Match | None:
    """Record the follow-up of a pair (about six months later) and carry it to the match.

    Agreement with a contract amount signs the match (then a typical case can be drafted from
    it); no agreement closes it with the note as reason.
    """
    check_organiser(user)
    _after(meeting)
    slot = _slot(meeting, slot_id)
    note = (note or "").strip()
    if len(note) > 2000:
        raise DomainError("跟踪记录不能超过 2000 字。", field="followup")
    value: float | None = None
    if amount not in (None, ""):
        try:
            value = float(amount)
        except (TypeError, ValueError):
            raise DomainError("合同金额应为数字（万元）。", field="followup_amount") from None
        if not value > 0:
            raise DomainError("合同金额应大于 0（万元）。", field="followup_amount")
    if agreement and value is None:
        raise DomainError("达成合作须填写合同金额（万元）。", field="followup_amount")
    if agreement is False and value is not None:
        raise DomainError("未达成合作时不应填写合同金额。", field="followup_amount")
    slot.followup = note or None
    slot.followup_agreement = agreement
    slot.followup_amount = value if agreement else None
    slot.followup_on = on or clock.today()
    session.flush()
    if agreement is None:
        return None
    if agreement:
        return _match_to(
            session,
            user,
            meeting,
            slot,
            "signed",
            f"需求对接会「{meeting.title}」后续跟踪：达成合作" + (f"。{note}" if note else ""),
            value,
        )
    match = session.scalar(
        select(Match).where(Match.demand_id == slot.demand_id, Match.expert_id == slot.expert_id)
    )
    if match is not None and match.status in ("signed", "closed"):
        return match
    return _match_to(
        session,
        user,
        meeting,
        slot,
        "closed",
        f"需求对接会「{meeting.title}」后续跟踪：未达成合作" + (f"。{note}" if note else ""),
    )


def match_of(session: Session, slot: MeetingSlot) -> Match | None:
    """Return the match of a 1:1 pair, if any."""
    return session.scalar(
        select(Match).where(Match.demand_id == slot.demand_id, Match.expert_id == slot.expert_id)
    )
