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

from collections.abc import Callable, Mapping
from functools import partial
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
    TechField,
    utcnow,
)

from .. import clock
from ..errors import Conflict, DomainError, Forbidden, NotFound
from ..policy import access
from ..policy.statuses import DEMAND_STATUS_LABELS, EDITABLE_DEMAND_STATUSES
from . import fields, sequences
from .audit import record
from .indexing import DEMANDS, bump_version, refresh_demand_tokens
from .state_machines import (
    DEMAND_TRANSITIONS,
    LIAISON,
    find,
    reason_for,
    role_of,
    user_id_of,
)

#: Roles that may create and edit demands (in their own district, while draft or returned).
EDIT_ROLES = LIAISON
EDITABLE_STATUSES = EDITABLE_DEMAND_STATUSES
DEMAND_CODE_PREFIX = "XQ"
COOPERATION_MODES = ("技术开发", "技术转让", "技术许可", "技术咨询", "技术服务", "合作研发",
                     "人才引进", "其他")


class IncompleteDemand(DomainError):
    """A demand is too vague or incomplete to be submitted; `errors` carries the hints."""

    status = 422


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
    event = DemandEvent(demand=demand, user_id=user_id_of(user), at=utcnow(), from_status=old,
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


def _cooperation_mode(value: Any) -> str | None:
    """Return a cooperation mode of the list, or None for blank."""
    mode = fields.clean_text(value, "cooperation_mode", "合作方式", max_len=20)
    if mode and mode not in COOPERATION_MODES:
        raise fields.FieldError("cooperation_mode", "请从列表中选择合作方式。")
    return mode or None


def _enterprise_name(value: Any) -> str:
    """Return the enterprise's name in normal form; a demand always names one."""
    name = fields.normalise_name(fields.clean_text(value, "enterprise_name", "企业名称",
                                                   max_len=120))
    if not name:
        raise fields.FieldError("enterprise_name", "请选择或填写需求企业。")
    return name


#: The field rules of a demand, one per field, for the page's form and the API alike: each takes
#: the value as typed or sent and returns it clean, or raises `FieldError` in Chinese. Rules that
#: need the database (the enterprise's district, an industry that exists) stay in `_apply`.
DEMAND_FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "title": partial(fields.clean_text, field="title", label="需求名称", max_len=200,
                     required=True),
    "enterprise_name": _enterprise_name,
    "contact_person": partial(fields.clean_text, field="contact_person", label="企业联系人",
                              max_len=40),
    "contact_phone": partial(fields.check_phone, field="contact_phone"),
    "contact_email": partial(fields.check_email, field="contact_email"),
    "problem": partial(fields.clean_text, field="problem", label="技术难题"),
    "goals": partial(fields.clean_text, field="goals", label="预期目标"),
    "investment": partial(fields.check_number, field="investment", label="计划投入"),
    "industry_id": partial(fields.check_id, field="industry_id", label="行业"),
    "tech_field_id": partial(fields.check_id, field="tech_field_id", label="技术领域"),
    "keywords": fields.check_keywords,
    "cooperation_mode": _cooperation_mode,
    "deadline": partial(fields.check_date, field="deadline", label="截止日期"),
}
_check = DEMAND_FIELD_CHECKS
#: Ids a demand refers to: the table that must hold them, the message when it does not.
_REFERENCES = {"industry_id": (Industry, "行业不存在。"),
               "tech_field_id": (TechField, "技术领域不存在。")}


def _enterprise(session: Session, data: Mapping[str, Any], district_id: int) -> Enterprise:
    """Return the demand's enterprise: picked from the registry, or created when asked to."""
    if data.get("enterprise_id"):
        ent_id = fields.check_id(data["enterprise_id"], "enterprise_id", "企业")
        ent = session.get(Enterprise, ent_id) if ent_id else None
        if ent is None or ent.district_id != district_id:
            raise DomainError("企业不存在或不属于本区。", field="enterprise_id")
        return ent
    name = _check["enterprise_name"](data.get("enterprise_name"))
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
        ent.contact_person = _check["contact_person"](data.get("contact_person")) \
            or ent.contact_person
    for key in ("contact_phone", "contact_email"):
        if data.get(key):  # a blank keeps the stored contact
            setattr(ent, key, _check[key](data[key]))


def _apply(session: Session, user: Any, demand: Demand, data: Mapping[str, Any]) -> None:
    """Copy the given fields onto a demand with validation (partial update)."""
    for key in ("title", "problem", "goals", "investment", "industry_id", "tech_field_id",
                "keywords", "cooperation_mode", "deadline"):
        if key not in data:
            continue
        value = _check[key](data.get(key))
        table, missing = _REFERENCES.get(key, (None, ""))
        if table is not None and value is not None and session.get(table, value) is None:
            raise DomainError(missing, field=key)
        setattr(demand, key, value)
    if "publishable" in data:
        demand.publishable = bool(data.get("publishable"))
    if data.get("enterprise_id") or "enterprise_name" in data:
        ent = _enterprise(session, data, demand.district_id)
        demand.enterprise = ent
        demand.enterprise_id = ent.id
    if demand.enterprise is not None:
        _contact(demand.enterprise, data)


def create_demand(session: Session, user: Any, data: Mapping[str, Any]) -> Demand:
    """Record a new draft demand in the liaison's district."""
    if role_of(user) not in EDIT_ROLES:
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
    record(session, user, "demand.create", "demand", demand.id,
           after=DEMAND_STATUS_LABELS["draft"])
    bump_version(session, DEMANDS)
    return demand


def update_demand(session: Session, user: Any, demand: Demand,
                  data: Mapping[str, Any]) -> Demand:
    """Edit a draft or returned demand of the liaison's own district."""
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    if role_of(user) not in EDIT_ROLES:
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
    record(session, user, "demand.update", "demand", demand.id)
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
    t = find(DEMAND_TRANSITIONS, action, demand.status, DEMAND_STATUS_LABELS, user)
    _check_district(user, demand)
    why = reason_for(reason, t.reason_required, t.label)
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
    record(session, user, f"demand.{action}", "demand", demand.id,
           before=DEMAND_STATUS_LABELS.get(old, old), after=DEMAND_STATUS_LABELS[t.target],
           reason=why or override)
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
    role = role_of(user)
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
