"""Demand and match workflows: state machines as data, role and scope checks, event history.

Every function takes ``(session, user, ...)``, checks who may do what, changes the rows, writes a
:class:`DemandEvent` / :class:`MatchEvent` (who, when, from, to, why) and never commits: the
request commits once. Errors are domain exceptions with Chinese messages:

- the user may not know the record exists (another district's private demand) -> ``NotFound``;
- the user sees it but their role or scope may not do this -> ``Forbidden``;
- the current status does not allow it -> ``Conflict`` ("当前状态「已发布」不能退回");
- input is missing or wrong -> ``DomainError`` naming the field; a vague or incomplete demand
  refused at submission -> ``IncompleteDemand`` (422) with the effectiveness-check hints.

Pages show buttons from :func:`demand_actions` / :func:`match_actions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.quality import QualityReport, check_demand
from models import (
    Demand,
    DemandEvent,
    Enterprise,
    Expert,
    Industry,
    Match,
    MatchEvent,
    TechField,
    utcnow,
)

from ..errors import Conflict, DomainError, Forbidden, NotFound
from ..policy.statuses import DEMAND_STATUS_LABELS, MATCH_STATUS_LABELS
from ..security import can_see_demand
from .indexing import DEMANDS, bump_version, refresh_demand_tokens
from .search.ranking import rank_of_experts

LIAISON = ("district_liaison",)
DISTRICT_ADMIN = ("district_admin",)
CITY = ("city_admin",)
CAMPUS = ("campus_liaison",)

#: Roles that may create and edit demands (in their own district, while draft or returned).
EDIT_ROLES = LIAISON
EDITABLE_STATUSES = ("draft", "returned")
DEMAND_CODE_PREFIX = "XQ"


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


class IncompleteDemand(DomainError):
    """A demand is too vague or incomplete to be submitted; `errors` carries the hints."""

    status = 422


# --- helpers ------------------------------------------------------------------------------------
def _role(user: Any) -> str | None:
    return getattr(user, "role", None) if user is not None else None


def _label(transitions: Iterable[Transition], action: str) -> str:
    return next((t.label for t in transitions if t.action == action), action)


def _find(transitions: Iterable[Transition], action: str, status: str,
          labels: Mapping[str, str], user: Any) -> Transition:
    """Return the transition for (action, status, role) or raise Forbidden / Conflict."""
    candidates = [t for t in transitions if t.action == action]
    if not candidates:
        raise DomainError(f"未知的操作：{action}", field="action")
    role = _role(user)
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


def _reason(reason: str | None, required: bool, label: str) -> str | None:
    text = (reason or "").strip() or None
    if required and not text:
        raise DomainError(f"请填写{label}的原因。", field="reason")
    if text and len(text) > 2000:
        raise DomainError("原因不能超过 2000 字。", field="reason")
    return text


def _user_id(user: Any) -> int | None:
    # An ApiClient has an id too, but events point at user accounts only.
    return getattr(user, "id", None) if hasattr(user, "username") else None


def sent_institution_ids(session: Session, demand_id: int) -> set[int]:
    """Return the institutions whose experts a demand was sent to."""
    return set(session.scalars(
        select(Expert.institution_id).join(Match, Match.expert_id == Expert.id)
        .where(Match.demand_id == demand_id).distinct()
    ))


def can_view_demand(session: Session, user: Any, demand: Demand) -> bool:
    """Return whether `user` may open this demand at all."""
    return can_see_demand(user, demand, sent_institution_ids(session, demand.id))


def get_demand(session: Session, user: Any, demand_id: int) -> Demand:
    """Return a demand the user may see, else raise NotFound (never reveal that it exists)."""
    demand = session.get(Demand, demand_id)
    if demand is None or not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    return demand


def _check_district(user: Any, demand: Demand) -> None:
    if _role(user) == "city_admin":
        return
    if getattr(user, "district_id", None) != demand.district_id:
        raise Forbidden("只能处理本区的需求。")


def _demand_event(session: Session, user: Any, demand: Demand, old: str | None, new: str,
                  reason: str | None) -> DemandEvent:
    event = DemandEvent(demand=demand, user_id=_user_id(user), at=utcnow(), from_status=old,
                        to_status=new, reason=reason)
    session.add(event)
    return event


# --- demands: create and edit -----------------------------------------------------------------
_KEYWORD_SPLIT = re.compile(r"[,，;；、\s]+")
DEMAND_FIELDS = ("title", "problem", "goals", "investment", "industry_id", "tech_field_id",
                 "keywords", "cooperation_mode", "deadline", "publishable", "enterprise_id",
                 "enterprise_name")


def next_demand_code(session: Session, year: int | None = None) -> str:
    """Return the next demand code of a year, like XQ2026-000123."""
    year = year or utcnow().year
    prefix = f"{DEMAND_CODE_PREFIX}{year}-"
    last = session.scalar(
        select(Demand.code).where(Demand.code.like(f"{prefix}%")).order_by(Demand.code.desc())
        .limit(1)
    )
    seq = 0
    if last:
        try:
            seq = int(last[len(prefix):])
        except ValueError:
            seq = 0
    return f"{prefix}{seq + 1:06d}"


def _keywords(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = _KEYWORD_SPLIT.split(value)
    elif isinstance(value, Iterable):
        parts = [str(v) for v in value]
    else:
        raise DomainError("关键词格式不正确。", field="keywords")
    out = list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))
    if len(out) > 20 or any(len(k) > 30 for k in out):
        raise DomainError("关键词最多 20 个，每个不超过 30 字。", field="keywords")
    return out


def _float(value: Any, field: str, label: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DomainError(f"{label}应为数字。", field=field) from None
    if number != number or number < 0:  # NaN or negative
        raise DomainError(f"{label}不能为负数。", field=field)
    return number


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("截止日期格式应为 YYYY-MM-DD。", field="deadline") from None


def _enterprise(session: Session, user: Any, data: Mapping[str, Any],
                district_id: int) -> Enterprise | None:
    if data.get("enterprise_id"):
        ent = session.get(Enterprise, int(data["enterprise_id"]))
        if ent is None or ent.district_id != district_id:
            raise DomainError("企业不存在或不属于本区。", field="enterprise_id")
        return ent
    name = (data.get("enterprise_name") or "").strip()
    if not name:
        return None
    if len(name) > 120:
        raise DomainError("企业名称不能超过 120 字。", field="enterprise_name")
    ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
    if ent is None:
        ent = Enterprise(name=name, district_id=district_id)
        session.add(ent)
        session.flush()
    elif ent.district_id != district_id:
        raise DomainError("该企业登记在其他区，不能为其录入需求。", field="enterprise_name")
    return ent


def _apply(session: Session, user: Any, demand: Demand, data: Mapping[str, Any]) -> None:
    """Copy the given fields onto a demand with validation (partial update)."""
    if "title" in data:
        title = (data.get("title") or "").strip()
        if not title:
            raise DomainError("请填写需求名称。", field="title")
        if len(title) > 200:
            raise DomainError("需求名称不能超过 200 字。", field="title")
        demand.title = title
    for key in ("problem", "goals"):
        if key in data:
            value = (data.get(key) or "").strip()
            if len(value) > 20000:
                raise DomainError("内容过长（最多 20000 字）。", field=key)
            setattr(demand, key, value)
    if "investment" in data:
        demand.investment = _float(data.get("investment"), "investment", "计划投入")
    if "industry_id" in data:
        value = data.get("industry_id")
        if value not in (None, "") and session.get(Industry, int(value)) is None:
            raise DomainError("行业不存在。", field="industry_id")
        demand.industry_id = int(value) if value not in (None, "") else None
    if "tech_field_id" in data:
        value = data.get("tech_field_id")
        if value not in (None, "") and session.get(TechField, int(value)) is None:
            raise DomainError("技术领域不存在。", field="tech_field_id")
        demand.tech_field_id = int(value) if value not in (None, "") else None
    if "keywords" in data:
        demand.keywords = _keywords(data.get("keywords"))
    if "cooperation_mode" in data:
        mode = (data.get("cooperation_mode") or "").strip() or None
        if mode and len(mode) > 20:
            raise DomainError("合作方式不能超过 20 字。", field="cooperation_mode")
        demand.cooperation_mode = mode
    if "deadline" in data:
        demand.deadline = _date(data.get("deadline"))
    if "publishable" in data:
        demand.publishable = bool(data.get("publishable"))
    if "enterprise_id" in data or "enterprise_name" in data:
        ent = _enterprise(session, user, data, demand.district_id)
        if ent is not None:
            demand.enterprise = ent
            demand.enterprise_id = ent.id


def create_demand(session: Session, user: Any, data: Mapping[str, Any]) -> Demand:
    """Record a new draft demand in the liaison's district."""
    if _role(user) not in EDIT_ROLES:
        raise Forbidden("只有区派联络员可以录入需求。")
    district_id = getattr(user, "district_id", None)
    if district_id is None:
        raise Forbidden("您的账号未关联所属区，不能录入需求。")
    demand = Demand(code=next_demand_code(session), district_id=district_id, status="draft",
                    title="", problem="", goals="", keywords=[], publishable=False,
                    liaison_id=getattr(user, "liaison_id", None))
    if not (data.get("title") or "").strip():
        raise DomainError("请填写需求名称。", field="title")
    _apply(session, user, demand, data)
    if demand.enterprise_id is None and getattr(demand, "enterprise", None) is None:
        raise DomainError("请选择或填写需求企业。", field="enterprise_id")
    refresh_demand_tokens(demand)
    session.add(demand)
    session.flush()
    _demand_event(session, user, demand, None, "draft", None)
    bump_version(session, DEMANDS)
    return demand


def update_demand(session: Session, user: Any, demand: Demand,
                  data: Mapping[str, Any]) -> Demand:
    """Edit a draft or returned demand of the liaison's own district."""
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    if _role(user) not in EDIT_ROLES:
        raise Forbidden("只有区派联络员可以修改需求。")
    _check_district(user, demand)
    if demand.status not in EDITABLE_STATUSES:
        raise Conflict(
            f"当前状态「{DEMAND_STATUS_LABELS.get(demand.status, demand.status)}」不能修改。",
            field="status",
        )
    _apply(session, user, demand, data)
    refresh_demand_tokens(demand)
    demand.updated_at = utcnow()
    session.flush()
    bump_version(session, DEMANDS)
    return demand


# --- demands: transitions -----------------------------------------------------------------------
def check_quality(demand: Demand) -> tuple[QualityReport, list[dict[str, str]]]:
    """Run the effectiveness check and return it with the list of problems blocking submission."""
    report = check_demand(demand.title, demand.problem or "", keywords=list(demand.keywords or []),
                          investment=demand.investment, goals=demand.goals or None)
    problems = [{"code": h.code, "field": h.field, "message": h.message} for h in report.hints]
    if demand.tech_field_id is None:
        problems.append({"code": "no_field", "field": "tech_field_id",
                         "message": "未选择技术领域：请选择需求所属的技术领域。"})
    return report, problems


def transition_demand(session: Session, user: Any, demand: Demand, action: str,
                      reason: str | None = None) -> Demand:
    """Apply a named transition (submit, publish, return, close) to a demand."""
    if action == "match":
        raise DomainError("推荐专家请使用 propose_matches。", field="action")
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    t = _find(DEMAND_TRANSITIONS, action, demand.status, DEMAND_STATUS_LABELS, user)
    _check_district(user, demand)
    why = _reason(reason, t.reason_required, t.label)
    now = utcnow()
    if action == "submit":
        report, problems = check_quality(demand)
        if report.verdict != "specific" or problems:
            raise IncompleteDemand("需求不够具体或不完整，请按提示修改后再提交。",
                                   errors=problems)
        demand.submitted_at = now
        demand.return_reason = None
    elif action == "publish":
        if not demand.publishable:
            raise Conflict("该需求未标记为可公开发布，不能发布；请退回修改或定向推荐专家。",
                           field="publishable")
        demand.published_at = now
    elif action == "return":
        demand.return_reason = why
        demand.returned_at = now
    elif action == "close":
        demand.closed_at = now
    old = demand.status
    demand.status = t.target
    demand.updated_at = now
    _demand_event(session, user, demand, old, t.target, why)
    session.flush()
    if action in ("submit", "close"):
        bump_version(session, DEMANDS)  # the similar-demands index reads non-draft demands
    return demand


def submit_demand(session: Session, user: Any, demand: Demand) -> Demand:
    """Submit a draft or returned demand for review after the effectiveness check."""
    return transition_demand(session, user, demand, "submit")


def publish_demand(session: Session, user: Any, demand: Demand) -> Demand:
    """Publish a submitted, publishable demand of the admin's district."""
    return transition_demand(session, user, demand, "publish")


def return_demand(session: Session, user: Any, demand: Demand, reason: str) -> Demand:
    """Return a submitted demand to the liaison with a reason."""
    return transition_demand(session, user, demand, "return", reason)


def close_demand(session: Session, user: Any, demand: Demand, reason: str | None = None) -> Demand:
    """Close a demand (withdrawn, solved elsewhere, expired)."""
    return transition_demand(session, user, demand, "close", reason)


def demand_actions(session: Session, user: Any, demand: Demand) -> list[str]:
    """Return the actions `user` may take on a demand now (edit, submit, publish ...)."""
    role = _role(user)
    if not can_view_demand(session, user, demand):
        return []
    in_scope = role == "city_admin" or getattr(user, "district_id", None) == demand.district_id
    if not in_scope:
        return []
    out = []
    if role in EDIT_ROLES and demand.status in EDITABLE_STATUSES:
        out.append("edit")
    for t in DEMAND_TRANSITIONS:
        if demand.status in t.sources and role in t.roles and t.action not in out:
            if t.action == "publish" and not demand.publishable:
                continue
            if t.action == "match" and demand.status == "submitted" and demand.publishable:
                continue  # a publishable demand is published first, then matched
            out.append(t.action)
    return out


# --- matches --------------------------------------------------------------------------------------
def _explanation(hit: Any, rank: int | None, version: Any) -> dict[str, Any]:
    if hit is None:
        return {"rank": None, "terms": [], "best_item_title": None, "semantic": False,
                "semantic_item_title": None, "index_version": version}
    return {
        "rank": rank,
        "terms": [[t, round(float(s), 4)] for t, s in hit.terms],
        "best_item_title": hit.best_item_title,
        "semantic": bool(hit.semantic),
        "semantic_item_title": hit.semantic_item_title,
        "index_version": version,
    }



def propose_matches(session: Session, user: Any, demand: Demand, expert_ids: Iterable[int],
                    note: str | None = None) -> list[Match]:
    """Send a shortlist of experts for a demand to their institutions' campus liaisons.

    Creates one `proposed` Match per new expert with the ranker's score and explanation, moves
    the demand to `matched`, and records the events. Experts already on the list are skipped.
    """
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    t = _find(DEMAND_TRANSITIONS, "match", demand.status, DEMAND_STATUS_LABELS, user)
    _check_district(user, demand)
    if demand.status == "submitted" and demand.publishable:
        raise Conflict("可公开发布的需求请先发布，再推荐专家。", field="status")
    ids = list(dict.fromkeys(int(i) for i in expert_ids))
    if not ids:
        raise DomainError("请至少选择一位专家。", field="expert_ids")
    if len(ids) > 50:
        raise DomainError("一次最多推荐 50 位专家。", field="expert_ids")
    experts = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_(ids)))}
    missing = [i for i in ids if i not in experts]
    if missing:
        raise DomainError(f"专家不存在：{', '.join(map(str, missing))}", field="expert_ids")
    existing = set(session.scalars(
        select(Match.expert_id).where(Match.demand_id == demand.id, Match.expert_id.in_(ids))))
    new_ids = [i for i in ids if i not in existing]
    if not new_ids:
        raise Conflict("所选专家均已在该需求的对接名单中。", field="expert_ids")
    chosen = rank_of_experts(session, demand, new_ids)
    ranked, version = chosen.ranks, chosen.version
    why = _reason(note, False, "推荐")
    now = utcnow()
    created = []
    for expert_id in new_ids:
        rank, hit = ranked.get(expert_id, (None, None))
        match = Match(demand=demand, expert=experts[expert_id], status="proposed",
                      score=round(float(hit.score), 6) if hit is not None else None,
                      explanation=_explanation(hit, rank, version),
                      proposed_by_id=_user_id(user), created_at=now, updated_at=now)
        session.add(match)
        session.add(MatchEvent(match=match, user_id=_user_id(user), at=now, from_status=None,
                               to_status="proposed", reason=why))
        created.append(match)
    if demand.status != t.target:
        old = demand.status
        demand.status = t.target
        demand.updated_at = now
        _demand_event(session, user, demand, old, t.target,
                      why or f"推荐专家 {len(created)} 位")
    session.flush()
    return created


def can_view_match(session: Session, user: Any, match: Match) -> bool:
    """Return whether `user` may see a match: its institution, its district, or the city."""
    role = _role(user)
    if role == "city_admin":
        return True
    if role == "campus_liaison":
        return user.institution_id is not None and match.expert.institution_id == (
            user.institution_id)
    if role in ("district_liaison", "district_admin"):
        return user.district_id is not None and match.demand.district_id == user.district_id
    return False


def get_match(session: Session, user: Any, match_id: int) -> Match:
    """Return a match the user may see, else raise NotFound."""
    match = session.get(Match, match_id)
    if match is None or not can_view_match(session, user, match):
        raise NotFound("对接记录不存在，或您无权查看。")
    return match


def transition_match(session: Session, user: Any, match: Match, action: str, *,
                     reason: str | None = None,
                     contract_amount: float | None = None) -> Match:
    """Apply a campus transition (accept, decline, introduce, negotiate, sign, close)."""
    action = MATCH_ACTION_ALIASES.get(action, action)
    if not can_view_match(session, user, match):
        raise NotFound("对接记录不存在，或您无权查看。")
    t = _find(MATCH_TRANSITIONS, action, match.status, MATCH_STATUS_LABELS, user)
    if _role(user) == "campus_liaison" and match.expert.institution_id != user.institution_id:
        raise Forbidden("只能处理本单位专家的对接。")
    why = _reason(reason, t.reason_required, t.label)
    amount = None
    if action == "sign":
        amount = _float(contract_amount, "contract_amount", "合同金额")
        if amount is None or amount <= 0:
            raise DomainError("签约须填写大于 0 的合同金额（万元）。", field="contract_amount")
        match.contract_amount = amount
    if why is not None:
        match.reason = why
    old = match.status
    now = utcnow()
    match.status = t.target
    match.updated_at = now
    session.add(MatchEvent(match=match, user_id=_user_id(user), at=now, from_status=old,
                           to_status=t.target, reason=why, contract_amount=amount))
    session.flush()
    return match


def accept_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Accept a proposed match on behalf of the expert's institution."""
    return transition_match(session, user, match, "accept", reason=reason)


def decline_match(session: Session, user: Any, match: Match, reason: str) -> Match:
    """Decline a proposed match with a reason."""
    return transition_match(session, user, match, "decline", reason=reason)


def introduce_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Record that the expert and the enterprise were introduced."""
    return transition_match(session, user, match, "introduce", reason=reason)


def negotiate_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Record that the two sides are negotiating."""
    return transition_match(session, user, match, "negotiate", reason=reason)


def sign_match(session: Session, user: Any, match: Match, contract_amount: float,
               reason: str | None = None) -> Match:
    """Record a signed contract with its amount (10k CNY, > 0)."""
    return transition_match(session, user, match, "sign", reason=reason,
                            contract_amount=contract_amount)


def close_match(session: Session, user: Any, match: Match, reason: str) -> Match:
    """Close a match that ends without a contract, with a reason."""
    return transition_match(session, user, match, "close", reason=reason)


def match_actions(session: Session, user: Any, match: Match) -> list[str]:
    """Return the actions `user` may take on a match now."""
    role = _role(user)
    if role == "campus_liaison" and match.expert.institution_id != user.institution_id:
        return []
    return [t.action for t in MATCH_TRANSITIONS
            if match.status in t.sources and role in t.roles]
