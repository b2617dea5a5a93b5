"""需求列表: search, filters, export."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import render_template, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Demand,
    Enterprise,
)

from ... import clock
from ...auth.decorators import roles_required
from ...db import get_session
from ...policy.roles import Role
from ...policy.scope import demand_scope
from ...policy.statuses import DEMAND_STATUS_LABELS
from ...services.listing import apply_sort, paginate, rows_to_xlsx
from ...services.listing import like as _like
from ...services.listing import to_date as _day
from ...services.listing import to_int as _int
from ..downloads import xlsx_response
from . import (
    ALL_ROLES,
    _options,
    _user,
    bp,
)

# --- 需求列表 ---------------------------------------------------------------------------------
SORTS = {"code": Demand.code, "title": Demand.title, "created_at": Demand.created_at,
         "submitted_at": Demand.submitted_at, "status": Demand.status,
         "investment": Demand.investment, "deadline": Demand.deadline}
EXPORT_HEADERS = ["需求编号", "需求名称", "需求企业", "所属区", "所属行业", "技术领域", "关键词",
                  "计划投入（万元）", "合作方式", "截止日期", "可公开发布", "状态", "联络员",
                  "登记时间", "提交时间"]


def _filtered(session: Session, args: Mapping[str, str]) -> tuple[Any, dict[str, Any]]:
    """Return the scoped, filtered select of demands and the filter values used."""
    user = _user()
    stmt = select(Demand).where(demand_scope(user))
    f: dict[str, Any] = {k: (args.get(k) or "").strip() for k in
                         ("q", "status", "industry_id", "tech_field_id", "district_id",
                          "date_from", "date_to")}
    if f["q"]:
        like = _like(f["q"])
        stmt = stmt.join(Enterprise, Enterprise.id == Demand.enterprise_id).where(or_(
            Demand.title.ilike(like, escape="\\"), Demand.code.ilike(like, escape="\\"),
            Enterprise.name.ilike(like, escape="\\")))
    if f["status"] in DEMAND_STATUS_LABELS:
        stmt = stmt.where(Demand.status == f["status"])
    else:
        f["status"] = ""
    for key, column in (("industry_id", Demand.industry_id),
                        ("tech_field_id", Demand.tech_field_id)):
        value = _int(f[key])
        if value is not None:
            stmt = stmt.where(column == value)
        else:
            f[key] = ""
    district = _int(f["district_id"])
    if district is not None and user.role == Role.CITY_ADMIN:
        stmt = stmt.where(Demand.district_id == district)
    else:
        f["district_id"] = ""
    start, end = _day(f["date_from"]), _day(f["date_to"])
    # Days are Beijing days (UTC+8); stored times are UTC.
    if start:
        stmt = stmt.where(Demand.created_at >= clock.day_start(start))
    else:
        f["date_from"] = ""
    if end:
        stmt = stmt.where(Demand.created_at < clock.day_start(end + timedelta(days=1)))
    else:
        f["date_to"] = ""
    return stmt, f


@bp.get("/")
@roles_required(*ALL_ROLES)
def index():
    """List the demands the user may see: search, filters, sorting, pagination, export."""
    session = get_session()
    stmt, filters = _filtered(session, request.args)
    stmt, sort = apply_sort(stmt, request.args.get("sort"), SORTS, "-created_at")
    stmt = stmt.order_by(Demand.id.desc()).options(
        selectinload(Demand.enterprise), selectinload(Demand.district),
        selectinload(Demand.industry), selectinload(Demand.tech_field),
        selectinload(Demand.liaison))
    if request.args.get("export") == "xlsx":
        rows = ((d.code, d.title, d.enterprise.name if d.enterprise else "",
                 d.district.name if d.district else "",
                 d.industry.name if d.industry else "",
                 d.tech_field.name if d.tech_field else "", list(d.keywords or []),
                 d.investment, d.cooperation_mode, d.deadline, bool(d.publishable),
                 DEMAND_STATUS_LABELS.get(d.status, d.status),
                 d.liaison.name if d.liaison else "", clock.local_naive(d.created_at),
                 clock.local_naive(d.submitted_at)) for d in session.scalars(stmt))
        return xlsx_response(rows_to_xlsx(EXPORT_HEADERS, rows, "需求列表"), "需求列表.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    return render_template("demands/index.html", page=page, sort=sort, f=filters,
                           **_options(session))
