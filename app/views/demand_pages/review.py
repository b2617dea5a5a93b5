"""需求详情与审核: detail, submit / publish / return / close, the review queue."""

from __future__ import annotations

from collections.abc import Mapping

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Demand,
    Enterprise,
    Expert,
    Match,
)

from ...auth.decorators import roles_required
from ...db import attempt, get_session
from ...errors import DomainError, Forbidden, NotFound
from ...policy.access import can_view_match
from ...policy.roles import Role
from ...services import workflow as wf
from ...services.contacts import demand_contact
from ...services.listing import like, paginate, rows_to_xlsx
from ..downloads import xlsx_response
from . import (
    ALL_ROLES,
    FIELD_LABELS,
    _user,
    _user_names,
    bp,
)
from .intake import similar_for


# --- 需求详情 ---------------------------------------------------------------------------------
@bp.get("/<int:demand_id>")
@roles_required(*ALL_ROLES)
def detail(demand_id: int):
    """Show a demand: fields, status timeline, matches and their outcomes, actions."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    reveal = request.args.get("reveal") == "1"
    contact = demand_contact(session, user, demand, reveal=reveal)
    matches = list(session.scalars(
        select(Match).where(Match.demand_id == demand.id)
        .options(selectinload(Match.expert).selectinload(Expert.institution),
                 selectinload(Match.events))
        .order_by(Match.score.desc().nulls_last(), Match.id)))
    matches = [m for m in matches if can_view_match(user, m)]
    names = _user_names(session, [e.user_id for e in demand.events]
                        + [e.user_id for m in matches for e in m.events])
    actions = wf.demand_actions(session, user, demand)
    report, problems = wf.check_quality(demand)
    similar = similar_for(session, demand.text, demand.id)
    return render_template("demands/detail.html", demand=demand, contact=contact,
                           matches=matches, names=names, actions=actions, report=report,
                           problems=problems, labels=FIELD_LABELS, similar=similar)


@bp.post("/<int:demand_id>/<any(submit,publish,return,close):action>")
@roles_required(Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
def transition(demand_id: int, action: str):
    """Submit, publish, return (reason required) or close a demand."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    reason = request.form.get("reason")
    override = request.form.get("override_reason") if action == "publish" else None
    back = request.form.get("next")
    target = back if back in ("review",) else "detail"
    try:
        with attempt():
            wf.transition_demand(session, user, demand, action, reason, override_reason=override)
    except wf.IncompleteDemand as exc:
        flash(exc.message + " " + "；".join(p["message"] for p in exc.errors), "danger")
        return redirect(url_for("demands.edit", demand_id=demand_id)
                        if user.role == Role.DISTRICT_LIAISON
                        else url_for("demands.detail", demand_id=demand_id))
    except DomainError as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        if target == "review":
            return review_page(session, {demand_id: exc.message},
                               {demand_id: reason or ""}, 422,
                               {demand_id: override} if override is not None else None)
        flash(exc.message, "danger")
        return redirect(url_for("demands.detail", demand_id=demand_id))
    label = {"submit": "已提交审核", "publish": "已发布", "return": "已退回联络员",
             "close": "已关闭"}[action]
    flash(f"需求 {demand.code} {label}。", "success")
    if target == "review":
        return redirect(url_for("demands.review_queue"))
    return redirect(url_for("demands.detail", demand_id=demand_id))


# --- 需求审核 ---------------------------------------------------------------------------------
def review_page(session: Session, errors: Mapping[int, str] | None = None,
                reasons: Mapping[int, str] | None = None, status: int = 200,
                overrides: Mapping[int, str] | None = None):
    """Render the review queue of the admin's district."""
    user = _user()
    stmt = (select(Demand).where(Demand.status == "submitted",
                                 Demand.district_id == user.district_id)
            .options(selectinload(Demand.enterprise), selectinload(Demand.liaison),
                     selectinload(Demand.tech_field), selectinload(Demand.industry))
            .order_by(Demand.submitted_at.asc().nulls_last(), Demand.id))
    q = (request.args.get("q") or "").strip()
    if q:
        stmt = stmt.join(Enterprise, Enterprise.id == Demand.enterprise_id).where(or_(
            Demand.code.ilike(like(q)), Demand.title.ilike(like(q)),
            Enterprise.name.ilike(like(q))))
    if request.args.get("export") == "xlsx":
        rows = []
        for d in session.scalars(stmt):
            report, problems = wf.check_quality(d)
            rows.append([d.code, d.title, d.enterprise.name if d.enterprise else "",
                         d.liaison.name if d.liaison else "", d.submitted_at,
                         "需求具体" if report.verdict == "specific" else "需求不够具体",
                         report.score, "；".join(p["message"] for p in problems)])
        return xlsx_response(rows_to_xlsx(REVIEW_HEADERS, rows, "待审核需求"), "待审核需求.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    checks = {d.id: wf.check_quality(d) for d in page.items}
    recent = wf.recent_overrides(session, user.district_id)
    return render_template("demands/review.html", page=page, checks=checks, labels=FIELD_LABELS,
                           errors=errors or {}, reasons=reasons or {}, overrides=overrides or {},
                           recent_overrides=recent,
                           names=_user_names(session, [e.user_id for e, _d in recent])), status


REVIEW_HEADERS = ["需求编号", "需求名称", "需求企业", "联络员", "提交时间", "有效性检查", "完整度",
                  "提示"]


@bp.get("/review")
@roles_required(Role.DISTRICT_ADMIN)
def review_queue():
    """List the submitted demands of the admin's district: publish or return with a reason."""
    return review_page(get_session())
