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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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

from .. import clock
from ..errors import Conflict, DomainError, Forbidden, NotFound
from ..policy import access
from ..policy.roles import Role
from ..policy.statuses import DEMAND_STATUS_LABELS, EDITABLE_DEMAND_STATUSES, MATCH_STATUS_LABELS
from . import fields, sequences
from .indexing import DEMANDS, bump_version, refresh_demand_tokens
from .search.ranking import rank_of_experts

LIAISON = (Role.DISTRICT_LIAISON,)
DISTRICT_ADMIN = (Role.DISTRICT_ADMIN,)
CITY = (Role.CITY_ADMIN,)
CAMPUS = (Role.CAMPUS_LIAISON,)

#: Roles that may create and edit demands (in their own district, while draft or returned).
EDIT_ROLES = LIAISON
EDITABLE_STATUSES = EDITABLE_DEMAND_STATUSES
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
    return access.can_view_demand(user, demand, sent_institution_ids(session, demand.id))


def get_demand(session: Session, user: Any, demand_id: int) -> Demand:
    """Return a demand the user may see, else raise NotFound (never reveal that it exists)."""
    demand = session.get(Demand, demand_id)
    if demand is None or not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    return demand


def _check_district(user: Any, demand: Demand) -> None:
    if not access.can_manage_demand(user, demand):
        raise Forbidden("只能处理本区的需求。")


def _demand_event(session: Session, user: Any, demand: Demand, old: str | None, new: str,
                  reason: str | None) -> DemandEvent:
    event = DemandEvent(demand=demand, user_id=_user_id(user), at=utcnow(), from_status=old,
                        to_status=new, reason=reason)
    session.add(event)
    return event


# --- demands: create and edit -----------------------------------------------------------------
DEMAND_FIELDS = ("title", "problem", "goals", "investment", "industry_id", "tech_field_id",
                 "keywords", "cooperation_mode", "deadline", "publishable", "enterprise_id",
                 "enterprise_name")


def next_demand_code(session: Session, year: int | None = None) -> str:
    """Return the next demand code of a (Beijing) year, like XQ2026-000123; never a duplicate."""
    year = year or clock.this_year()
    prefix = f"{DEMAND_CODE_PREFIX}{year}-"

    def highest_stored() -> int:
        last = session.scalar(select(Demand.code).where(Demand.code.like(f"{prefix}%"))
                              .order_by(Demand.code.desc()).limit(1))
        tail = last[len(prefix):] if last else ""
        return int(tail) if tail.isdigit() else 0

    while True:  # an imported demand may already hold the counter's next code: skip it
        code = f"{prefix}{sequences.next_value(session, f'demand_code:{year}', highest_stored):06d}"
        if session.scalar(select(Demand.id).where(Demand.code == code)) is None:
            return code


def _contract_amount(value: Any) -> float:
    """Return a signed contract's amount in 万元: a finite number above 0."""
    amount = fields.check_number(value, "contract_amount", "合同金额")
    if amount is None or amount <= 0:
        raise DomainError("签约须填写大于 0 的合同金额（万元）。", field="contract_amount")
    return amount


def _enterprise(session: Session, data: Mapping[str, Any], district_id: int) -> Enterprise | None:
    """Return the demand's enterprise: picked from the registry, or created when asked to."""
    if data.get("enterprise_id"):
        ent_id = fields.check_id(data["enterprise_id"], "enterprise_id", "企业")
        ent = session.get(Enterprise, ent_id) if ent_id else None
        if ent is None or ent.district_id != district_id:
            raise DomainError("企业不存在或不属于本区。", field="enterprise_id")
        return ent
    name = fields.normalise_name(fields.clean_text(data.get("enterprise_name"), "enterprise_name",
                                                   "企业名称", max_len=120))
    if not name:
        return None
    ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
    if ent is None:
        if not data.get("new_enterprise"):
            raise DomainError(f"企业库中没有「{name}」：请从列表中选择企业，"
                              "或勾选“新建企业”后保存。", field="enterprise_name")
        try:
            with session.begin_nested():  # two liaisons creating one enterprise at once
                ent = Enterprise(name=name, district_id=district_id)
                session.add(ent)
        except IntegrityError:
            ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
    if ent.district_id != district_id:
        raise DomainError("该企业登记在其他区，不能为其录入需求。", field="enterprise_name")
    return ent


def _contact(ent: Enterprise, data: Mapping[str, Any]) -> None:
    """Record the enterprise's contact person, phone and e-mail given with a demand."""
    if "contact_person" in data:
        person = fields.clean_text(data.get("contact_person"), "contact_person", "企业联系人",
                                   max_len=40)
        ent.contact_person = person or ent.contact_person
    if data.get("contact_phone"):
        ent.contact_phone = fields.check_phone(data["contact_phone"], "contact_phone")
    if data.get("contact_email"):
        ent.contact_email = fields.check_email(data["contact_email"], "contact_email")


def _apply(session: Session, user: Any, demand: Demand, data: Mapping[str, Any]) -> None:
    """Copy the given fields onto a demand with validation (partial update)."""
    if "title" in data:
        demand.title = fields.clean_text(data.get("title"), "title", "需求名称", max_len=200,
                                         required=True)
    for key, label in (("problem", "技术难题"), ("goals", "预期目标")):
        if key in data:
            setattr(demand, key, fields.clean_text(data.get(key), key, label))
    if "investment" in data:
        demand.investment = fields.check_number(data.get("investment"), "investment", "计划投入")
    if "industry_id" in data:
        value = fields.check_id(data.get("industry_id"), "industry_id", "行业")
        if value is not None and session.get(Industry, value) is None:
            raise DomainError("行业不存在。", field="industry_id")
        demand.industry_id = value
    if "tech_field_id" in data:
        value = fields.check_id(data.get("tech_field_id"), "tech_field_id", "技术领域")
        if value is not None and session.get(TechField, value) is None:
            raise DomainError("技术领域不存在。", field="tech_field_id")
        demand.tech_field_id = value
    if "keywords" in data:
        demand.keywords = fields.check_keywords(data.get("keywords"))
    if "cooperation_mode" in data:
        demand.cooperation_mode = fields.clean_text(
            data.get("cooperation_mode"), "cooperation_mode", "合作方式", max_len=20) or None
    if "deadline" in data:
        demand.deadline = fields.check_date(data.get("deadline"), "deadline", "截止日期")
    if "publishable" in data:
        demand.publishable = bool(data.get("publishable"))
    if "enterprise_id" in data or "enterprise_name" in data:
        ent = _enterprise(session, data, demand.district_id)
        if ent is not None:
            demand.enterprise = ent
            demand.enterprise_id = ent.id
    if demand.enterprise is not None:
        _contact(demand.enterprise, data)


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
def check_quality(demand: Demand) -> tuple[QualityReport, list[dict[str, Any]]]:
    """Run the effectiveness check; return it with every problem (``blocking`` ones stop submit).

    The one decision of the intake panel, the submission and the review queue: keywords,
    deadline (against today in Beijing) and the technical field included.
    """
    report = check_demand(demand.title, demand.problem or "", keywords=list(demand.keywords or []),
                          investment=demand.investment, goals=demand.goals or None,
                          deadline=demand.deadline, today=clock.today())
    problems = [{"code": h.code, "field": h.field, "message": h.message, "blocking": h.blocking}
                for h in report.hints]
    if demand.tech_field_id is None:
        problems.append({"code": "no_field", "field": "tech_field_id", "blocking": True,
                         "message": "未选择技术领域：请选择需求所属的技术领域。"})
    return report, problems


def transition_demand(session: Session, user: Any, demand: Demand, action: str,
                      reason: str | None = None, *, override_reason: str | None = None) -> Demand:
    """Apply a named transition (submit, publish, return, close) to a demand.

    Publishing a demand the effectiveness check calls vague needs ``override_reason``, the
    admin's written reason, which is kept on the publish event.
    """
    if action == "match":
        raise DomainError("推荐专家请使用 propose_matches。", field="action")
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    t = _find(DEMAND_TRANSITIONS, action, demand.status, DEMAND_STATUS_LABELS, user)
    _check_district(user, demand)
    why = _reason(reason, t.reason_required, t.label)
    override = None
    now = utcnow()
    if action == "submit":
        report, problems = check_quality(demand)
        if report.verdict != "specific" or any(p["blocking"] for p in problems):
            raise IncompleteDemand("需求不够具体或不完整，请按提示修改后再提交。",
                                   errors=problems)
        demand.submitted_at = now
        demand.return_reason = None
    elif action == "publish":
        if not demand.publishable:
            raise Conflict("该需求未标记为可公开发布，不能发布；请退回修改或定向推荐专家。",
                           field="publishable")
        override = _override(demand, override_reason)
        demand.published_at = now
    elif action == "return":
        demand.return_reason = why
        demand.returned_at = now
    elif action == "close":
        demand.closed_at = now
    old = demand.status
    demand.status = t.target
    demand.updated_at = now
    event = _demand_event(session, user, demand, old, t.target, why)
    if action == "publish":
        event.quality_override = override
    session.flush()
    if action in ("submit", "close"):
        bump_version(session, DEMANDS)  # the similar-demands index reads non-draft demands
    return demand


def _override(demand: Demand, reason: str | None) -> str | None:
    """Return the override reason a vague demand needs to be published (None when specific)."""
    report, _problems = check_quality(demand)
    if report.verdict == "specific":
        return None
    text = (reason or "").strip()
    if len(text) < 5:
        raise DomainError(f"有效性检查认为该需求不够具体（{report.score} 分）：如仍要发布，请填写"
                          "不少于 5 字的发布理由，理由将记入需求的处理记录。",
                          field="override_reason")
    if len(text) > 2000:
        raise DomainError("发布理由不能超过 2000 字。", field="override_reason")
    return text


def recent_overrides(session: Session, district_id: int | None,
                     limit: int = 10) -> list[tuple[DemandEvent, Demand]]:
    """Return the district's latest publications that overrode the effectiveness check."""
    stmt = (select(DemandEvent, Demand).join(Demand, Demand.id == DemandEvent.demand_id)
            .where(DemandEvent.quality_override.is_not(None))
            .order_by(DemandEvent.at.desc(), DemandEvent.id.desc()).limit(limit))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    return [(event, demand) for event, demand in session.execute(stmt)]


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


#: The timestamp an imported status stands for (an import records history, it skips review).
_STATUS_STAMPS = {"submitted": "submitted_at", "published": "published_at",
                  "returned": "returned_at", "closed": "closed_at"}


def import_demand_status(demand: Demand, status: str, *, reason: str) -> None:
    """Set the status an import file gives a demand: the system transition of imports.

    An import carries a demand's recorded state from another system, so any status is allowed;
    the change is written as an event with the import's reason and its timestamp is stamped.
    """
    if status not in DEMAND_STATUS_LABELS:
        raise DomainError(f"'{status}' 不是有效状态。", field="status")
    old = demand.status if demand.id is not None else None
    if old == status:
        return
    now = utcnow()
    demand.events.append(DemandEvent(at=now, from_status=old, to_status=status, reason=reason))
    demand.status = status
    stamp = _STATUS_STAMPS.get(status)
    if stamp and getattr(demand, stamp) is None:
        setattr(demand, stamp, now)
    if status == "matched" and demand.published_at is None and demand.publishable:
        demand.published_at = now


def demand_actions(session: Session, user: Any, demand: Demand) -> list[str]:
    """Return the actions `user` may take on a demand now (edit, submit, publish ...)."""
    role = _role(user)
    if not can_view_demand(session, user, demand):
        return []
    if not access.can_manage_demand(user, demand):
        return []
    out = []
    if access.can_edit_demand(user, demand):
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
    """Return whether `user` may see a match (the rule is app.policy.access.can_view_match)."""
    return access.can_view_match(user, match)


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
    if not access.can_act_on_match(user, match):
        raise Forbidden("只能处理本单位专家的对接。")
    why = _reason(reason, t.reason_required, t.label)
    amount = None
    if action == "sign":
        amount = _contract_amount(contract_amount)
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


def apply_system_transition(session: Session, match: Match, target: str, *, user: Any = None,
                            reason: str, contract_amount: float | None = None) -> Match:
    """Move a match to `target` on the system's authority (a meeting outcome), with an event.

    The only writer of ``Match.status`` besides :func:`transition_match`; refuses a change the
    system table does not allow with a Chinese message naming both statuses.
    """
    old = match.status  # None: a match this change creates
    allowed = SYSTEM_MATCH_TRANSITIONS.get(old, ())
    if target not in allowed:
        raise Conflict(f"对接状态「{MATCH_STATUS_LABELS.get(old or '', old or '新建')}」"
                       f"不能改为「{MATCH_STATUS_LABELS.get(target, target)}」。", field="status")
    amount = None
    if target == "signed":
        amount = _contract_amount(contract_amount)
        if old == "signed" and match.contract_amount == amount:
            return match
        match.contract_amount = amount
    if target == "closed":
        match.reason = reason
    now = utcnow()
    match.status = target
    match.updated_at = now
    session.add(MatchEvent(match=match, user_id=_user_id(user), at=now, from_status=old,
                           to_status=target, reason=reason, contract_amount=amount))
    demand = match.demand
    if old is None and demand is not None and demand.status == "published":
        # the demand's first match: published -> matched, as proposing does
        _demand_event(session, user, demand, "published", "matched", reason)
        demand.status = "matched"
        demand.updated_at = now
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
    if not access.can_act_on_match(user, match):
        return []
    return [t.action for t in MATCH_TRANSITIONS
            if match.status in t.sources and role in t.roles]
