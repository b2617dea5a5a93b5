"""走访记录: a liaison's visits to parks and key enterprises, the coverage view and the monthly
work report. A liaison sees their own, a district admin the district, the city all."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from models import Demand, Enterprise, Liaison, Park

from .. import clock
from ..auth.decorators import roles_required
from ..db import get_session
from ..errors import DomainError, Forbidden, NotFound
from ..forms.visit_form import VisitForm
from ..policy.roles import DISTRICT_ROLES, Role, is_city
from ..services import programme_exports, visit_log
from ..services.audit import record
from ..services.listing import paginate, rows_to_xlsx, to_int
from ..services.programme.queries import districts_of
from .downloads import xlsx_response

bp = Blueprint("visits", __name__, url_prefix="/visits")
readers = roles_required(Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
LIST_HEADERS = ["走访日期", "所属区", "联络员", "走访对象", "接待人员", "了解情况", "挖掘需求",
                "后续跟进"]


def _district_arg() -> int | None:
    if is_city(current_user):
        return to_int(request.args.get("district"))
    return current_user.district_id


def _liaisons(session) -> list[Liaison]:
    if current_user.role == Role.DISTRICT_LIAISON:
        return [session.get(Liaison, current_user.liaison_id)] if current_user.liaison_id else []
    stmt = select(Liaison).where(Liaison.kind == "district", Liaison.end_date.is_(None))
    if current_user.role in DISTRICT_ROLES:
        stmt = stmt.where(Liaison.district_id == current_user.district_id)
    return list(session.scalars(stmt.order_by(Liaison.district_id, Liaison.name)))


@bp.get("")
@readers
def index():
    """List the visits in the user's scope: search, year and month, liaison, pages, 导出."""
    session = get_session()
    year = to_int(request.args.get("year")) or clock.this_year()
    month = to_int(request.args.get("month"))
    month = month if month and 1 <= month <= 12 else None
    q = request.args.get("q", "").strip()
    liaison_id = to_int(request.args.get("liaison"))
    stmt = visit_log.visits(current_user, q=q, year=year, month=month, liaison_id=liaison_id,
                         district_id=_district_arg())
    if request.args.get("export") == "xlsx":
        rows = [[v.visited_on, v.district.name, v.liaison.name, _place(v), v.people_met,
                 v.findings, "、".join(d.code for d in v.demands), v.follow_up or ""]
                for v in session.scalars(stmt)]
        return xlsx_response(rows_to_xlsx(LIST_HEADERS, rows, "走访记录"), f"{year}年走访记录.xlsx")
    return render_template(
        "visits/index.html", page=paginate(session, stmt, request.args.get("page")), q=q,
        year=year, month=month, liaison_id=liaison_id, liaisons=_liaisons(session),
        district_id=_district_arg(), districts=districts_of(session, None)
        if is_city(current_user) else [], can_record=visit_log.can_record(current_user),
        years=list(range(clock.this_year(), clock.this_year() - 3, -1)))


def _place(v) -> str:
    return v.enterprise.name if v.enterprise else (v.park.name if v.park else "")


def _options(session) -> dict:
    district_id = current_user.district_id
    liaison = session.get(Liaison, current_user.liaison_id) if current_user.liaison_id else None
    firms = list(session.scalars(select(Enterprise).where(Enterprise.district_id == district_id)
                                 .order_by(Enterprise.is_key.desc(), Enterprise.name)))
    mine = {e.id for e in liaison.enterprises} if liaison else set()
    firms.sort(key=lambda e: (e.id not in mine, not e.is_key, e.name))
    return {
        "parks": list(session.scalars(select(Park).where(Park.district_id == district_id)
                                      .order_by(Park.name))),
        "enterprises": firms,
        "demands": list(session.scalars(
            select(Demand).where(Demand.district_id == district_id,
                                 Demand.created_at >= clock.days_ago(120))
            .order_by(Demand.created_at.desc()).limit(200))),
        "liaisons": _liaisons(session),
    }


@bp.route("/new", methods=["GET", "POST"])
@readers
def new():
    """Record a visit: day, park or enterprise, people met, findings, demands raised, follow-up."""
    if not visit_log.can_record(current_user):
        raise Forbidden("只有区派联络员和区科技主管部门可以登记走访记录。")
    session = get_session()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = VisitForm(request.form)
        ok = form.validate()
        errors = form.errors_by_field()
        if ok:
            data = visit_log.VisitInput(
                visited_on=form.visited_on.data, liaison_id=to_int(request.form.get("liaison_id")),
                park_id=to_int(request.form.get("park_id")),
                enterprise_id=to_int(request.form.get("enterprise_id")),
                people_met=form.people_met.data or "", findings=form.findings.data or "",
                follow_up=form.follow_up.data or "",
                demand_ids=[int(v) for v in request.form.getlist("demand_ids") if v.isdigit()])
            try:
                visit = visit_log.save_visit(session, current_user, data)
            except DomainError as exc:
                errors = {e["field"]: e["message"] for e in exc.errors or []} or {
                    exc.field or "_form": exc.message}
            else:
                record(session, current_user, "visit.create", "visit", visit.id,
                       after={"走访对象": _place(visit), "走访日期": visit.visited_on.isoformat()})
                flash("走访记录已保存。", "success")
                return redirect(url_for(".show", visit_id=visit.id))
        status = 422
    return render_template("visits/form.html", errors=errors, form=request.form,
                           today=clock.today(), **_options(session)), status


@bp.get("/<int:visit_id>")
@readers
def show(visit_id: int):
    """Show one visit with the demands it raised."""
    session = get_session()
    return render_template("visits/show.html", visit=visit_log.get_visit(session, current_user,
                                                                      visit_id))


@bp.get("/coverage")
@readers
def coverage():
    """Show assigned parks and key enterprises not visited this year, visits and demands per
    liaison, and the balance across industries."""
    session = get_session()
    year = to_int(request.args.get("year")) or clock.this_year()
    liaison_id = current_user.liaison_id if current_user.role == Role.DISTRICT_LIAISON else None
    if current_user.role == Role.DISTRICT_LIAISON and liaison_id is None:
        raise NotFound("您的账号未关联联络员名册。")
    view = visit_log.coverage(session, year, district_id=_district_arg(), liaison_id=liaison_id)
    return render_template("visits/coverage.html", view=view, year=year,
                           district_id=_district_arg(),
                           districts=districts_of(session, None) if is_city(current_user)
                           else [], years=list(range(clock.this_year(),
                                                     clock.this_year() - 3, -1)))


@bp.get("/report")
@readers
def report():
    """Download a liaison's monthly work report (xlsx) for the bureau's regular hearing."""
    session = get_session()
    liaison = session.get(Liaison, to_int(request.args.get("liaison")) or 0)
    if liaison is None or liaison.kind != "district":
        raise NotFound("联络员不存在。")
    if current_user.role == Role.DISTRICT_LIAISON and liaison.id != current_user.liaison_id:
        raise NotFound("联络员不存在。")
    if current_user.role in DISTRICT_ROLES and liaison.district_id != current_user.district_id:
        raise NotFound("联络员不存在。")
    today = clock.today()
    try:
        year, month = (int(x) for x in (request.args.get("month") or
                                        f"{today.year}-{today.month}").split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise DomainError("月份应按 年-月 填写，如 2026-03。", field="month") from None
    parts = visit_log.monthly_report(session, liaison, year, month)
    title = f"{liaison.district.name}区派联络员{liaison.name}{year}年{month}月工作报告"
    data = programme_exports.work_report_xlsx(title, [
        ("走访记录", visit_log.REPORT_VISIT_HEADERS, parts["visits"]),
        ("登记或发布的需求", visit_log.REPORT_DEMAND_HEADERS, parts["demands"]),
        ("对接进展", visit_log.REPORT_MATCH_HEADERS, parts["matches"]),
    ])
    return xlsx_response(data, f"{title}.xlsx")
