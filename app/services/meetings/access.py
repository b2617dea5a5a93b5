"""Who may organise meetings and which meetings they see; which states allow edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, NotFound
from app.policy.roles import Role
from app.policy.statuses import MEETING_STATUS_LABELS
from models import (
    MatchmakingMeeting,
)

#: Who organises matchmaking meetings.
ORGANISER_ROLES = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
EDITABLE = ("draft", "planned")


def check_organiser(user: Any) -> None:
    if getattr(user, "role", None) not in ORGANISER_ROLES:
        raise Forbidden("只有区局管理员和市科技局管理员可以组织对接会。")


def meeting_filter(user: Any):
    """Return the WHERE clause of the meetings `user` may see."""
    if getattr(user, "role", None) == Role.CITY_ADMIN:
        return MatchmakingMeeting.id.is_not(None)
    if getattr(user, "role", None) == Role.DISTRICT_ADMIN and user.district_id is not None:
        return MatchmakingMeeting.district_id == user.district_id
    return MatchmakingMeeting.id.is_(None)


def get_meeting(session: Session, user: Any, meeting_id: int) -> MatchmakingMeeting:
    """Return a meeting the user organises, else raise NotFound / Forbidden."""
    check_organiser(user)
    meeting = session.get(MatchmakingMeeting, meeting_id)
    if meeting is None:
        raise NotFound("对接会不存在。")
    if user.role != Role.CITY_ADMIN and meeting.district_id != user.district_id:
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
