"""企业库, 园区/孵化器, 创投机构, 高校院所: list (search, filters, pages, 新增/导入/导出), detail
and edit, scoped by role (a district its own rows, the city all)."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from models import District, Enterprise, Expert, Industry, Institution, Investor, Liaison, Park

from ..auth.decorators import roles_required
from ..db import get_session
from ..errors import DomainError, Forbidden, NotFound
from ..forms.registries import EnterpriseForm, InstitutionForm, InvestorForm, ParkForm
from ..policy.privacy import mask_email, mask_phone
from ..policy.roles import Role, is_city
from ..services import registries
from ..services.audit import record
from ..services.contacts import reveal_contact
from ..services.listing import paginate, rows_to_xlsx, to_int
from .downloads import xlsx_response

bp = Blueprint("registries", __name__)
district_users = roles_required(Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
admins = roles_required(Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
INVALID = 422


def _districts(session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.seq))) \
        if is_city(current_user) else []


def _industries(session) -> list[Industry]:
    return list(session.scalars(select(Industry).order_by(Industry.code)))


def _parks_of(session, district_id: int | None) -> list[Park]:
    stmt = select(Park).order_by(Park.name)
    if district_id is not None:
        stmt = stmt.where(Park.district_id == district_id)
    return list(session.scalars(stmt))


def _errors(exc: DomainError) -> dict[str, str]:
    """Return a service's field errors; refusals (403/404) are not form errors."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return {e["field"]: e["message"] for e in exc.errors or []} or {
        exc.field or "_form": exc.message}


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# --- 企业库 ------------------------------------------------------------------------------------
ENTERPRISE_HEADERS = ["企业名称", "统一社会信用代码", "所属区", "园区/孵化器", "行业", "重点企业",
                      "联系人", "联系电话", "电子邮箱"]


def _enterprise_snapshot(e: Enterprise) -> dict:
    return {"企业名称": e.name, "信用代码": e.credit_code or "", "园区": e.park.name if e.park
            else "", "重点企业": "是" if e.is_key else "否", "联系人": e.contact_person or ""}


@bp.get("/enterprises")
@district_users
def enterprises():
    """List the enterprises in the user's scope: search, district, park, industry, key flag."""
    session = get_session()
    args = request.args
    district_id = to_int(args.get("district")) if is_city(current_user) \
        else current_user.district_id
    stmt = registries.enterprises(current_user, q=args.get("q"), district_id=district_id,
                                  park_id=to_int(args.get("park")),
                                  industry_id=to_int(args.get("industry")), key=args.get("key"))
    if args.get("export") == "xlsx":
        rows = []
        for e in session.scalars(stmt):
            full = reveal_contact(session, current_user, e.district_id, "enterprise", e.id)
            rows.append([e.name, e.credit_code or "", e.district.name,
                         e.park.name if e.park else "", e.industry.name if e.industry else "",
                         e.is_key, e.contact_person or "",
                         e.contact_phone if full else mask_phone(e.contact_phone),
                         e.contact_email if full else mask_email(e.contact_email)])
        record(session, current_user, "export", "enterprises", None, after={"rows": len(rows)})
        return xlsx_response(rows_to_xlsx(ENTERPRISE_HEADERS, rows, "企业库"), "企业库.xlsx")
    return render_template(
        "registries/enterprises.html", page=paginate(session, stmt, args.get("page")),
        args=args, district_id=district_id, districts=_districts(session),
        parks=_parks_of(session, district_id), industries=_industries(session),
        can_add=current_user.role in (Role.DISTRICT_ADMIN, Role.CITY_ADMIN,
                                      Role.DISTRICT_LIAISON))


@bp.get("/enterprises/lookup")
@district_users
def enterprise_lookup():
    """Return up to 10 enterprises in the user's scope matching ?q= (name or credit code)."""
    session = get_session()
    rows = registries.lookup_enterprises(session, current_user, request.args.get("q", ""))
    return jsonify([{"id": e.id, "name": e.name, "credit_code": e.credit_code or "",
                     "district": e.district.name, "park": e.park.name if e.park else "",
                     "is_key": e.is_key} for e in rows])


@bp.get("/enterprises/<int:enterprise_id>")
@district_users
def enterprise(enterprise_id: int):
    """Show an enterprise: registry fields, contact (private tier), demands, visits, matches."""
    session = get_session()
    e = registries.get_enterprise(session, current_user, enterprise_id)
    full = reveal_contact(session, current_user, e.district_id, "enterprise", e.id)
    contact = {"person": e.contact_person or "",
               "phone": e.contact_phone if full else mask_phone(e.contact_phone),
               "email": e.contact_email if full else mask_email(e.contact_email)}
    return render_template("registries/enterprise.html", e=e, contact=contact, full=full,
                           activity=registries.enterprise_activity(session, e),
                           can_edit=registries.can_edit(current_user, e.district_id))


@bp.route("/enterprises/new", methods=["GET", "POST"])
@bp.route("/enterprises/<int:enterprise_id>/edit", methods=["GET", "POST"])
@district_users
def edit_enterprise(enterprise_id: int | None = None):
    """Add an enterprise to the registry or edit one of the district's."""
    session = get_session()
    e = registries.get_enterprise(session, current_user, enterprise_id) if enterprise_id \
        else None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = EnterpriseForm(request.form)
        if not form.validate():
            errors, status = form.errors_by_field(), INVALID
        else:
            before = _enterprise_snapshot(e) if e else {}
            data = registries.EnterpriseInput(
                name=form.name.data or "", credit_code=form.credit_code.data or "",
                district_id=to_int(request.form.get("district_id")),
                park_id=to_int(request.form.get("park_id")),
                industry_id=to_int(request.form.get("industry_id")), is_key=form.is_key.data,
                address=form.address.data or "", contact_person=form.contact_person.data or "",
                contact_phone=form.contact_phone.data or "",
                contact_email=form.contact_email.data or "")
            try:
                saved = registries.save_enterprise(session, current_user, data, e)
            except DomainError as exc:
                errors, status = _errors(exc), INVALID
            else:
                old, new = _changes(before, _enterprise_snapshot(saved))
                record(session, current_user, "enterprise.update" if e else "enterprise.create",
                       "enterprise", saved.id, before=old or None, after=new)
                flash(f"企业 {saved.name} 已保存。", "success")
                return redirect(url_for(".enterprise", enterprise_id=saved.id))
    district_id = e.district_id if e else (None if is_city(current_user)
                                           else current_user.district_id)
    return render_template("registries/enterprise_form.html", e=e, errors=errors,
                           form=request.form, districts=_districts(session),
                           parks=_parks_of(session, district_id),
                           industries=_industries(session)), status


# --- 园区/孵化器 -----------------------------------------------------------------------------
@bp.get("/parks")
@admins
def parks():
    """List the parks and incubators in the user's scope."""
    session = get_session()
    args = request.args
    district_id = to_int(args.get("district")) if is_city(current_user) else None
    stmt = registries.parks(current_user, q=args.get("q"), district_id=district_id,
                            kind=args.get("kind"))
    if args.get("export") == "xlsx":
        rows = [[p.name, registries.PARK_KINDS.get(p.kind, p.kind), p.district.name]
                for p in session.scalars(stmt)]
        return xlsx_response(rows_to_xlsx(["名称", "类型", "所属区"], rows, "园区孵化器"),
                             "园区孵化器.xlsx")
    return render_template("registries/parks.html", page=paginate(session, stmt,
                                                                  args.get("page")),
                           args=args, districts=_districts(session), kinds=registries.PARK_KINDS)


@bp.get("/parks/<int:park_id>")
@admins
def park(park_id: int):
    """Show a park: its enterprises and the liaisons assigned to it."""
    session = get_session()
    p = registries.get_park(session, current_user, park_id)
    firms, people = registries.park_members(session, p)
    return render_template("registries/park.html", p=p, firms=firms, people=people,
                           kinds=registries.PARK_KINDS)


@bp.route("/parks/new", methods=["GET", "POST"])
@bp.route("/parks/<int:park_id>/edit", methods=["GET", "POST"])
@admins
def edit_park(park_id: int | None = None):
    """Add or edit a park or incubator."""
    session = get_session()
    p = registries.get_park(session, current_user, park_id) if park_id else None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = ParkForm(request.form)
        if not form.validate():
            errors, status = form.errors_by_field(), INVALID
        else:
            try:
                saved = registries.save_park(
                    session, current_user, name=form.name.data or "",
                    kind=request.form.get("kind", ""),
                    district_id=to_int(request.form.get("district_id")), park=p)
            except DomainError as exc:
                errors, status = _errors(exc), INVALID
            else:
                record(session, current_user, "park.update" if p else "park.create", "park",
                       saved.id, after={"名称": saved.name})
                flash(f"{saved.name} 已保存。", "success")
                return redirect(url_for(".park", park_id=saved.id))
    return render_template("registries/simple_form.html", kind="park", obj=p, errors=errors,
                           form=request.form, districts=_districts(session),
                           kinds=registries.PARK_KINDS), status


# --- 创投机构 ----------------------------------------------------------------------------------
@bp.get("/investors")
@admins
def investors():
    """List the venture-capital firms with their preferences (used by meeting invitations)."""
    session = get_session()
    args = request.args
    stmt = registries.investors(args.get("q"), to_int(args.get("industry")))
    if args.get("export") == "xlsx":
        rows = [[v.name, "、".join(i.name for i in v.industries), "、".join(v.stages or []),
                 v.ticket_min or "", v.ticket_max or "", v.contact_person or ""]
                for v in session.scalars(stmt)]
        headers = ["机构名称", "关注行业", "投资阶段", "单笔下限（万元）", "单笔上限（万元）",
                   "联系人"]
        return xlsx_response(rows_to_xlsx(headers, rows, "创投机构"), "创投机构.xlsx")
    return render_template("registries/investors.html", page=paginate(session, stmt,
                                                                      args.get("page")),
                           args=args, industries=_industries(session))


@bp.get("/investors/<int:investor_id>")
@admins
def investor(investor_id: int):
    """Show a venture-capital firm."""
    v = get_session().get(Investor, investor_id)
    if v is None:
        raise NotFound("创投机构不存在。")
    return render_template("registries/investor.html", v=v,
                           phone=v.contact_phone if is_city(current_user)
                           else mask_phone(v.contact_phone))


@bp.route("/investors/new", methods=["GET", "POST"])
@bp.route("/investors/<int:investor_id>/edit", methods=["GET", "POST"])
@admins
def edit_investor(investor_id: int | None = None):
    """Add or edit a venture-capital firm (the city keeps this registry)."""
    session = get_session()
    v = session.get(Investor, investor_id) if investor_id else None
    if investor_id and v is None:
        raise NotFound("创投机构不存在。")
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = InvestorForm(request.form)
        if not form.validate():
            errors, status = form.errors_by_field(), INVALID
        else:
            try:
                saved = registries.save_investor(
                    session, current_user, name=form.name.data or "",
                    stages=request.form.getlist("stages"),
                    ticket_min=float(form.ticket_min.data) if form.ticket_min.data is not None
                    else None,
                    ticket_max=float(form.ticket_max.data) if form.ticket_max.data is not None
                    else None, focus=form.focus.data or "",
                    contact_person=form.contact_person.data or "",
                    contact_phone=form.contact_phone.data or "",
                    industry_ids=[int(x) for x in request.form.getlist("industry_ids")
                                  if x.isdigit()], investor=v)
            except DomainError as exc:
                errors, status = _errors(exc), INVALID
            else:
                record(session, current_user, "investor.update" if v else "investor.create",
                       "investor", saved.id, after={"名称": saved.name})
                flash(f"{saved.name} 已保存。", "success")
                return redirect(url_for(".investor", investor_id=saved.id))
    return render_template("registries/simple_form.html", kind="investor", obj=v,
                           errors=errors, form=request.form, industries=_industries(session),
                           stages=registries.INVESTMENT_STAGES), status


# --- 高校院所 ----------------------------------------------------------------------------------
@bp.get("/institutions")
@admins
def institutions():
    """List the universities and institutes with their expert counts."""
    session = get_session()
    args = request.args
    stmt = registries.institutions(args.get("q"), args.get("kind"))
    if args.get("export") == "xlsx":
        rows = [[i.name, registries.INSTITUTION_KINDS.get(i.kind, i.kind), i.city or "", n]
                for i, n in session.execute(stmt)]
        return xlsx_response(rows_to_xlsx(["名称", "类型", "所在城市", "专家人数"], rows,
                                          "高校院所"), "高校院所.xlsx")
    return render_template("registries/institutions.html",
                           page=paginate(session, stmt, args.get("page")), args=args,
                           kinds=registries.INSTITUTION_KINDS)


@bp.get("/institutions/<int:institution_id>")
@admins
def institution(institution_id: int):
    """Show an institution: its campus liaisons and how many experts it has."""
    session = get_session()
    i = session.get(Institution, institution_id)
    if i is None:
        raise NotFound("高校院所不存在。")
    people = list(session.scalars(select(Liaison).where(Liaison.institution_id == i.id,
                                                        Liaison.end_date.is_(None))))
    count = session.scalar(select(func.count()).select_from(Expert)
                           .where(Expert.institution_id == i.id))
    return render_template("registries/institution.html", i=i, people=people, experts=count,
                           kinds=registries.INSTITUTION_KINDS)


@bp.route("/institutions/new", methods=["GET", "POST"])
@bp.route("/institutions/<int:institution_id>/edit", methods=["GET", "POST"])
@admins
def edit_institution(institution_id: int | None = None):
    """Add or edit a university or institute (the city keeps this registry)."""
    session = get_session()
    i = session.get(Institution, institution_id) if institution_id else None
    if institution_id and i is None:
        raise NotFound("高校院所不存在。")
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = InstitutionForm(request.form)
        if not form.validate():
            errors, status = form.errors_by_field(), INVALID
        else:
            try:
                saved = registries.save_institution(
                    session, current_user, name=form.name.data or "",
                    kind=request.form.get("kind", ""), city=form.city.data or "", institution=i)
            except DomainError as exc:
                errors, status = _errors(exc), INVALID
            else:
                record(session, current_user,
                       "institution.update" if i else "institution.create", "institution",
                       saved.id, after={"名称": saved.name})
                flash(f"{saved.name} 已保存。", "success")
                return redirect(url_for(".institution", institution_id=saved.id))
    return render_template("registries/simple_form.html", kind="institution", obj=i,
                           errors=errors, form=request.form,
                           kinds=registries.INSTITUTION_KINDS), status

