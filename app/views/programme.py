"""联络员 and 工作台账 and 统计分析: quota table, roster, replacements, trainings, typical cases,
assessments and the programme dashboard. City admins see every district; district admins
see and edit their own."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Assessment, Case, District, Enterprise, Institution, Liaison, Park, Training

from .. import clock
from ..db import get_session
from ..errors import DomainError, Forbidden, NotFound
from ..security import mask_phone, reveal_contact, roles_required
from ..services import programme as P
from ..services import programme_exports as X
from ..services.listing import field_errors, xlsx_response

bp = Blueprint("programme", __name__, url_prefix="/programme")
admins = roles_required("city_admin", "district_admin")
city_only = roles_required("city_admin")


# --- scope and form helpers -------------------------------------------------------------------
def _is_city() -> bool:
    return current_user.role == "city_admin"


def _scope(requested: object = None) -> int | None:
    """Return the district the page shows: the user's own, or for the city the one asked."""
    if not _is_city():
        return current_user.district_id
    try:
        return int(requested) if requested not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _own(district_id: int | None) -> None:
    """Refuse a district admin anything outside their district."""
    if not _is_city() and district_id != current_user.district_id:
        raise NotFound("记录不存在，或不属于本区。")


def _year(default: int | None = None) -> int:
    try:
        y = int(request.values.get("year") or default or clock.today().year)
    except ValueError:
        y = clock.today().year
    return min(max(y, 2000), 2100)


def _date(name: str) -> date | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError("日期格式应为 YYYY-MM-DD。", field=name) from None


def _float(name: str) -> float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise DomainError("请输入数字。", field=name) from None


def _ints(name: str) -> list[int]:
    return [int(v) for v in request.form.getlist(name) if str(v).isdigit()]


def _districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.seq)))


def _liaison_or_404(session: Session, liaison_id: int) -> Liaison:
    li = session.get(Liaison, liaison_id)
    if li is None:
        raise NotFound("联络员不存在。")
    if li.kind == "campus":
        if not _is_city():
            raise NotFound("联络员不存在。")
    else:
        _own(li.district_id)
    return li


def _years(session: Session) -> list[int]:
    return P.data_years(session)


# --- quota table --------------------------------------------------------------------------------
@bp.route("/quota", methods=["GET", "POST"])
@admins
def quota():
    """Show (and for the city admin edit) the quota table of a year with actual headcounts."""
    session = get_session()
    year = _year()
    if request.method == "POST":
        if not _is_city():
            raise Forbidden("只有市科技局可以修改指标分解表。")
        values = {}
        try:
            for d in _districts(session):
                existing = int(request.form.get(f"existing_{d.id}") or 0)
                new = int(request.form.get(f"new_{d.id}") or 0)
                values[d.id] = (existing, new)
            P.save_quota(session, year, values)
        except ValueError:
            flash("指标人数须为整数。", "danger")
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            session.commit()
            flash(f"{year}年指标分解表已保存。", "success")
            return redirect(url_for(".quota", year=year))
    on = None
    if request.args.get("on"):
        try:
            on = date.fromisoformat(request.args["on"])
        except ValueError:
            on = None
    if request.args.get("export") == "xlsx":
        return xlsx_response(X.quota_xlsx(session, year, on=on),
                             f"{X.quota_title(year)}.xlsx")
    table = P.quota_table(session, year, on=on)
    return render_template("programme/quota.html", table=table, year=year,
                           years=sorted(set(_years(session)) | {year + 1}, reverse=True),
                           editing=_is_city() and request.args.get("edit") == "1")


# --- roster -----------------------------------------------------------------------------------
@bp.get("/roster")
@admins
def roster():
    """List a district's liaisons (attachment 2 fields) or, for the city, campus liaisons."""
    session = get_session()
    kind = request.args.get("kind", "district")
    if kind == "campus" and _is_city():
        people = P.campus_roster(session, include_ended=request.args.get("all") == "1")
        groups: dict[str, list[Liaison]] = {}
        for li in people:
            groups.setdefault(li.institution.name if li.institution else "未指定", []).append(li)
        return render_template("programme/campus.html", groups=groups,
                               show_all=request.args.get("all") == "1")
    district_id = _scope(request.args.get("district"))
    if district_id is None:
        district_id = _districts(session)[0].id
    district = session.get(District, district_id)
    if district is None:
        raise NotFound("区不存在。")
    include_ended = request.args.get("all") == "1"
    if request.args.get("export") == "xlsx":
        reveal_contact(session, current_user, district_id, "roster", district_id)
        session.commit()
        return xlsx_response(X.roster_xlsx(session, district_id),
                             f"{district.name}联络员信息表.xlsx")
    people = P.roster(session, district_id, include_ended=include_ended)
    full = reveal_contact(session, current_user, district_id, "roster", district_id)
    session.commit()
    return render_template("programme/roster.html", district=district, people=people,
                           districts=_districts(session) if _is_city() else [],
                           include_ended=include_ended, full=full, mask_phone=mask_phone,
                           today=clock.today())


def _liaison_input(kind: str) -> P.LiaisonInput:
    return P.LiaisonInput(
        name=request.form.get("name", ""), employer_post=request.form.get("employer_post", ""),
        phone=request.form.get("phone", ""), email=request.form.get("email", ""),
        start_date=_date("start_date"), park_ids=_ints("park_ids"),
        enterprise_ids=_ints("enterprise_ids"),
        institution_id=int(request.form["institution_id"])
        if kind == "campus" and (request.form.get("institution_id") or "").isdigit() else None)


def _assign_options(session: Session, district_id: int | None) -> dict:
    if district_id is None:
        return {"parks": [], "enterprises": []}
    return {
        "parks": list(session.scalars(select(Park).where(Park.district_id == district_id)
                                      .order_by(Park.name))),
        "enterprises": list(session.scalars(
            select(Enterprise).where(Enterprise.district_id == district_id,
                                     Enterprise.is_key.is_(True)).order_by(Enterprise.name))),
    }


@bp.route("/roster/new", methods=["GET", "POST"])
@bp.route("/roster/<int:liaison_id>/edit", methods=["GET", "POST"])
@admins
def edit_liaison(liaison_id: int | None = None):
    """Add or edit a liaison: name, employer and post, phone, parks and key enterprises."""
    session = get_session()
    li = _liaison_or_404(session, liaison_id) if liaison_id else None
    kind = li.kind if li else request.values.get("kind", "district")
    if kind == "campus" and not _is_city():
        raise Forbidden("驻高校院所联络员由市科技局维护。")
    district_id = li.district_id if li else (
        _scope(request.values.get("district")) if kind == "district" else None)
    if kind == "district" and district_id is None:
        raise DomainError("请先选择所属区。")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            saved = P.save_liaison(session, _liaison_input(kind), liaison=li, kind=kind,
                                   district_id=district_id)
        except DomainError as exc:
            session.rollback()
            errors = field_errors(exc)
        else:
            session.commit()
            flash(f"联络员 {saved.name} 已保存。", "success")
            if kind == "campus":
                return redirect(url_for(".roster", kind="campus"))
            return redirect(url_for(".roster", district=district_id))
    return render_template(
        "programme/liaison_form.html", li=li, kind=kind, errors=errors, form=request.form,
        district=session.get(District, district_id) if district_id else None,
        institutions=list(session.scalars(select(Institution).order_by(Institution.name))),
        **_assign_options(session, district_id))


@bp.route("/roster/<int:liaison_id>/replace", methods=["GET", "POST"])
@admins
def replace(liaison_id: int):
    """Replace a liaison: end date and reason of the leaver, the successor, the filing date."""
    session = get_session()
    old = _liaison_or_404(session, liaison_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            end = _date("end_date")
            if end is None:
                raise DomainError("请填写离任日期。", field="end_date")
            new = P.replace_liaison(session, old, end_date=end,
                                    end_reason=request.form.get("end_reason", ""),
                                    new=_liaison_input(old.kind), filed_on=_date("filed_on"),
                                    keep_assignments=request.form.get("keep") == "1")
        except DomainError as exc:
            session.rollback()
            errors = field_errors(exc)
        else:
            session.commit()
            flash(f"已由 {new.name} 接替 {old.name}。" + (
                "" if new.filed_on else "请在报市科技局备案后登记备案日期。"), "success")
            return redirect(url_for(".replacements"))
    return render_template("programme/replace_form.html", old=old, errors=errors,
                           form=request.form, today=clock.today(),
                           **_assign_options(session, old.district_id))


@bp.get("/replacements")
@admins
def replacements():
    """Show the replacement history: who left when and why, the successor, the filing date."""
    session = get_session()
    district_id = _scope(request.args.get("district"))
    rows = P.replacements(session, district_id)
    return render_template("programme/replacements.html", rows=rows, district_id=district_id,
                           districts=_districts(session) if _is_city() else [])


@bp.post("/replacements/<int:liaison_id>/file")
@admins
def file_replacement(liaison_id: int):
    """Record the day the replacement was filed with the city bureau."""
    session = get_session()
    li = _liaison_or_404(session, liaison_id)
    try:
        filed = _date("filed_on")
        if filed is None:
            raise DomainError("请填写备案日期。", field="filed_on")
        P.file_replacement(session, li, filed)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "danger")
    else:
        session.commit()
        flash(f"{li.name} 的接替已登记备案。", "success")
    return redirect(url_for(".replacements"))


# --- trainings --------------------------------------------------------------------------------
@bp.get("/trainings")
@admins
def trainings():
    """List trainings of a year (one district or all)."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    stmt = (select(Training).where(Training.held_on >= date(year, 1, 1),
                                   Training.held_on <= date(year, 12, 31))
            .order_by(Training.held_on.desc()))
    if district_id is not None:
        stmt = stmt.where(Training.district_id == district_id)
    return render_template("programme/trainings.html", rows=list(session.scalars(stmt)),
                           year=year, years=_years(session), district_id=district_id,
                           districts=_districts(session) if _is_city() else [])


@bp.route("/trainings/new", methods=["GET", "POST"])
@bp.route("/trainings/<int:training_id>/edit", methods=["GET", "POST"])
@admins
def edit_training(training_id: int | None = None):
    """Record a training: date, topic, attendees."""
    session = get_session()
    t = session.get(Training, training_id) if training_id else None
    if training_id and t is None:
        raise NotFound("培训记录不存在。")
    district_id = t.district_id if t else _scope(request.values.get("district"))
    if t:
        _own(t.district_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if district_id is None:
            district_id = _scope(request.form.get("district_id"))
        try:
            if district_id is None:
                raise DomainError("请选择所属区。", field="district_id")
            count = request.form.get("attendee_count") or ""
            t = P.save_training(session, district_id=district_id, held_on=_date("held_on"),
                                topic=request.form.get("topic", ""),
                                attendee_ids=_ints("attendee_ids"),
                                attendee_count=int(count) if count.isdigit() else None,
                                notes=request.form.get("notes", ""), training=t)
        except DomainError as exc:
            session.rollback()
            errors = field_errors(exc)
        else:
            session.commit()
            flash("培训记录已保存。", "success")
            return redirect(url_for(".trainings", year=t.held_on.year))
    people = P.roster(session, district_id, include_ended=True) if district_id else []
    return render_template("programme/training_form.html", t=t, errors=errors, form=request.form,
                           people=people, district_id=district_id,
                           districts=_districts(session) if _is_city() else [])


# --- typical cases ------------------------------------------------------------------------------
@bp.get("/cases")
@admins
def cases():
    """List typical cases of a year and the signed matches a draft can be made from."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    if request.args.get("export") == "xlsx":
        return xlsx_response(X.cases_xlsx(session, year, district_id=district_id),
                             f"{year}年典型案例.xlsx")
    stmt = select(Case).where(Case.year == year).order_by(Case.district_id, Case.id)
    if district_id is not None:
        stmt = stmt.where(Case.district_id == district_id)
    return render_template("programme/cases.html", rows=list(session.scalars(stmt)), year=year,
                           years=_years(session), district_id=district_id,
                           candidates=P.finished_matches(session, district_id, limit=50),
                           districts=_districts(session) if _is_city() else [])


@bp.post("/cases/draft")
@admins
def draft_case():
    """Assemble a draft case from a signed match and open it for editing."""
    session = get_session()
    try:
        match_id = int(request.form.get("match_id") or 0)
    except ValueError:
        abort(400)
    from models import Match

    m = session.get(Match, match_id)
    if m is None:
        raise NotFound("对接记录不存在。")
    _own(m.demand.district_id)
    case = P.draft_case_from_match(session, match_id)
    session.commit()
    flash("已根据对接记录生成案例草稿，请修改完善后报送。", "success")
    return redirect(url_for(".edit_case", case_id=case.id))


@bp.route("/cases/new", methods=["GET", "POST"])
@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@admins
def edit_case(case_id: int | None = None):
    """Write or edit a typical case; 报送 marks it reported (it then counts for the rule)."""
    session = get_session()
    c = session.get(Case, case_id) if case_id else None
    if case_id and c is None:
        raise NotFound("案例不存在。")
    if c:
        _own(c.district_id)
    district_id = c.district_id if c else _scope(request.values.get("district"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        if district_id is None:
            district_id = _scope(request.form.get("district_id"))
        try:
            if district_id is None:
                raise DomainError("请选择所属区。", field="district_id")
            li = request.form.get("liaison_id") or ""
            c = P.save_case(session, district_id=district_id,
                            year=_year(c.year if c else None),
                            title=request.form.get("title", ""),
                            summary=request.form.get("summary", ""),
                            liaison_id=int(li) if li.isdigit() else None,
                            enterprise_name=request.form.get("enterprise_name", ""),
                            expert_name=request.form.get("expert_name", ""),
                            contract_amount=_float("contract_amount"),
                            status="reported" if request.form.get("action") == "report"
                            else "draft", case=c)
        except DomainError as exc:
            session.rollback()
            errors = field_errors(exc)
        else:
            session.commit()
            flash("案例已报送。" if c.status == "reported" else "案例草稿已保存。", "success")
            return redirect(url_for(".cases", year=c.year))
    people = P.roster(session, district_id, include_ended=True) if district_id else []
    return render_template("programme/case_form.html", c=c, errors=errors, form=request.form,
                           people=people, district_id=district_id, year=_year(),
                           districts=_districts(session) if _is_city() else [])


# --- assessments ------------------------------------------------------------------------------
@bp.get("/assessments")
@admins
def assessments():
    """Show the year's assessments and the liaisons still due for one."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    stmt = (select(Assessment).join(Liaison).where(Assessment.year == year)
            .order_by(Liaison.district_id, Liaison.name))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    return render_template("programme/assessments.html", rows=list(session.scalars(stmt)),
                           due=P.due_for_assessment(session, year, district_id), year=year,
                           years=_years(session), district_id=district_id,
                           districts=_districts(session) if _is_city() else [])


@bp.route("/assessments/new", methods=["GET", "POST"])
@bp.route("/assessments/<int:assessment_id>/edit", methods=["GET", "POST"])
@admins
def edit_assessment(assessment_id: int | None = None):
    """Record a liaison's yearly assessment: result, score, reviewer."""
    session = get_session()
    a = session.get(Assessment, assessment_id) if assessment_id else None
    if assessment_id and a is None:
        raise NotFound("考核记录不存在。")
    li_id = a.liaison_id if a else int(request.values.get("liaison_id") or 0)
    li = _liaison_or_404(session, li_id)
    year = a.year if a else _year()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            a = P.save_assessment(session, liaison_id=li.id, year=year,
                                  result=request.form.get("result", ""),
                                  reviewer=request.form.get("reviewer", ""),
                                  assessed_on=_date("assessed_on"), score=_float("score"),
                                  comment=request.form.get("comment", ""), assessment=a)
        except DomainError as exc:
            session.rollback()
            errors = field_errors(exc)
        else:
            session.commit()
            flash(f"{li.name} 的{year}年度考核已保存。", "success")
            return redirect(url_for(".assessments", year=year))
    return render_template("programme/assessment_form.html", a=a, li=li, year=year,
                           errors=errors, form=request.form, results=P.ASSESSMENT_RESULTS,
                           today=clock.today())


# --- dashboard --------------------------------------------------------------------------------
def _drill_url(year: int, metric: str, **kw) -> str:
    return url_for(".drill", year=year, metric=metric,
                   **{k: v for k, v in kw.items() if v is not None})


@bp.get("/dashboard")
@admins
def dashboard():
    """Every rule of the notice per district and liaison; funnel; monthly trends."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    board = P.scoreboard(session, year, district_id=district_id)
    fun = P.funnel(session, year, district_id=district_id)
    tr = P.trends(session, year, district_id=district_id)
    chart = {
        "funnel": [{"key": s.key, "name": s.label, "value": s.count, "amount": s.amount,
                    "url": _drill_url(year, f"funnel_{s.key}", district=district_id)}
                   for s in fun],
        "trends": {"months": tr["months"], "series": [
            {"key": k, "name": label, "data": tr["series"][k],
             "url": _drill_url(year, f"trend_{k}" if k != "amount" else "trend_signed",
                               district=district_id, month="__MONTH__")}
            for k, label in tr["labels"].items()]},
        "status": [{"name": P.STATUS_LABELS[s], "key": s,
                    "value": sum(1 for d in board.districts if d.status == s)}
                   for s in (P.MET, P.ON_TRACK, P.AT_RISK, P.MISSED, P.NA)],
    }
    district = board.districts[0] if district_id is not None else None
    return render_template("programme/dashboard.html", board=board, funnel=fun, chart=chart,
                           year=year, years=_years(session), district=district,
                           district_id=district_id, districts=_districts(session),
                           P=P, drill_url=_drill_url)


@bp.get("/dashboard/drill")
@admins
def drill():
    """Show the rows behind a figure of the dashboard (and export them)."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    metric = request.args.get("metric", "")

    def _int(name: str) -> int | None:
        v = request.args.get(name, "")
        return int(v) if v.isdigit() else None

    liaison_id = _int("liaison")
    if liaison_id is not None:
        _liaison_or_404(session, liaison_id)
    table = P.drill(session, year, metric, district_id=district_id, liaison_id=liaison_id,
                    month=_int("month"))
    if request.args.get("export") == "xlsx":
        from ..services.listing import rows_to_xlsx

        return xlsx_response(rows_to_xlsx(table.headers, table.rows, "明细"),
                             f"{table.title}.xlsx")
    return render_template("programme/drill.html", table=table, year=year, metric=metric,
                           district_id=district_id)


@bp.get("/dashboard/export/<kind>")
@admins
def export(kind: str):
    """Download the yearly summary, the demand list or the case list of the dashboard scope."""
    session = get_session()
    year = _year()
    district_id = _scope(request.args.get("district"))
    scope = session.get(District, district_id).name if district_id else "全市"
    if kind == "summary":
        data, name = X.summary_xlsx(session, year, district_id=district_id), "年度汇总"
    elif kind == "demands":
        data, name = X.demands_xlsx(session, year, district_id=district_id), "需求清单"
    elif kind == "cases":
        data, name = X.cases_xlsx(session, year, district_id=district_id), "典型案例"
    else:
        raise NotFound("没有这种导出。")
    return xlsx_response(data, f"{year}年{scope}{name}.xlsx")
