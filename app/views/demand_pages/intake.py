"""登记 / 编辑需求: the intake form, the live effectiveness check, similar demands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from matching.quality import MAX_KEYWORDS, split_keywords
from models import (
    Demand,
    Enterprise,
    Expert,
    Institution,
    Match,
    liaison_enterprise,
)

from ...auth.decorators import roles_required
from ...db import get_session, keep_on_refusal
from ...errors import DomainError, Forbidden, NotFound
from ...forms.demand_intake import DemandForm
from ...policy.access import can_manage_demand
from ...policy.roles import Role
from ...policy.scope import demand_scope
from ...policy.statuses import DEMAND_STATUS_LABELS, ENGAGED_MATCH_STATUSES
from ...services import search
from ...services import workflow as wf
from ...services.fields import MAX_TEXT, check_number
from ...services.listing import to_date as _day
from ...services.listing import to_int as _int
from . import (
    FIELD_LABELS,
    SIMILAR_THRESHOLD,
    _options,
    _user,
    bp,
)


# --- 登记 / 编辑需求 ----------------------------------------------------------------------------
def _merge(problems: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Return workflow problems as field errors; several messages of one field are joined."""
    out: dict[str, str] = {}
    for p in problems:
        field = p.get("field") or "_form"
        if field == "enterprise_id":
            field = "enterprise_name"
        msg = p.get("message", "")
        if field in out and msg not in out[field]:
            out[field] = f"{out[field]} {msg}"
        elif field not in out:
            out[field] = msg
    return out


def _enterprise_names(session: Session, user: Any) -> list[str]:
    """Return the enterprises of the liaison's district, their assigned ones first."""
    if user.district_id is None:
        return []
    mine = set()
    if user.liaison_id:
        mine = set(session.scalars(select(liaison_enterprise.c.enterprise_id).where(
            liaison_enterprise.c.liaison_id == user.liaison_id)))
    rows = session.execute(select(Enterprise.id, Enterprise.name).where(
        Enterprise.district_id == user.district_id).order_by(Enterprise.name).limit(2000)).all()
    return [r.name for r in sorted(rows, key=lambda r: (r.id not in mine, r.name))]


def _demand_form(demand: Demand) -> DemandForm:
    return DemandForm(data={
        "title": demand.title, "enterprise_name": demand.enterprise.name if demand.enterprise
        else "", "problem": demand.problem, "goals": demand.goals,
        "contact_person": demand.enterprise.contact_person or "" if demand.enterprise else "",
        "contact_phone": demand.enterprise.contact_phone or "" if demand.enterprise else "",
        "contact_email": demand.enterprise.contact_email or "" if demand.enterprise else "",
        "investment": f"{demand.investment:g}" if demand.investment is not None else "",
        "industry_id": demand.industry_id or "", "tech_field_id": demand.tech_field_id or "",
        "keywords": "、".join(demand.keywords or []),
        "cooperation_mode": demand.cooperation_mode or "",
        "deadline": demand.deadline.isoformat() if demand.deadline else "",
        "publishable": bool(demand.publishable),
    })


def _save(session: Session, demand: Demand | None) -> Any:
    """Handle a POST of the intake form (保存草稿 or 提交审核)."""
    user = _user()
    form = DemandForm(request.form)
    submitting = request.form.get("action") == "submit"
    if not form.validate():
        return _render_form(session, demand, form, form.errors_by_field(), 422)
    data = form.workflow_input()
    try:
        if demand is None:
            demand = wf.create_demand(session, user, data)
        else:
            demand = wf.update_demand(session, user, demand, data)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _render_form(session, demand, form, _merge(_problems(exc)), 422)
    if not submitting:
        flash(f"需求 {demand.code} 已保存为草稿。", "success")
        return redirect(url_for("demands.edit", demand_id=demand.id))
    try:
        wf.submit_demand(session, user, demand)  # the check decides the deadline too
    except wf.IncompleteDemand as exc:
        keep_on_refusal()  # the draft is kept: the liaison's work is not lost
        errors = _merge(exc.errors)
        errors["_form"] = f"需求已保存为草稿（{demand.code}），但未提交：{exc.message}"
        return _render_form(session, demand, form, errors, 422)
    flash(f"需求 {demand.code} 已提交，等待区局审核。", "success")
    return redirect(url_for("demands.detail", demand_id=demand.id))


def _problems(exc: DomainError) -> list[dict[str, str]]:
    if exc.errors:
        return list(exc.errors)
    return [{"field": exc.field or "_form", "message": exc.message}]


def _render_form(session: Session, demand: Demand | None, form: DemandForm,
                 errors: Mapping[str, str], status: int = 200):
    user = _user()
    report = _check(session, form, demand.id if demand is not None else None)
    return render_template("demands/form.html", demand=demand, form=form, errors=errors,
                           enterprises=_enterprise_names(session, user), check=report,
                           labels=FIELD_LABELS, max_keywords=MAX_KEYWORDS,
                           **_options(session)), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.DISTRICT_LIAISON)
def new():
    """Record a new demand (district liaison): save as draft or submit for review."""
    session = get_session()
    if request.method == "POST":
        return _save(session, None)
    return _render_form(session, None, DemandForm(data={"publishable": True}), {})


@bp.route("/<int:demand_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DISTRICT_LIAISON)
def edit(demand_id: int):
    """Edit a draft or returned demand of the liaison's district."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    if not can_manage_demand(user, demand):
        raise Forbidden("只能修改本区的需求。")
    if demand.status not in wf.EDITABLE_STATUSES:
        flash(f"当前状态「{DEMAND_STATUS_LABELS[demand.status]}」的需求不能修改。", "warning")
        return redirect(url_for("demands.detail", demand_id=demand.id))
    if request.method == "POST":
        return _save(session, demand)
    return _render_form(session, demand, _demand_form(demand), {})


# --- effectiveness check (htmx) ------------------------------------------------------------
def _check(session: Session, form: DemandForm, demand_id: int | None) -> dict[str, Any]:
    """Run the effectiveness check and the similar-demand search on what the user typed."""
    data = form.workflow_input()
    keywords = split_keywords(data["keywords"])
    try:
        investment = check_number(data["investment"], "investment", "计划投入")
    except DomainError:
        investment = None

    def typed_text(key: str) -> str:  # what the check reads: never more than a field may hold
        return (data[key] or "").strip()[:MAX_TEXT]

    probe = Demand(title=typed_text("title")[:200], problem=typed_text("problem"),
                   goals=typed_text("goals"), keywords=keywords,
                   investment=investment, tech_field_id=_int(data["tech_field_id"]),
                   deadline=_day(data["deadline"]) if data["deadline"] else None)
    typed = any((data[k] or "").strip() for k in ("title", "problem", "goals"))
    report, problems = wf.check_quality(probe)
    if not data["publishable"]:
        problems.append({"code": "not_publishable", "field": "publishable", "blocking": False,
                         "message": "未勾选“可公开发布”：审核后不能在平台发布，只能定向推荐专家。"})
    return {"typed": typed, "report": report, "problems": problems,
            "similar": similar_for(session, probe.text, demand_id) if typed else []}


def similar_for(session: Session, text: str, demand_id: int | None) -> list[dict[str, Any]]:
    """Return similar existing demands the user may see (others are not mentioned at all)."""
    try:
        tokens = search.query_tokens(text)
    except DomainError:
        return []
    user = _user()
    exclude = (demand_id,) if demand_id else ()
    found = [(i, s) for i, s in search.similar_demands(session, tokens, 10, exclude_ids=exclude)
             if s >= SIMILAR_THRESHOLD]
    if not found:
        return []
    demands = {d.id: d for d in session.scalars(
        select(Demand).where(Demand.id.in_([i for i, _s in found]),
                             demand_scope(user, include_published=True))
        .options(selectinload(Demand.district)))}
    found = [(i, s) for i, s in found if i in demands][:5]
    solved = _past_solutions(session, [i for i, _s in found])
    return [{"id": d.id, "code": d.code, "visible": True, "score": score, "title": d.title,
             "district": d.district.name if d.district else None, "status": d.status,
             "own": d.district_id == getattr(user, "district_id", None),
             "solutions": solved.get(d.id, [])}
            for d, score in ((demands[i], s) for i, s in found)]


def _past_solutions(session: Session, demand_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Return, per demand, the experts who took it on: name, institution, status, year."""
    if not demand_ids:
        return {}
    rows = session.execute(
        select(Match.demand_id, Match.status, Match.updated_at, Expert.id, Expert.name,
               Institution.name.label("institution"))
        .join(Expert, Expert.id == Match.expert_id)
        .join(Institution, Institution.id == Expert.institution_id)
        .where(Match.demand_id.in_(demand_ids), Match.status.in_(ENGAGED_MATCH_STATUSES))
        .order_by(Match.demand_id, Match.status.desc(), Match.id)
    ).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.demand_id, []).append({
            "expert_id": r.id, "name": r.name, "institution": r.institution,
            "status": r.status, "year": r.updated_at.year if r.updated_at else None})
    return out


@bp.post("/check")
@roles_required(Role.DISTRICT_LIAISON)
def check():
    """Return the effectiveness hints and similar demands for the form as typed (htmx)."""
    session = get_session()
    report = _check(session, DemandForm(request.form), _int(request.form.get("demand_id")))
    return render_template("demands/_check.html", check=report, labels=FIELD_LABELS, oob=True)
