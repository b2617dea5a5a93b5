"""The state machines of demands and matches, as data: who may move what from where to where.

People's transitions (DEMAND_TRANSITIONS, MATCH_TRANSITIONS) are checked by :func:`find`;
the system's own (meeting outcomes, imports) are SYSTEM_MATCH_TRANSITIONS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Conflict, DomainError, Forbidden
from ..policy.roles import Role

LIAISON = (Role.DISTRICT_LIAISON,)
DISTRICT_ADMIN = (Role.DISTRICT_ADMIN,)
CITY = (Role.CITY_ADMIN,)
CAMPUS = (Role.CAMPUS_LIAISON,)



@dataclass(frozen=True)
class Transition:
    """One allowed status change: the action, from which statuses, to which, by which roles."""

    action: str
    label: str  # the verb shown to users: 提交, 发布, 退回 ...
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    reason_required: bool = False


#: The demand state machine. "match" is done by :func:`propose_matches`; a demand that may not
#: be published can still be sent privately to chosen experts after the district admin's review.
DEMAND_TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", "提交", ("draft", "returned"), "submitted", LIAISON),
    Transition("publish", "发布", ("submitted",), "published", DISTRICT_ADMIN),
    Transition("return", "退回", ("submitted",), "returned", DISTRICT_ADMIN,
               reason_required=True),
    Transition("match", "推荐专家", ("published", "matched"), "matched",
               LIAISON + DISTRICT_ADMIN + CITY),
    Transition("match", "推荐专家", ("submitted",), "matched", DISTRICT_ADMIN + CITY),
    Transition("close", "关闭", ("draft", "returned"), "closed", LIAISON + DISTRICT_ADMIN + CITY),
    Transition("close", "关闭", ("submitted", "published", "matched"), "closed",
               DISTRICT_ADMIN + CITY),
)

#: The match state machine; every step is the campus liaison's of the expert's institution.
MATCH_TRANSITIONS: tuple[Transition, ...] = (
    Transition("accept", "接受", ("proposed",), "accepted", CAMPUS + CITY),
    Transition("decline", "拒绝", ("proposed",), "declined", CAMPUS + CITY, reason_required=True),
    Transition("introduce", "引荐", ("accepted",), "introduced", CAMPUS + CITY),
    Transition("negotiate", "进入洽谈", ("introduced",), "negotiating", CAMPUS + CITY),
    Transition("sign", "签约", ("introduced", "negotiating"), "signed", CAMPUS + CITY),
    Transition("close", "关闭", ("proposed", "accepted", "introduced", "negotiating"), "closed",
               CAMPUS + CITY, reason_required=True),
)
MATCH_ACTION_ALIASES = {"negotiating": "negotiate", "introduced": "introduce",
                        "accepted": "accept", "declined": "decline", "signed": "sign",
                        "closed": "close"}

DEMAND_ACTIONS = tuple(dict.fromkeys(t.action for t in DEMAND_TRANSITIONS))
MATCH_ACTIONS = tuple(dict.fromkeys(t.action for t in MATCH_TRANSITIONS))



#: Changes made by the system on a person's behalf (meeting outcomes, imports): from -> to.
#: None is a match created by the change. Terminal statuses (declined, signed, closed) stay.
SYSTEM_MATCH_TRANSITIONS: dict[str | None, tuple[str, ...]] = {
    None: ("proposed", "accepted", "introduced", "negotiating", "signed", "closed"),
    "proposed": ("accepted", "introduced", "negotiating", "signed", "closed"),
    "accepted": ("introduced", "negotiating", "signed", "closed"),
    "introduced": ("negotiating", "signed", "closed"),
    "negotiating": ("signed", "closed"),
    "signed": ("signed",),  # a corrected contract amount
}


# --- shared by the writers ---------------------------------------------------------------------
def role_of(user: Any) -> str | None:
    return getattr(user, "role", None) if user is not None else None


def label_of(transitions: Iterable[Transition], action: str) -> str:
    return next((t.label for t in transitions if t.action == action), action)


def find(transitions: Iterable[Transition], action: str, status: str,
          labels: Mapping[str, str], user: Any) -> Transition:
    """Return the transition for (action, status, role) or raise Forbidden / Conflict."""
    candidates = [t for t in transitions if t.action == action]
    if not candidates:
        raise DomainError(f"未知的操作：{action}", field="action")
    role = role_of(user)
    if not any(role in t.roles for t in candidates):
        raise Forbidden(f"您的角色无权执行「{candidates[0].label}」操作。")
    from_here = [t for t in candidates if status in t.sources]
    if not from_here:
        raise Conflict(
            f"当前状态「{labels.get(status, status)}」不能{candidates[0].label}。",
            field="status",
        )
    allowed = [t for t in from_here if role in t.roles]
    if not allowed:
        raise Forbidden(
            f"当前状态「{labels.get(status, status)}」下，您的角色无权{candidates[0].label}。"
        )
    return allowed[0]


def reason_for(reason: str | None, required: bool, label: str) -> str | None:
    text = (reason or "").strip() or None
    if required and not text:
        raise DomainError(f"请填写{label}的原因。", field="reason")
    if text and len(text) > 2000:
        raise DomainError("原因不能超过 2000 字。", field="reason")
    return text


def user_id_of(user: Any) -> int | None:
    # An ApiClient has an id too, but events point at user accounts only.
    return getattr(user, "id", None) if hasattr(user, "username") else None
