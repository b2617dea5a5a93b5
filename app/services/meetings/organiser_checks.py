"""Who may organise meetings, the meeting a request names (scoped by ``policy.scope``), and
which states allow edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, NotFound
from app.policy.roles import Role
from app.policy.scope import meeting_scope
from app.policy.statuses import MEETING_STATUS_LABELS
from models import MatchmakingMeeting

#: Who organises matchmaking meetings.
ORGANISER_ROLES = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
EDITABLE = ("draft", "planned")


def check_organiser(user: Any) -> None:
    if getattr(user, "role", None) not in ORGANISER_ROLES:
        raise Forbidden("只有区局管理员和市科技局管理员可以组织对接会。")


def get_meeting(session: Session, user: Any, meeting_id: int) -> MatchmakingMeeting:
    """Return a meeting the user organises, else raise NotFound / Forbidden."""
    check_organiser(user)
    meeting = session.scalar(select(MatchmakingMeeting).where(
        MatchmakingMeeting.id == meeting_id, meeting_scope(user)))
    if meeting is None:
        raise NotFound("对接会不存在，或您无权查看。")
    return meeting


def session_row(meeting: MatchmakingMeeting, kind: str, row_id: int, missing: str) -> Any:
    """Return row `row_id` of the meeting's sessions' `kind` (invitations, slots), or NotFound."""
    for ms in meeting.sessions:
        for row in getattr(ms, kind):
            if row.id == row_id:
                return row
    raise NotFound(missing)


def check_editable(meeting: MatchmakingMeeting) -> None:
    if meeting.status not in EDITABLE:
        label = MEETING_STATUS_LABELS.get(meeting.status, meeting.status)
        raise Conflict(f"对接会当前状态为「{label}」，不能再调整方案。", field="status")
