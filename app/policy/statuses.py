"""Status groups and the one label table for demands, matches and meetings."""

from __future__ import annotations

DEMAND_STATUS_LABELS: dict[str, str] = {
    "draft": "草稿",
    "submitted": "待审核",
    "returned": "已退回",
    "published": "已发布",
    "matched": "已对接",
    "closed": "已关闭",
}
MATCH_STATUS_LABELS: dict[str, str] = {
    "proposed": "待高校确认",
    "accepted": "已接受",
    "declined": "已婉拒",
    "introduced": "已引荐",
    "negotiating": "洽谈中",
    "signed": "已签约",
    "closed": "已结束",
}
MEETING_STATUS_LABELS: dict[str, str] = {
    "draft": "草稿",
    "planned": "已排期",
    "confirmed": "已确认",
    "held": "已召开",
}
CASE_STATUS_LABELS: dict[str, str] = {
    "draft": "草稿",
    "reported": "已报送",
}

#: A demand the liaison may still edit.
EDITABLE_DEMAND_STATUSES: tuple[str, ...] = ("draft", "returned")
#: Statuses in which a publishable demand is on the platform (and visible beyond its district).
PUBLIC_DEMAND_STATUSES: tuple[str, ...] = ("published", "matched")
#: A match the campus side has taken on: contacts may flow, it counts as a solution.
ENGAGED_MATCH_STATUSES: tuple[str, ...] = ("accepted", "introduced", "negotiating", "signed")
#: A match still waiting for or in work (not declined, signed or closed).
OPEN_MATCH_STATUSES: tuple[str, ...] = ("proposed", "accepted", "introduced", "negotiating")

_TABLES = {
    "demand": DEMAND_STATUS_LABELS,
    "match": MATCH_STATUS_LABELS,
    "meeting": MEETING_STATUS_LABELS,
    "case": CASE_STATUS_LABELS,
}
#: The label tables by kind, for the templates' status badges (``_macros.html``).
STATUS_LABELS: dict[str, dict[str, str]] = _TABLES


def status_label(kind: str, status: str | None) -> str:
    """Return the Chinese label of a status of `kind` ('demand', 'match', 'meeting' or 'case')."""
    if not status:
        return ""
    return _TABLES[kind].get(status, status)
