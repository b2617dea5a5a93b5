"""The visit log (走访记录): record a visit, who may see it, the coverage of assigned parks and
key enterprises, and a liaison's monthly work report. Takes a session, never commits."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session, selectinload

from models import Demand, Enterprise, Liaison, Match, Park, Visit

from .. import clock
from ..errors import DomainError, Forbidden, NotFound
from ..policy.roles import DISTRICT_ROLES, Role
from ..policy.statuses import status_label
from .listing import like
from .programme.queries import district_liaisons, districts_of


# --- scope ----------------------------------------------------------------------------------
def scope_clause(user: Any) -> Any:
    """Return the visits `user` may read: a liaison their own, a district its own, the city all.

    (Written here until app/policy/scope.py gathers the where-clauses of every list.)
    """
    if user.role == Role.CITY_ADMIN:
        return None
    if user.role == Role.DISTRICT_LIAISON:
        return Visit.liaison_id == user.liaison_id if user.liaison_id else false()
    if user.role in DISTRICT_ROLES:
        return Visit.district_id == user.district_id
    return false()


def can_record(user: Any) -> bool:
    """Return whether the user records visits (district liaisons and district admins)."""
    return user.role in DISTRICT_ROLES


def get_visit(session: Session, user: Any, visit_id: int) -> Visit:
    """Return a visit the user may read, or NotFound."""
    stmt = select(Visit).where(Visit.id == visit_id).options(
        selectinload(Visit.demands), selectinload(Visit.liaison))
    where = scope_clause(user)
    if where is not None:
        stmt = stmt.where(where)
    visit = session.scalar(stmt)
    if visit is None:
        raise NotFound("走访记录不存在，或不在您的查看范围内。")
    return visit


def visits(user: Any, *, q: str | None = None, year: int | None = None,
           month: int | None = None, liaison_id: int | None = None,
           district_id: int | None = None) -> Select:
    """Return the visits the user may read, newest first, with the page's filters."""
    stmt = (select(Visit).options(selectinload(Visit.liaison), selectinload(Visit.park),
                                  selectinload(Visit.enterprise), selectinload(Visit.demands),
                                  selectinload(Visit.district))
            .order_by(Visit.visited_on.desc(), Visit.id.desc()))
    where = scope_clause(user)
    if where is not None:
        stmt = stmt.where(where)
    if year is not None:
        lo, hi = (date(year, month, 1), _next_month(year, month)) if month else (
            date(year, 1, 1), date(year + 1, 1, 1))
        stmt = stmt.where(Visit.visited_on >= lo, Visit.visited_on < hi)
    if liaison_id is not None:
        stmt = stmt.where(Visit.liaison_id == liaison_id)
    if district_id is not None:
        stmt = stmt.where(Visit.district_id == district_id)
    text = (q or "").strip()
    if text:
        stmt = stmt.outerjoin(Enterprise, Enterprise.id == Visit.enterprise_id).outerjoin(
            Park, Park.id == Visit.park_id).where(or_(
                Enterprise.name.ilike(like(text)), Park.name.ilike(like(text)),
                Visit.people_met.ilike(like(text)), Visit.findings.ilike(like(text))))
    return stmt


def _next_month(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


# --- recording ------------------------------------------------------------------------------
@dataclass
class VisitInput:
    """What a visit form carries (already parsed by app/forms/visit_form.py)."""

    visited_on: date
    liaison_id: int | None
    park_id: int | None
    enterprise_id: int | None
    people_met: str
    findings: str
    follow_up: str = ""
    demand_ids: Sequence[int] = field(default_factory=tuple)


def save_visit(session: Session, user: Any, data: VisitInput) -> Visit:
    """Record a visit; the place, the liaison and the demands must be the district's own."""
    if not can_record(user):
        raise Forbidden("只有区派联络员和区科技主管部门可以登记走访记录。")
    errors: list[dict[str, str]] = []
    if data.visited_on > clock.today():
        errors.append({"field": "visited_on", "message": "走访日期不能晚于今天"})
    liaison_id = user.liaison_id if user.role == Role.DISTRICT_LIAISON else data.liaison_id
    liaison = session.get(Liaison, liaison_id) if liaison_id else None
    if liaison is None or liaison.kind != "district" or liaison.district_id != user.district_id:
        errors.append({"field": "liaison_id", "message": "请选择本区联络员"})
    if data.park_id is None and data.enterprise_id is None:
        errors.append({"field": "enterprise_id", "message": "请选择走访的企业或产业园区（孵化器）"})
    park = session.get(Park, data.park_id) if data.park_id else None
    if data.park_id and (park is None or park.district_id != user.district_id):
        errors.append({"field": "park_id", "message": "请选择本区的产业园区（孵化器）"})
    firm = session.get(Enterprise, data.enterprise_id) if data.enterprise_id else None
    if data.enterprise_id and (firm is None or firm.district_id != user.district_id):
        errors.append({"field": "enterprise_id", "message": "请选择本区的企业"})
    demands = list(session.scalars(select(Demand).where(Demand.id.in_(list(data.demand_ids)))))
    if any(d.district_id != user.district_id for d in demands):
        errors.append({"field": "demand_ids", "message": "只能关联本区登记的需求"})
    if errors:
        raise DomainError(errors[0]["message"], field=errors[0]["field"], errors=errors)
    visit = Visit(visited_on=data.visited_on, liaison=liaison, district_id=user.district_id,
                  park=park, enterprise=firm, people_met=data.people_met.strip(),
                  findings=data.findings.strip(), follow_up=data.follow_up.strip() or None,
                  demands=demands, created_by_id=getattr(user, "id", None))
    session.add(visit)
    session.flush()
    return visit


# --- coverage -------------------------------------------------------------------------------
@dataclass
class LiaisonCoverage:
    """One liaison's visits in a year: counts, demands raised, what is still unvisited."""

    liaison: Liaison
    visits: int = 0
    demands_raised: int = 0
    demands_recorded: int = 0
    unvisited_parks: list[Park] = field(default_factory=list)
    unvisited_enterprises: list[Enterprise] = field(default_factory=list)
    assigned: int = 0

    @property
    def covered_share(self) -> float | None:
        """Return the share of assigned parks and key enterprises visited (None: none assigned)."""
        if not self.assigned:
            return None
        missing = len(self.unvisited_parks) + len(self.unvisited_enterprises)
        return (self.assigned - missing) / self.assigned


@dataclass
class Coverage:
    """The coverage view of a year for one district or the city."""

    year: int
    liaisons: list[LiaisonCoverage]
    industries: list[tuple[str, int, int]]  # (industry, visits, demands recorded)

    @property
    def totals(self) -> dict[str, int]:
        """Return visits, demands raised and unvisited places summed over the liaisons."""
        return {
            "visits": sum(c.visits for c in self.liaisons),
            "demands_raised": sum(c.demands_raised for c in self.liaisons),
            "unvisited": sum(len(c.unvisited_parks) + len(c.unvisited_enterprises)
                             for c in self.liaisons),
            "assigned": sum(c.assigned for c in self.liaisons),
        }


def coverage(session: Session, year: int, *, district_id: int | None = None,
             liaison_id: int | None = None) -> Coverage:
    """Return, for the liaisons serving in `year`, their visits and demands and the assigned
    parks and key enterprises they have not visited that year; and visits per industry."""
    ids = [d.id for d in districts_of(session, district_id)]
    as_of = min(clock.today(), date(year, 12, 31))
    people = [li for li in district_liaisons(session, ids, year) if li.active_on(as_of)]
    if liaison_id is not None:
        people = [li for li in people if li.id == liaison_id]
    lo, hi = date(year, 1, 1), date(year, 12, 31)
    visit_stmt = (select(Visit).options(selectinload(Visit.demands),
                                        selectinload(Visit.enterprise)
                                        .selectinload(Enterprise.industry))
                  .where(Visit.district_id.in_(ids), Visit.visited_on >= lo,
                         Visit.visited_on <= hi))
    demand_stmt = select(Demand).options(selectinload(Demand.industry)).where(
        Demand.district_id.in_(ids), Demand.created_at >= clock.year_bounds(year)[0],
        Demand.created_at < clock.year_bounds(year)[1])
    if liaison_id is not None:  # one liaison's own balance
        visit_stmt = visit_stmt.where(Visit.liaison_id == liaison_id)
        demand_stmt = demand_stmt.where(Demand.liaison_id == liaison_id)
    rows = list(session.scalars(visit_stmt))
    seen_parks: dict[int, set[int]] = defaultdict(set)
    seen_firms: dict[int, set[int]] = defaultdict(set)
    count: Counter[int] = Counter()
    raised: Counter[int] = Counter()
    by_industry: Counter[str] = Counter()
    for v in rows:
        count[v.liaison_id] += 1
        raised[v.liaison_id] += len(v.demands)
        if v.park_id:
            seen_parks[v.liaison_id].add(v.park_id)
        if v.enterprise_id:
            seen_firms[v.liaison_id].add(v.enterprise_id)
        if v.enterprise is not None:
            by_industry[v.enterprise.industry.name if v.enterprise.industry else "未分类"] += 1
    recorded: Counter[int] = Counter()
    demand_industry: Counter[str] = Counter()
    for d in session.scalars(demand_stmt):
        if d.liaison_id is not None:
            recorded[d.liaison_id] += 1
        demand_industry[d.industry.name if d.industry else "未分类"] += 1
    out = []
    for li in people:
        parks = [p for p in li.parks if p.id not in seen_parks[li.id]]
        firms = [e for e in li.enterprises if e.id not in seen_firms[li.id]]
        out.append(LiaisonCoverage(li, count[li.id], raised[li.id], recorded[li.id], parks, firms,
                                   len(li.parks) + len(li.enterprises)))
    names = sorted(set(by_industry) | set(demand_industry),
                   key=lambda n: (-by_industry[n], -demand_industry[n], n))
    return Coverage(year, out, [(n, by_industry[n], demand_industry[n]) for n in names])


# --- monthly work report ------------------------------------------------------------------
REPORT_VISIT_HEADERS = ["走访日期", "走访对象", "类型", "接待人员", "了解情况", "挖掘需求",
                        "后续跟进"]
REPORT_DEMAND_HEADERS = ["需求编号", "需求名称", "企业", "登记日期", "发布日期", "状态"]
REPORT_MATCH_HEADERS = ["需求编号", "专家", "对接状态", "更新日期"]


def monthly_report(session: Session, liaison: Liaison, year: int,
                   month: int) -> dict[str, list[list[Any]]]:
    """Return a liaison's month for the bureau's hearing: visits, demands, match progress."""
    lo, hi = date(year, month, 1), _next_month(year, month)
    vs = list(session.scalars(
        select(Visit).options(selectinload(Visit.demands), selectinload(Visit.park),
                              selectinload(Visit.enterprise))
        .where(Visit.liaison_id == liaison.id, Visit.visited_on >= lo, Visit.visited_on < hi)
        .order_by(Visit.visited_on, Visit.id)))
    start, end = clock.month_bounds(year, month)
    demands = list(session.scalars(
        select(Demand).where(Demand.liaison_id == liaison.id, or_(
            (Demand.created_at >= start) & (Demand.created_at < end),
            (Demand.published_at >= start) & (Demand.published_at < end)))
        .order_by(Demand.created_at)))
    matches = list(session.scalars(
        select(Match).join(Demand).where(Demand.liaison_id == liaison.id,
                                         Match.updated_at >= start, Match.updated_at < end)
        .order_by(Match.updated_at)))
    return {
        "visits": [[v.visited_on, v.enterprise.name if v.enterprise else v.park.name,
                    "企业" if v.enterprise else "园区/孵化器", v.people_met, v.findings,
                    "、".join(d.code for d in v.demands), v.follow_up or ""] for v in vs],
        "demands": [[d.code, d.title, d.enterprise.name if d.enterprise else "",
                     clock.fmt(d.created_at, "%Y-%m-%d"), clock.fmt(d.published_at, "%Y-%m-%d"),
                     status_label("demand", d.status)] for d in demands],
        "matches": [[m.demand.code, m.expert.name, status_label("match", m.status),
                     clock.fmt(m.updated_at, "%Y-%m-%d")] for m in matches],
    }
