"""企业库, 园区/孵化器, 创投机构, 高校院所: list (search, filters, pages, 新增/导入/导出), detail
and edit, scoped by role (a district its own rows, the city all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, func, select

from models import District, Enterprise, Expert, Industry, Institution, Investor, Liaison, Park

from ..auth.decorators import roles_required
from ..db import get_session
from ..errors import NotFound
from ..forms.registry_forms import EnterpriseForm, InstitutionForm, InvestorForm, ParkForm
from ..policy.privacy import mask_email, mask_phone
from ..policy.roles import Role, is_city
from ..services import registry_writer
from ..services.audit import record
from ..services.contacts import reveal_contact
from ..services.listing import paginate, rows_to_xlsx, to_int
from .downloads import xlsx_response
from .editing import edit_page
from .uploads import allowed_kinds

bp = Blueprint("registries", __name__)
district_users = roles_required(Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
admins = roles_required(Role.DISTRICT_ADMIN, Role.CITY_ADMIN)


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


def _get(session, model: type, row_id: int, missing: str) -> Any:
    """Return a city-wide registry row (investor, institution) or NotFound."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    return row


def _saved(row: Park | Investor | Institution) -> str:
    return f"{row.name} 已保存。"


def _list_page(session, kind: str, stmt: Select, headers: list[str],
               export: Callable[[], list[list]], title: str, *, new_url: str | None,
               **context: Any):
    """Show a registry list (its page of ``stmt``) with 新增 (``new_url``, None when the user
    may not add), 导入 (when the user may import the kind) and 导出, or answer the 导出
    (``?export=xlsx``: ``export()`` gives the rows under ``headers``)."""
    if request.args.get("export") == "xlsx":
        return xlsx_response(rows_to_xlsx(headers, export(), title), f"{title}.xlsx")
    import_url = url_for("imports.upload", kind=kind) if kind in allowed_kinds(current_user) \
        else None
    return render_template(f"registries/{kind}.html",
                           page=paginate(session, stmt, request.args.get("page")),
                           args=request.args, new_url=new_url, import_url=import_url, **context)


# --- 企业库 ------------------------------------------------------------------------------------
ENTERPRISE_HEADERS = ["企业名称", "统一社会信用代码", "所属区", "园区/孵化器", "行业", "重点企业",
                      "联系人", "联系电话", "电子邮箱"]
INVESTOR_HEADERS = ["机构名称", "关注行业", "投资阶段", "单笔下限（万元）", "单笔上限（万元）",
                    "联系人"]


@bp.get("/enterprises")
@district_users
def enterprises():
    """List the enterprises in the user's scope: search, district, park, industry, key flag."""
    session = get_session()
    args = request.args
    district_id = to_int(args.get("district")) if is_city(current_user) \
        else current_user.district_id
    stmt = registry_writer.enterprises(current_user, q=args.get("q"), district_id=district_id,
                                  park_id=to_int(args.get("park")),
                                  industry_id=to_int(args.get("industry")), key=args.get("key"))

    def export() -> list[list]:
        rows = []
        for e in session.scalars(stmt):
            full = reveal_contact(session, current_user, e.district_id, "enterprise", e.id)
            rows.append([e.name, e.credit_code or "", e.district.name,
                         e.park.name if e.park else "", e.industry.name if e.industry else "",
                         e.is_key, e.contact_person or "",
                         e.contact_phone if full else mask_phone(e.contact_phone),
                         e.contact_email if full else mask_email(e.contact_email)])
        record(session, current_user, "export", "enterprises", None, after={"rows": len(rows)})
        return rows

    return _list_page(session, "enterprises", stmt, ENTERPRISE_HEADERS, export, "企业库",
                      new_url=url_for(".edit_enterprise"), district_id=district_id,
                      districts=_districts(session), parks=_parks_of(session, district_id),
                      industries=_industries(session))


@bp.get("/enterprises/lookup")
@district_users
def enterprise_lookup():
    """Return up to 10 enterprises in the user's scope matching ?q= (name or credit code)."""
    session = get_session()
    rows = registry_writer.lookup_enterprises(session, current_user, request.args.get("q", ""))
    return jsonify([{"id": e.id, "name": e.name, "credit_code": e.credit_code or "",
                     "district": e.district.name, "park": e.park.name if e.park else "",
                     "is_key": e.is_key} for e in rows])


@bp.get("/enterprises/<int:enterprise_id>")
@district_users
def enterprise(enterprise_id: int):
    """Show an enterprise: registry fields, contact (private tier), demands, visits, matches."""
    session = get_session()
    e = registry_writer.get_enterprise(session, current_user, enterprise_id)
    full = reveal_contact(session, current_user, e.district_id, "enterprise", e.id)
    contact = {"person": e.contact_person or "",
               "phone": e.contact_phone if full else mask_phone(e.contact_phone),
               "email": e.contact_email if full else mask_email(e.contact_email)}
    return render_template("registries/enterprise.html", e=e, contact=contact, full=full,
                           activity=registry_writer.enterprise_activity(session, e),
                           can_edit=registry_writer.can_edit(current_user, e.district_id))


@bp.route("/enterprises/new", methods=["GET", "POST"])
@bp.route("/enterprises/<int:enterprise_id>/edit", methods=["GET", "POST"])
@district_users
def edit_enterprise(enterprise_id: int | None = None):
    """Add an enterprise to the registry or edit one of the district's."""
    session = get_session()
    e = registry_writer.get_enterprise(session, current_user, enterprise_id) if enterprise_id \
        else None
    district_id = e.district_id if e else (None if is_city(current_user)
                                           else current_user.district_id)

    def save(form: EnterpriseForm) -> Enterprise:
        data = registry_writer.EnterpriseInput(
            name=form.name.data or "", credit_code=form.credit_code.data or "",
            district_id=to_int(request.form.get("district_id")),
            park_id=to_int(request.form.get("park_id")),
            industry_id=to_int(request.form.get("industry_id")), is_key=form.is_key.data,
            address=form.address.data or "", contact_person=form.contact_person.data or "",
            contact_phone=form.contact_phone.data or "",
            contact_email=form.contact_email.data or "")
        return registry_writer.save_enterprise(session, current_user, data, e)

    return edit_page(EnterpriseForm, save, template="registries/enterprise_form.html",
                     saved=lambda row: f"企业 {row.name} 已保存。",
                     done=lambda row: url_for(".enterprise", enterprise_id=row.id),
                     context=lambda: {"e": e, "districts": _districts(session),
                                      "parks": _parks_of(session, district_id),
                                      "industries": _industries(session)})


# --- 园区/孵化器 -----------------------------------------------------------------------------
@bp.get("/parks")
@admins
def parks():
    """List the parks and incubators in the user's scope."""
    session = get_session()
    args = request.args
    district_id = to_int(args.get("district")) if is_city(current_user) else None
    stmt = registry_writer.parks(current_user, q=args.get("q"), district_id=district_id,
                            kind=args.get("kind"))
    return _list_page(
        session, "parks", stmt, ["名称", "类型", "所属区"],
        lambda: [[p.name, registry_writer.PARK_KINDS.get(p.kind, p.kind), p.district.name]
                 for p in session.scalars(stmt)], "园区孵化器",
        new_url=url_for(".edit_park"), districts=_districts(session),
        kinds=registry_writer.PARK_KINDS)


@bp.get("/parks/<int:park_id>")
@admins
def park(park_id: int):
    """Show a park: its enterprises and the liaisons assigned to it."""
    session = get_session()
    p = registry_writer.get_park(session, current_user, park_id)
    firms, people = registry_writer.park_members(session, p)
    return render_template("registries/park.html", p=p, firms=firms, people=people,
                           kinds=registry_writer.PARK_KINDS)


@bp.route("/parks/new", methods=["GET", "POST"])
@bp.route("/parks/<int:park_id>/edit", methods=["GET", "POST"])
@admins
def edit_park(park_id: int | None = None):
    """Add or edit a park or incubator."""
    session = get_session()
    p = registry_writer.get_park(session, current_user, park_id) if park_id else None
    return edit_page(
        ParkForm, lambda form: registry_writer.save_park(
            session, current_user, name=form.name.data or "", kind=request.form.get("kind", ""),
            district_id=to_int(request.form.get("district_id")), park=p),
        template="registries/simple_form.html", saved=_saved,
        done=lambda row: url_for(".park", park_id=row.id),
        context={"kind": "park", "obj": p, "districts": _districts(session),
                 "kinds": registry_writer.PARK_KINDS})


# --- 创投机构 ----------------------------------------------------------------------------------
@bp.get("/investors")
@admins
def investors():
    """List the venture-capital firms with their preferences (used by meeting invitations)."""
    session = get_session()
    stmt = registry_writer.investors(request.args.get("q"), to_int(request.args.get("industry")))
    return _list_page(
        session, "investors", stmt, INVESTOR_HEADERS,
        lambda: [[v.name, "、".join(i.name for i in v.industries), "、".join(v.stages or []),
                  v.ticket_min or "", v.ticket_max or "", v.contact_person or ""]
                 for v in session.scalars(stmt)], "创投机构",
        new_url=url_for(".edit_investor") if is_city(current_user) else None,
        industries=_industries(session))


@bp.get("/investors/<int:investor_id>")
@admins
def investor(investor_id: int):
    """Show a venture-capital firm."""
    v = _get(get_session(), Investor, investor_id, "创投机构不存在。")
    return render_template("registries/investor.html", v=v,
                           phone=v.contact_phone if is_city(current_user)
                           else mask_phone(v.contact_phone))


@bp.route("/investors/new", methods=["GET", "POST"])
@bp.route("/investors/<int:investor_id>/edit", methods=["GET", "POST"])
@admins
def edit_investor(investor_id: int | None = None):
    """Add or edit a venture-capital firm (the city keeps this registry)."""
    session = get_session()
    v = _get(session, Investor, investor_id, "创投机构不存在。") if investor_id else None

    def save(form: InvestorForm) -> Investor:
        low, high = form.ticket_min.data, form.ticket_max.data
        return registry_writer.save_investor(
            session, current_user, name=form.name.data or "",
            stages=request.form.getlist("stages"),
            ticket_min=float(low) if low is not None else None,
            ticket_max=float(high) if high is not None else None, focus=form.focus.data or "",
            contact_person=form.contact_person.data or "",
            contact_phone=form.contact_phone.data or "",
            industry_ids=[int(x) for x in request.form.getlist("industry_ids") if x.isdigit()],
            investor=v)

    return edit_page(InvestorForm, save, template="registries/simple_form.html", saved=_saved,
                     done=lambda row: url_for(".investor", investor_id=row.id),
                     context={"kind": "investor", "obj": v, "industries": _industries(session),
                              "stages": registry_writer.INVESTMENT_STAGES})


# --- 高校院所 ----------------------------------------------------------------------------------
@bp.get("/institutions")
@admins
def institutions():
    """List the universities and institutes with their expert counts."""
    session = get_session()
    stmt = registry_writer.institutions(request.args.get("q"), request.args.get("kind"))
    return _list_page(
        session, "institutions", stmt, ["名称", "类型", "所在城市", "专家人数"],
        lambda: [[i.name, registry_writer.INSTITUTION_KINDS.get(i.kind, i.kind), i.city or "", n]
                 for i, n in session.execute(stmt)], "高校院所",
        new_url=url_for(".edit_institution") if is_city(current_user) else None,
        kinds=registry_writer.INSTITUTION_KINDS)


@bp.get("/institutions/<int:institution_id>")
@admins
def institution(institution_id: int):
    """Show an institution: its campus liaisons and how many experts it has."""
    session = get_session()
    i = _get(session, Institution, institution_id, "高校院所不存在。")
    people = list(session.scalars(select(Liaison).where(Liaison.institution_id == i.id,
                                                        Liaison.end_date.is_(None))))
    count = session.scalar(select(func.count()).select_from(Expert)
                           .where(Expert.institution_id == i.id))
    return render_template("registries/institution.html", i=i, people=people, experts=count,
                           kinds=registry_writer.INSTITUTION_KINDS)


@bp.route("/institutions/new", methods=["GET", "POST"])
@bp.route("/institutions/<int:institution_id>/edit", methods=["GET", "POST"])
@admins
def edit_institution(institution_id: int | None = None):
    """Add or edit a university or institute (the city keeps this registry)."""
    session = get_session()
    i = _get(session, Institution, institution_id, "高校院所不存在。") if institution_id \
        else None
    return edit_page(
        InstitutionForm, lambda form: registry_writer.save_institution(
            session, current_user, name=form.name.data or "", kind=request.form.get("kind", ""),
            city=form.city.data or "", institution=i),
        template="registries/simple_form.html", saved=_saved,
        done=lambda row: url_for(".institution", institution_id=row.id),
        context={"kind": "institution", "obj": i, "kinds": registry_writer.INSTITUTION_KINDS})
