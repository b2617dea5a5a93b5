"""工作台账: trainings, typical cases (drafted from signed matches) and assessments."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from models import Assessment, Case, Match, Training

from ... import clock
from ...db import get_session
from ...errors import NotFound
from ...forms.programme_forms import AssessmentForm, CaseForm, TrainingForm
from ...policy.statuses import CASE_STATUS_LABELS
from ...services import programme_exports
from ...services.audit import record
from ...services.listing import Page, paginate, rows_to_xlsx, to_int
from ...services.programme import book_entries as programme_books
from ...services.programme import liaison_roster as programme_roster
from ...services.programme import lists
from ...services.programme.rules import ASSESSMENT_RESULTS
from ..downloads import xlsx_response
from ..editing import edit_page
from .common import (
    admins,
    all_districts,
    bp,
    city,
    int_arg,
    ints,
    liaison_or_404,
    own,
    scope,
    year_arg,
    years,
)


# --- trainings --------------------------------------------------------------------------------
@bp.get("/trainings")
@admins
def trainings():
    """List trainings of a year (one district or all): search, pages, 导出."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    q = request.args.get("q", "").strip()
    stmt = lists.trainings(year, district_id, q)
    if request.args.get("export") == "xlsx":
        rows = lists.training_rows(list(session.scalars(stmt)))
        return xlsx_response(rows_to_xlsx(lists.TRAINING_HEADERS, rows, "培训会"),
                             f"{year}年培训会.xlsx")
    return render_template("programme/trainings.html",
                           page=paginate(session, stmt, request.args.get("page")), q=q,
                           year=year, years=years(session), district_id=district_id,
                           districts=all_districts(session) if city() else [])


@bp.route("/trainings/new", methods=["GET", "POST"])
@bp.route("/trainings/<int:training_id>/edit", methods=["GET", "POST"])
@admins
def edit_training(training_id: int | None = None):
    """Record a training: date, topic, attendees."""
    session = get_session()
    t = _row(session, Training, training_id, "培训记录不存在。")
    district_id = _district_of(t)

    def save(form: TrainingForm) -> Training:
        saved = programme_books.save_training(
            session, district_id=district_id, held_on=form.held_on.data,
            topic=form.topic.data or "", attendee_ids=ints("attendee_ids"),
            attendee_count=form.attendee_count.data, notes=form.notes.data or "", training=t)
        record(session, current_user, "training.update" if t else "training.create",
               "training", saved.id,
               after={"培训日期": saved.held_on.isoformat(), "培训主题": saved.topic})
        return saved

    return edit_page(
        TrainingForm, save, template="programme/training_form.html", check=_district_chosen(
            district_id), saved=lambda row: "培训记录已保存。",
        done=lambda row: url_for(".trainings", year=row.held_on.year),
        context=lambda: {"t": t, "district_id": district_id, **_people(session, district_id)})


def _row(session, model: type, row_id: int | None, missing: str) -> Any:
    """Return the row an edit page edits (None for a new one); one of another district (a
    district admin's view) is not found."""
    row = session.get(model, row_id) if row_id else None
    if row_id and row is None:
        raise NotFound(missing)
    if row is not None and hasattr(row, "district_id"):
        own(row.district_id)
    return row


def _district_of(row: Any) -> int | None:
    """Return the district of an edit page: the row's, or the one asked (the city chooses)."""
    if row is not None:
        return row.district_id
    district_id = scope(request.values.get("district"))
    if request.method == "POST" and district_id is None:
        district_id = scope(request.form.get("district_id"))
    return district_id


def _district_chosen(district_id: int | None):
    """Return the check of a new record's district (the city chooses one)."""
    return lambda: {"district_id": "请选择所属区"} if district_id is None else {}


def _people(session, district_id: int | None) -> dict:
    """Return the district's liaisons (ended ones too) and, for the city, every district."""
    return {"people": programme_roster.roster(session, district_id, include_ended=True)
            if district_id else [],
            "districts": all_districts(session) if city() else []}


# --- typical cases ------------------------------------------------------------------------------
@bp.get("/cases")
@admins
def cases():
    """List typical cases of a year (search, status, pages, 导出) and the signed matches a
    draft can be made from."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    q, status = request.args.get("q", "").strip(), request.args.get("status", "")
    if request.args.get("export") == "xlsx":
        data = programme_exports.cases_xlsx(session, year, district_id=district_id, q=q,
                                            status=status)
        return xlsx_response(data, f"{year}年典型案例.xlsx")
    return render_template("programme/cases.html",
                           page=paginate(session, lists.cases(year, district_id, q, status),
                                         request.args.get("page")),
                           q=q, status=status, statuses=CASE_STATUS_LABELS, year=year,
                           years=years(session), district_id=district_id,
                           candidates=programme_books.finished_matches(session, district_id,
                                                                       limit=50),
                           districts=all_districts(session) if city() else [])


@bp.post("/cases/draft")
@admins
def draft_case():
    """Assemble a draft case from a signed match and open it for editing."""
    session = get_session()
    match_id = int_arg("match_id")
    if match_id is None:
        abort(400)
    m = session.get(Match, match_id)
    if m is None:
        raise NotFound("对接记录不存在。")
    own(m.demand.district_id)
    case = programme_books.draft_case_from_match(session, match_id)
    record(session, current_user, "case.draft", "case", case.id, after={"对接": match_id})
    flash("已根据对接记录生成案例草稿，请修改完善后报送。", "success")
    return redirect(url_for(".edit_case", case_id=case.id))


@bp.route("/cases/new", methods=["GET", "POST"])
@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@admins
def edit_case(case_id: int | None = None):
    """Write or edit a typical case; 报送 marks it reported (it then counts for the rule)."""
    session = get_session()
    c = _row(session, Case, case_id, "案例不存在。")
    district_id = _district_of(c)
    before = {"状态": CASE_STATUS_LABELS[c.status]} if c else None

    def save(form: CaseForm) -> Case:
        amount = form.contract_amount.data
        saved = programme_books.save_case(
            session, district_id=district_id, year=form.year.data, title=form.title.data or "",
            summary=form.summary.data or "", liaison_id=int_arg("liaison_id"),
            enterprise_name=form.enterprise_name.data or "",
            expert_name=form.expert_name.data or "",
            contract_amount=float(amount) if amount is not None else None,
            status="reported" if request.form.get("action") == "report" else "draft", case=c)
        action = "case.report" if saved.status == "reported" else (
            "case.update" if before else "case.create")
        record(session, current_user, action, "case", saved.id, before=before,
               after={"状态": CASE_STATUS_LABELS[saved.status], "标题": saved.title})
        return saved

    return edit_page(
        CaseForm, save, template="programme/case_form.html", check=_district_chosen(district_id),
        saved=lambda row: "案例已报送。" if row.status == "reported" else "案例草稿已保存。",
        done=lambda row: url_for(".cases", year=row.year),
        context=lambda: {"c": c, "district_id": district_id, "year": year_arg(),
                         **_people(session, district_id)})


# --- assessments ------------------------------------------------------------------------------
@bp.get("/assessments")
@admins
def assessments():
    """Show the year's assessments (search, result, pages, 导出) and who is still due."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    q, result = request.args.get("q", "").strip(), request.args.get("result", "")
    stmt = lists.assessments(year, district_id, q, result)
    if request.args.get("export") == "xlsx":
        rows = lists.assessment_rows(list(session.scalars(stmt)))
        return xlsx_response(rows_to_xlsx(lists.ASSESSMENT_HEADERS, rows, "考核评价"),
                             f"{year}年联络员考核评价.xlsx")
    return render_template("programme/assessments.html",
                           page=paginate(session, stmt, request.args.get("page")), q=q,
                           result=result, results=ASSESSMENT_RESULTS,
                           due=_due_page(programme_books.due_for_assessment(
                               session, year, district_id), request.args.get("due_page")),
                           year=year, years=years(session), district_id=district_id,
                           districts=all_districts(session) if city() else [])


def _due_page(people: list, page: str | None) -> Page:
    """Return one page (20) of the liaisons still due for assessment."""
    number = max(1, min(to_int(page) or 1, max(1, -(-len(people) // 20))))
    return Page(items=people[(number - 1) * 20:number * 20], total=len(people), page=number,
                per_page=20)


@bp.route("/assessments/new", methods=["GET", "POST"])
@bp.route("/assessments/<int:assessment_id>/edit", methods=["GET", "POST"])
@admins
def edit_assessment(assessment_id: int | None = None):
    """Record a liaison's yearly assessment: result, score, reviewer."""
    session = get_session()
    a = _row(session, Assessment, assessment_id, "考核记录不存在。")
    li = liaison_or_404(session, a.liaison_id if a else int_arg("liaison_id"))
    year = a.year if a else year_arg()
    before = {"考核结果": a.result} if a else None

    def save(form: AssessmentForm) -> Assessment:
        score = form.score.data
        saved = programme_books.save_assessment(
            session, liaison_id=li.id, year=year, result=form.result.data,
            reviewer=form.reviewer.data or "", assessed_on=form.assessed_on.data,
            score=float(score) if score is not None else None, comment=form.comment.data or "",
            assessment=a)
        record(session, current_user, "assessment.update" if before else "assessment.create",
               "assessment", saved.id, before=before,
               after={"联络员": li.name, "年度": year, "考核结果": saved.result})
        return saved

    return edit_page(
        AssessmentForm, save, template="programme/assessment_form.html",
        saved=lambda row: f"{li.name} 的{year}年度考核已保存。",
        done=lambda row: url_for(".assessments", year=year),
        context={"a": a, "li": li, "year": year, "results": ASSESSMENT_RESULTS,
                 "today": clock.today()})
