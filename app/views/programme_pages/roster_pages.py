"""联络员: the quota table (attachment 1), the roster (attachment 2), replacements, filings."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import District, Enterprise, Institution, Liaison, Park

from ... import clock
from ...db import get_session
from ...errors import DomainError, Forbidden, NotFound
from ...forms.programme_forms import FilingForm, LiaisonForm, ReplaceForm
from ...policy.privacy import mask_phone
from ...services import programme_exports
from ...services.audit import record
from ...services.contacts import reveal_contact
from ...services.listing import paginate, rows_to_xlsx
from ...services.programme import liaison_roster as programme_roster
from ...services.programme import lists
from ...services.programme import quota as programme_quota
from ..downloads import xlsx_response
from ..editing import edit_page
from .common import (
    admins,
    all_districts,
    bp,
    city,
    ints,
    liaison_or_404,
    scope,
    year_arg,
    years,
)


@bp.route("/quota", methods=["GET", "POST"])
@admins
def quota():
    """Show (and for the city admin edit) the quota table of a year with actual headcounts."""
    session = get_session()
    year = year_arg()
    if request.method == "POST":
        if not city():
            raise Forbidden("只有市科技局可以修改指标分解表。")
        values = {}
        try:
            for d in all_districts(session):
                existing = int(request.form.get(f"existing_{d.id}") or 0)
                new = int(request.form.get(f"new_{d.id}") or 0)
                values[d.id] = (existing, new)
            programme_quota.save_quota(session, year, values)
            record(session, current_user, "quota.update", "quota", year,
                   after={"年度": year, "区数": len(values)})
        except ValueError:
            flash("指标人数须为整数。", "danger")
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            flash(f"{year}年指标分解表已保存。", "success")
            return redirect(url_for(".quota", year=year))
    on = None
    if request.args.get("on"):
        try:
            on = clock.parse_day(request.args["on"])
        except ValueError:
            on = None
    if request.args.get("export") == "xlsx":
        return xlsx_response(programme_exports.quota_xlsx(session, year, on=on),
                             f"{programme_exports.quota_title(year)}.xlsx")
    table = programme_quota.quota_table(session, year, on=on)
    return render_template("programme/quota.html", table=table, year=year,
                           years=sorted(set(years(session)) | {year + 1}, reverse=True),
                           editing=city() and request.args.get("edit") == "1")


@bp.get("/roster")
@admins
def roster():
    """List a district's liaisons (attachment 2 fields); the city also sees 全市 (every
    district, searchable and paginated) and the campus liaisons."""
    session = get_session()
    kind = request.args.get("kind", "district")
    include_ended = request.args.get("all") == "1"
    if kind == "campus" and city():
        people = programme_roster.campus_roster(session, include_ended=include_ended)
        groups: dict[str, list[Liaison]] = {}
        for li in people:
            groups.setdefault(li.institution.name if li.institution else "未指定", []).append(li)
        return render_template("programme/campus.html", groups=groups, show_all=include_ended)
    q = request.args.get("q", "").strip()
    district_id = scope(request.args.get("district"))
    if district_id is None:  # the city's 全市 view
        full = reveal_contact(session, current_user, None, "roster", None)
        stmt = lists.city_roster(clock.today(), q, include_ended=include_ended)
        if request.args.get("export") == "xlsx":
            rows = [[li.district.name, li.name, li.employer_post or "",
                     (li.phone or "") if full else mask_phone(li.phone), li.start_date or "",
                     li.end_date or ""] for li in session.scalars(stmt)]
            return xlsx_response(rows_to_xlsx(CITY_HEADERS, rows, "全市联络员"),
                                 "全市区派联络员名册.xlsx")
        return render_template("programme/roster.html", district=None, q=q,
                               page=paginate(session, stmt, request.args.get("page"), 50),
                               districts=all_districts(session), include_ended=include_ended,
                               full=full, mask_phone=mask_phone, today=clock.today())
    district = session.get(District, district_id)
    if district is None:
        raise NotFound("区不存在。")
    full = reveal_contact(session, current_user, district_id, "roster", district_id)
    if request.args.get("export") == "xlsx":
        return xlsx_response(programme_exports.roster_xlsx(session, district_id),
                             f"{district.name}联络员信息表.xlsx")
    people = programme_roster.roster(session, district_id, include_ended=include_ended)
    if q:
        people = [li for li in people if q in li.name or q in (li.employer_post or "")]
    return render_template("programme/roster.html", district=district, people=people, q=q,
                           districts=all_districts(session) if city() else [],
                           include_ended=include_ended, full=full, mask_phone=mask_phone,
                           today=clock.today())


CITY_HEADERS = ["所属区", "姓名", "工作单位及职务", "联系电话", "任职起始", "离任日期"]


def _liaison_input(form: LiaisonForm, kind: str) -> programme_roster.LiaisonInput:
    institution = request.form.get("institution_id") or ""
    return programme_roster.LiaisonInput(
        name=form.name.data or "", employer_post=form.employer_post.data or "",
        phone=form.phone.data or "", email=form.email.data or "",
        start_date=form.start_date.data, park_ids=ints("park_ids"),
        enterprise_ids=ints("enterprise_ids"),
        institution_id=int(institution) if kind == "campus" and institution.isdigit() else None)


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
    li = liaison_or_404(session, liaison_id) if liaison_id else None
    kind = li.kind if li else request.values.get("kind", "district")
    if kind == "campus" and not city():
        raise Forbidden("驻高校院所联络员由市科技局维护。")
    district_id = li.district_id if li else (
        scope(request.values.get("district")) if kind == "district" else None)
    if kind == "district" and district_id is None:
        raise DomainError("请先选择所属区。")

    def save(form: LiaisonForm) -> Liaison:
        saved = programme_roster.save_liaison(session, _liaison_input(form, kind), liaison=li,
                                              kind=kind, district_id=district_id)
        record(session, current_user, "liaison.update" if li else "liaison.create", "liaison",
               saved.id, after={"姓名": saved.name, "任职起始": str(saved.start_date or "")})
        return saved

    return edit_page(
        LiaisonForm, save, template="programme/liaison_form.html",
        saved=lambda row: f"联络员 {row.name} 已保存。",
        done=lambda row: url_for(".roster", kind="campus") if kind == "campus"
        else url_for(".roster", district=district_id),
        context=lambda: {
            "li": li, "kind": kind,
            "district": session.get(District, district_id) if district_id else None,
            "institutions": list(session.scalars(select(Institution)
                                                 .order_by(Institution.name))),
            **_assign_options(session, district_id)})


@bp.route("/roster/<int:liaison_id>/replace", methods=["GET", "POST"])
@admins
def replace(liaison_id: int):
    """Replace a liaison: end date and reason of the leaver, the successor, the filing date."""
    session = get_session()
    old = liaison_or_404(session, liaison_id)

    def save(form: ReplaceForm) -> Liaison:
        new = programme_roster.replace_liaison(
            session, old, end_date=form.end_date.data, end_reason=form.end_reason.data or "",
            new=_liaison_input(form, old.kind), filed_on=form.filed_on.data,
            keep_assignments=request.form.get("keep") == "1")
        record(session, current_user, "liaison.replace", "liaison", old.id,
               before={"联络员": old.name}, after={"接替人员": new.name}, reason=old.end_reason)
        return new

    return edit_page(
        ReplaceForm, save, template="programme/replace_form.html",
        saved=lambda new: f"已由 {new.name} 接替 {old.name}。" + (
            "" if new.filed_on else "请在报市科技局备案后登记备案日期。"),
        done=lambda new: url_for(".replacements"),
        context=lambda: {"old": old, "today": clock.today(),
                         **_assign_options(session, old.district_id)})


@bp.get("/replacements")
@admins
def replacements():
    """Show the replacement history (search, filed or not, pages, 导出): who left when and
    why, the successor, the filing date."""
    session = get_session()
    district_id = scope(request.args.get("district"))
    q, filed = request.args.get("q", "").strip(), request.args.get("filed", "")
    stmt = lists.replacements(district_id, q, filed)
    if request.args.get("export") == "xlsx":
        rows = lists.replacement_rows(list(session.scalars(stmt)))
        return xlsx_response(rows_to_xlsx(lists.REPLACEMENT_HEADERS, rows, "更换备案"),
                             "联络员更换备案.xlsx")
    return render_template("programme/replacements.html",
                           page=paginate(session, stmt, request.args.get("page")), q=q,
                           filed=filed, district_id=district_id,
                           districts=all_districts(session) if city() else [])


@bp.post("/replacements/<int:liaison_id>/file")
@admins
def file_replacement(liaison_id: int):
    """Record the day the replacement was filed with the city bureau."""
    session = get_session()
    li = liaison_or_404(session, liaison_id)
    form = FilingForm(request.form)
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "danger")
        return redirect(url_for(".replacements"))
    try:
        programme_roster.file_replacement(session, li, form.filed_on.data)
    except DomainError as exc:
        flash(exc.message, "danger")
    else:
        record(session, current_user, "liaison.file", "liaison", li.id,
               after={"备案日期": form.filed_on.data.isoformat()})
        flash(f"{li.name} 的接替已登记备案。", "success")
    return redirect(url_for(".replacements"))
