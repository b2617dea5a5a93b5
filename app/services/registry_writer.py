"""The registries: 企业库, 园区/孵化器, 创投机构, 高校院所 — who may read which rows, the one
writer of each, and the lookups pages need. Takes a session, never commits.

Contact data of an enterprise is the private tier (PRODUCT.md): the page decides with
app.services.contacts.reveal_contact whether to show it in full or masked. Each save writes one
操作日志 row (who, the object, what changed from and to) through app/services/audit.py ``record``;
the imports (app/services/imports/) write one row per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Demand,
    Enterprise,
    Expert,
    Industry,
    Institution,
    Investor,
    Liaison,
    Match,
    Park,
    Visit,
)

from ..demo.content import is_valid_credit_code
from ..errors import DomainError, Forbidden, NotFound
from ..policy.roles import DISTRICT_ROLES, Role
from .audit import record
from .fields import FieldError, check_email, check_phone, normalise_name
from .listing import like

PARK_KINDS = {"park": "产业园区", "incubator": "孵化器"}
INSTITUTION_KINDS = {"university": "高校", "institute": "科研院所"}
INVESTMENT_STAGES = ("种子期", "天使轮", "A轮", "B轮", "C轮及以后", "Pre-IPO")


#: Shown in the log instead of a private value (a phone, an e-mail) that changed.
CHANGED = "（已修改）"


def clean_name(text: str | None) -> str:
    """Return a registry name in normal form: fields.normalise_name, and no inner spaces
    (an organisation's Chinese name has none: "武汉 某某大学" is "武汉某某大学")."""
    return normalise_name(text).replace(" ", "")


def _log(session: Session, user: Any, entity: str, row: Any, before: dict | None,
         after: dict, private: Iterable[str] = ()) -> None:
    """Write the one log row of a save: the fields that changed, from and to (private values
    are not written, only that they changed)."""
    if before is None:
        shown = {k: (CHANGED if k in private else v) for k, v in after.items() if v}
        record(session, user, f"{entity}.create", entity, row.id, after=shown)
        return
    keys = [k for k in after if before.get(k) != after[k]]
    record(session, user, f"{entity}.update", entity, row.id,
           before={k: before.get(k) for k in keys if k not in private} or None,
           after={k: (CHANGED if k in private else after[k]) for k in keys})


def district_scope(user: Any, column: Any) -> Any:
    """Return the where-clause of rows owned by a district: the user's own; the city all."""
    if user.role == Role.CITY_ADMIN:
        return None
    if user.role in DISTRICT_ROLES:
        return column == user.district_id
    return false()


def can_edit(user: Any, district_id: int | None) -> bool:
    """Return whether the user may change a district-owned registry row."""
    if user.role == Role.CITY_ADMIN:
        return True
    return user.role in DISTRICT_ROLES and district_id == user.district_id


def _city_keeps(user: Any, registry: str) -> None:
    """Refuse anyone but the city bureau: it alone keeps the city-wide registries."""
    if user.role != Role.CITY_ADMIN:
        raise Forbidden(f"{registry}由市科技局维护。")


def _taken(session: Session, stmt: Select, row: Any) -> bool:
    """Return whether a row other than `row` answers `stmt` (the name is already in use)."""
    dup = session.scalar(stmt)
    return dup is not None and dup is not row


def _refuse(errors: list[dict[str, str]]) -> None:
    """Raise the per-field errors of a form, the first one as the message."""
    if errors:
        raise DomainError(errors[0]["message"], field=errors[0]["field"], errors=errors)


def _contact_errors(errors: list[dict[str, str]], phone: str, email: str | None = None) -> None:
    """Append the errors of a contact phone and e-mail (the rules of :mod:`.fields`)."""
    checks = [(check_phone, "contact_phone", phone)]
    if email is not None:
        checks.append((check_email, "contact_email", email))
    for check, field, value in checks:
        try:
            check(value, field)
        except FieldError as exc:
            errors.append({"field": field, "message": exc.message})


def _scoped(stmt: Select, user: Any, column: Any) -> Select:
    where = district_scope(user, column)
    return stmt if where is None else stmt.where(where)


# --- enterprises ----------------------------------------------------------------------------
def enterprises(user: Any, *, q: str | None = None, district_id: int | None = None,
                park_id: int | None = None, industry_id: int | None = None,
                key: str | None = None) -> Select:
    """Return the enterprises the user may read, with the list page's filters."""
    stmt = (select(Enterprise).options(selectinload(Enterprise.district),
                                       selectinload(Enterprise.park),
                                       selectinload(Enterprise.industry))
            .order_by(Enterprise.is_key.desc(), Enterprise.name))
    stmt = _scoped(stmt, user, Enterprise.district_id)
    text = (q or "").strip()
    if text:
        stmt = stmt.where(or_(Enterprise.name.ilike(like(text)),
                              Enterprise.credit_code.ilike(like(text))))
    for column, value in ((Enterprise.district_id, district_id), (Enterprise.park_id, park_id),
                          (Enterprise.industry_id, industry_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if key in ("1", "0"):
        stmt = stmt.where(Enterprise.is_key.is_(key == "1"))
    return stmt


def lookup_enterprises(session: Session, user: Any, q: str, limit: int = 10) -> list[Enterprise]:
    """Return up to `limit` enterprises in the user's scope whose name or credit code matches."""
    text = (q or "").strip()
    if not text:
        return []
    stmt = enterprises(user, q=text).limit(limit)
    return list(session.scalars(stmt))


def get_enterprise(session: Session, user: Any, enterprise_id: int) -> Enterprise:
    """Return an enterprise the user may read, or NotFound."""
    stmt = _scoped(select(Enterprise).where(Enterprise.id == enterprise_id), user,
                   Enterprise.district_id)
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("企业不存在，或不在您的查看范围内。")
    return row


@dataclass
class EnterpriseActivity:
    """What the bureau knows of an enterprise: its demands, the visits to it, the matches."""

    demands: list[Demand]
    visits: list[Visit]
    matches: list[Match]
    liaisons: list[Liaison]


def enterprise_activity(session: Session, enterprise: Enterprise) -> EnterpriseActivity:
    """Return the enterprise's demands, visits, matches and assigned liaisons, newest first."""
    demands = list(session.scalars(select(Demand).where(Demand.enterprise_id == enterprise.id)
                                   .order_by(Demand.created_at.desc())))
    visits = list(session.scalars(
        select(Visit).options(selectinload(Visit.liaison), selectinload(Visit.demands))
        .where(Visit.enterprise_id == enterprise.id).order_by(Visit.visited_on.desc())))
    matches = list(session.scalars(
        select(Match).join(Demand).options(selectinload(Match.expert).selectinload(
            Expert.institution), selectinload(Match.demand))
        .where(Demand.enterprise_id == enterprise.id).order_by(Match.updated_at.desc())))
    liaisons = list(session.scalars(select(Liaison).where(
        Liaison.enterprises.any(Enterprise.id == enterprise.id), Liaison.end_date.is_(None))))
    return EnterpriseActivity(demands, visits, matches, liaisons)


@dataclass
class EnterpriseInput:
    """The enterprise form's fields (parsed by app/forms/registry_forms.py)."""

    name: str
    credit_code: str = ""
    district_id: int | None = None
    park_id: int | None = None
    industry_id: int | None = None
    is_key: bool = False
    address: str = ""
    contact_person: str = ""
    contact_phone: str = ""
    contact_email: str = ""


def save_enterprise(session: Session, user: Any, data: EnterpriseInput,
                    enterprise: Enterprise | None = None) -> Enterprise:
    """Create or update an enterprise; one name and one credit code each in the registry."""
    district_id = data.district_id if user.role == Role.CITY_ADMIN else user.district_id
    if enterprise is not None:
        district_id = enterprise.district_id if user.role != Role.CITY_ADMIN else district_id
    if not can_edit(user, district_id):
        raise Forbidden("只能维护本区的企业。")
    errors = []
    name = clean_name(data.name)
    code = clean_name(data.credit_code).upper()
    if district_id is None:
        errors.append({"field": "district_id", "message": "请选择所属区"})
    if not name:
        errors.append({"field": "name", "message": "请填写企业名称"})
    elif _taken(session, select(Enterprise).where(func.lower(Enterprise.name) == name.lower()),
                enterprise):
        errors.append({"field": "name", "message": f"企业库已有“{name}”"})
    if code:
        if not is_valid_credit_code(code):
            errors.append({"field": "credit_code",
                           "message": "统一社会信用代码不正确（应为18位，校验位相符）"})
        else:
            dup = session.scalar(select(Enterprise).where(Enterprise.credit_code == code))
            if dup is not None and dup is not enterprise:
                errors.append({"field": "credit_code", "message": f"该信用代码已属于“{dup.name}”"})
    _contact_errors(errors, data.contact_phone, data.contact_email)
    park = session.get(Park, data.park_id) if data.park_id else None
    if data.park_id and (park is None or park.district_id != district_id):
        errors.append({"field": "park_id", "message": "请选择本区的产业园区（孵化器）"})
    _refuse(errors)
    before = _enterprise_fields(enterprise) if enterprise is not None else None
    if enterprise is None:
        enterprise = Enterprise(name=name, district_id=district_id)
        session.add(enterprise)
    enterprise.name, enterprise.district_id = name, district_id
    enterprise.credit_code = code or None
    enterprise.park = park
    enterprise.industry_id = data.industry_id
    enterprise.is_key = data.is_key
    enterprise.address = data.address.strip() or None
    enterprise.contact_person = data.contact_person.strip() or None
    enterprise.contact_phone = data.contact_phone.strip() or None
    enterprise.contact_email = data.contact_email.strip() or None
    session.flush()
    session.refresh(enterprise, ["district", "industry"])
    _log(session, user, "enterprise", enterprise, before, _enterprise_fields(enterprise),
         private=("联系电话", "电子邮箱"))
    return enterprise


def _enterprise_fields(e: Enterprise) -> dict:
    return {"企业名称": e.name, "信用代码": e.credit_code or "",
            "所属区": e.district.name if e.district else "",
            "园区": e.park.name if e.park else "",
            "行业": e.industry.name if e.industry else "", "重点企业": "是" if e.is_key else "否",
            "地址": e.address or "", "联系人": e.contact_person or "",
            "联系电话": e.contact_phone or "", "电子邮箱": e.contact_email or ""}


# --- parks ----------------------------------------------------------------------------------
def parks(user: Any, *, q: str | None = None, district_id: int | None = None,
          kind: str | None = None) -> Select:
    """Return the parks and incubators the user may read."""
    stmt = select(Park).options(selectinload(Park.district)).order_by(Park.district_id, Park.name)
    stmt = _scoped(stmt, user, Park.district_id)
    if (q or "").strip():
        stmt = stmt.where(Park.name.ilike(like(q.strip())))
    if district_id is not None:
        stmt = stmt.where(Park.district_id == district_id)
    if kind in PARK_KINDS:
        stmt = stmt.where(Park.kind == kind)
    return stmt


def get_park(session: Session, user: Any, park_id: int) -> Park:
    """Return a park the user may read, or NotFound."""
    row = session.scalar(_scoped(select(Park).where(Park.id == park_id), user, Park.district_id))
    if row is None:
        raise NotFound("园区不存在，或不在您的查看范围内。")
    return row


def park_members(session: Session, park: Park) -> tuple[list[Enterprise], list[Liaison]]:
    """Return the park's enterprises and the serving liaisons assigned to it."""
    firms = list(session.scalars(select(Enterprise).where(Enterprise.park_id == park.id)
                                 .order_by(Enterprise.is_key.desc(), Enterprise.name)))
    people = list(session.scalars(select(Liaison).where(
        Liaison.parks.any(Park.id == park.id), Liaison.end_date.is_(None))))
    return firms, people


def save_park(session: Session, user: Any, *, name: str, kind: str, district_id: int | None,
              park: Park | None = None) -> Park:
    """Create or update a park or incubator (one name per district)."""
    district_id = district_id if user.role == Role.CITY_ADMIN else user.district_id
    if park is not None and user.role != Role.CITY_ADMIN:
        district_id = park.district_id
    if not can_edit(user, district_id):
        raise Forbidden("只能维护本区的园区和孵化器。")
    name = clean_name(name)
    errors = [] if name else [{"field": "name", "message": "请填写园区名称"}]
    if kind not in PARK_KINDS:
        errors.append({"field": "kind", "message": "请选择类型"})
    if district_id is None:
        errors.append({"field": "district_id", "message": "请选择所属区"})
    if name and _taken(session, select(Park).where(Park.name == name,
                                                  Park.district_id == district_id), park):
        errors.append({"field": "name", "message": f"本区已有“{name}”"})
    _refuse(errors)
    before = _park_fields(park) if park is not None else None
    if park is None:
        park = Park(name=name, kind=kind, district_id=district_id)
        session.add(park)
    park.name, park.kind, park.district_id = name, kind, district_id
    session.flush()
    session.refresh(park, ["district"])
    _log(session, user, "park", park, before, _park_fields(park))
    return park


def _park_fields(p: Park) -> dict:
    return {"名称": p.name, "类型": PARK_KINDS.get(p.kind, p.kind),
            "所属区": p.district.name if p.district else ""}


# --- investors and institutions (city-wide registries) -------------------------------------
def investors(q: str | None = None, industry_id: int | None = None,
              stage: str | None = None) -> Select:
    """Return the investors, searchable by name or focus, filtered by industry."""
    stmt = select(Investor).options(selectinload(Investor.industries)).order_by(Investor.name)
    if (q or "").strip():
        stmt = stmt.where(or_(Investor.name.ilike(like(q.strip())),
                              Investor.focus.ilike(like(q.strip()))))
    if industry_id is not None:
        stmt = stmt.where(Investor.industries.any(Industry.id == industry_id))
    return stmt


def save_investor(session: Session, user: Any, *, name: str, stages: list[str],
                  ticket_min: float | None, ticket_max: float | None, focus: str,
                  contact_person: str, contact_phone: str, industry_ids: list[int],
                  investor: Investor | None = None) -> Investor:
    """Create or update a venture-capital firm and its preferences (the city keeps them)."""
    _city_keeps(user, "创投机构")
    name = clean_name(name)
    errors = [] if name else [{"field": "name", "message": "请填写机构名称"}]
    if name and _taken(session, select(Investor).where(Investor.name == name), investor):
        errors.append({"field": "name", "message": f"已有“{name}”"})
    if ticket_min is not None and ticket_max is not None and ticket_min > ticket_max:
        errors.append({"field": "ticket_max", "message": "单笔投资上限不能小于下限"})
    if any(s not in INVESTMENT_STAGES for s in stages):
        errors.append({"field": "stages", "message": "请从列表中选择投资阶段"})
    _contact_errors(errors, contact_phone)
    _refuse(errors)
    before = _investor_fields(investor) if investor is not None else None
    if investor is None:
        investor = Investor(name=name)
        session.add(investor)
    investor.name, investor.stages = name, list(stages)
    investor.ticket_min, investor.ticket_max = ticket_min, ticket_max
    investor.focus = focus.strip() or None
    investor.contact_person = contact_person.strip() or None
    investor.contact_phone = contact_phone.strip() or None
    investor.industries = list(session.scalars(select(Industry).where(
        Industry.id.in_(industry_ids))))
    session.flush()
    _log(session, user, "investor", investor, before, _investor_fields(investor),
         private=("联系电话",))
    return investor


def _investor_fields(v: Investor) -> dict:
    return {"机构名称": v.name, "关注行业": "、".join(i.name for i in v.industries),
            "投资阶段": "、".join(v.stages or []),
            "单笔下限（万元）": "" if v.ticket_min is None else f"{v.ticket_min:g}",
            "单笔上限（万元）": "" if v.ticket_max is None else f"{v.ticket_max:g}",
            "投资偏好": v.focus or "", "联系人": v.contact_person or "",
            "联系电话": v.contact_phone or ""}


def institutions(q: str | None = None, kind: str | None = None) -> Select:
    """Return the universities and institutes with their expert counts."""
    experts = (select(func.count()).select_from(Expert)
               .where(Expert.institution_id == Institution.id).scalar_subquery())
    stmt = select(Institution, experts.label("experts")).order_by(Institution.name)
    if (q or "").strip():
        stmt = stmt.where(Institution.name.ilike(like(q.strip())))
    if kind in INSTITUTION_KINDS:
        stmt = stmt.where(Institution.kind == kind)
    return stmt


def save_institution(session: Session, user: Any, *, name: str, kind: str, city: str,
                     institution: Institution | None = None) -> Institution:
    """Create or update a university or institute; a name written twice is one institution."""
    _city_keeps(user, "高校院所")
    name = clean_name(name)
    errors = [] if name else [{"field": "name", "message": "请填写名称"}]
    if kind not in INSTITUTION_KINDS:
        errors.append({"field": "kind", "message": "请选择类型"})
    if name and _taken(session, select(Institution).where(Institution.name == name), institution):
        errors.append({"field": "name", "message": f"已有“{name}”"})
    _refuse(errors)
    before = _institution_fields(institution) if institution is not None else None
    if institution is None:
        institution = Institution(name=name)
        session.add(institution)
    institution.name, institution.kind = name, kind
    institution.city = clean_name(city) or None
    session.flush()
    _log(session, user, "institution", institution, before, _institution_fields(institution))
    return institution


def _institution_fields(i: Institution) -> dict:
    return {"名称": i.name, "类型": INSTITUTION_KINDS.get(i.kind, i.kind),
            "所在城市": i.city or ""}
