"""需求管理: demand list, intake form with live effectiveness check, detail, review, expert search.

Every page goes through :mod:`app.services.workflow` for scope and state rules and commits once;
lists are scoped by :func:`app.policy.scope.demand_scope`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from matching import text as mtext
from matching.quality import MAX_KEYWORDS, split_keywords
from models import (
    Demand,
    District,
    Enterprise,
    Expert,
    Industry,
    Institution,
    Liaison,
    Match,
    TechField,
    User,
    liaison_enterprise,
)

from .. import clock
from ..db import attempt, get_session, keep_on_refusal
from ..errors import DomainError, Forbidden, NotFound
from ..policy.access import can_view_match
from ..policy.scope import demand_scope
from ..policy.statuses import ENGAGED_MATCH_STATUSES
from ..security import (
    roles_required,
)
from ..services import search
from ..services import workflow as wf
from ..services.contacts import demand_contact
from ..services.fields import MAX_TEXT, check_number
from ..services.listing import apply_sort, paginate, rows_to_xlsx, xlsx_response
from ..services.listing import like as _like
from ..services.listing import to_date as _day
from ..services.listing import to_int as _int

bp = Blueprint("demands", __name__, url_prefix="/demands")

ALL_ROLES = ("district_liaison", "district_admin", "campus_liaison", "city_admin")
SEARCH_ROLES = ("district_liaison", "district_admin", "city_admin")
COOPERATION_MODES = ("技术开发", "技术转让", "技术许可", "技术咨询", "技术服务", "合作研发",
                     "人才引进", "其他")
#: Cosine above which an existing demand is called similar at intake (DemandIndex scores).
SIMILAR_THRESHOLD = 0.4
FIELD_LABELS = {
    "title": "需求名称", "enterprise_name": "需求企业", "enterprise_id": "需求企业",
    "contact_person": "企业联系人", "contact_phone": "联系电话", "contact_email": "电子邮箱",
    "problem": "技术难题", "goals": "预期目标与指标", "investment": "计划投入（万元）",
    "industry_id": "所属行业", "tech_field_id": "技术领域", "keywords": "关键词",
    "cooperation_mode": "合作方式", "deadline": "截止日期", "publishable": "可公开发布",
}
FORM_FIELDS = ("title", "enterprise_name", "new_enterprise", "contact_person", "contact_phone",
               "contact_email", "problem", "goals", "investment", "industry_id",
               "tech_field_id", "keywords", "cooperation_mode", "deadline", "publishable")


# --- small helpers --------------------------------------------------------------------------



def _user() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _options(session: Session) -> dict[str, Any]:
    return {
        "industries": [(i.id, f"{i.code} {i.name}") for i in session.scalars(
            select(Industry).order_by(Industry.code))],
        "tech_fields": [(t.id, t.name) for t in session.scalars(
            select(TechField).order_by(TechField.id))],
        "districts": [(d.id, d.name) for d in session.scalars(
            select(District).order_by(District.seq))],
        "statuses": list(wf.DEMAND_STATUS_LABELS.items()),
        "modes": [(m, m) for m in COOPERATION_MODES],
    }


def highlight(text: str | None, terms: Iterable[str]) -> Markup:
    """Return `text` HTML-escaped with every matched term wrapped in <mark>."""
    text = text or ""
    words = sorted({mtext.token_text(t) for t in terms if t and mtext.token_text(t).strip()},
                   key=len, reverse=True)
    if not words or not text:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


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
    if f["status"] in wf.DEMAND_STATUS_LABELS:
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
    if district is not None and user.role == "city_admin":
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
                 wf.DEMAND_STATUS_LABELS.get(d.status, d.status),
                 d.liaison.name if d.liaison else "", clock.local_naive(d.created_at),
                 clock.local_naive(d.submitted_at)) for d in session.scalars(stmt))
        return xlsx_response(rows_to_xlsx(EXPORT_HEADERS, rows, "需求列表"), "需求列表.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    return render_template("demands/index.html", page=page, sort=sort, f=filters,
                           **_options(session))


# --- 登记 / 编辑需求 ----------------------------------------------------------------------------
def _form_data(form: Mapping[str, str]) -> dict[str, Any]:
    """Return the workflow input of the intake form (strings as typed)."""
    return {
        "title": form.get("title", ""),
        "enterprise_name": form.get("enterprise_name", ""),
        "new_enterprise": form.get("new_enterprise") in ("1", "on", "true"),
        "contact_person": form.get("contact_person", ""),
        "contact_phone": form.get("contact_phone", ""),
        "contact_email": form.get("contact_email", ""),
        "problem": form.get("problem", ""),
        "goals": form.get("goals", ""),
        "investment": (form.get("investment") or "").strip(),
        "industry_id": _int(form.get("industry_id")),
        "tech_field_id": _int(form.get("tech_field_id")),
        "keywords": form.get("keywords", ""),
        "cooperation_mode": form.get("cooperation_mode", ""),
        "deadline": (form.get("deadline") or "").strip(),
        "publishable": form.get("publishable") in (True, "1", "on", "true", "y"),
    }


def _split_keywords(value: str | None) -> list[str]:
    """Split typed keywords on commas, 、, semicolons and spaces, keeping their order."""
    return split_keywords(value)


def _validate_form(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the errors that stop even a draft from being saved (what the workflow skips)."""
    errors: dict[str, str] = {}
    if not (data.get("title") or "").strip():
        errors["title"] = "请填写需求名称。"
    if not (data.get("enterprise_name") or "").strip():
        errors["enterprise_name"] = "请选择或填写需求企业。"
    mode = (data.get("cooperation_mode") or "").strip()
    if mode and mode not in COOPERATION_MODES:
        errors["cooperation_mode"] = "请从列表中选择合作方式。"
    if data.get("deadline") and _day(data["deadline"]) is None:
        errors["deadline"] = "截止日期格式应为 YYYY-MM-DD。"
    return errors


def _merge(errors: dict[str, str], problems: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Add workflow problems to field errors; several messages of one field are joined."""
    out = dict(errors)
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


def _demand_form(demand: Demand) -> dict[str, Any]:
    return {
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
    }


def _save(session: Session, demand: Demand | None) -> Any:
    """Handle a POST of the intake form (保存草稿 or 提交审核)."""
    user = _user()
    form = {k: request.form.get(k, "") for k in FORM_FIELDS}
    submitting = request.form.get("action") == "submit"
    data = _form_data(request.form)
    errors = _validate_form(data)
    if errors:
        return _render_form(session, demand, form, errors, 422)
    try:
        if demand is None:
            demand = wf.create_demand(session, user, data)
        else:
            demand = wf.update_demand(session, user, demand, data)
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _render_form(session, demand, form, _merge({}, _problems(exc)), 422)
    if not submitting:
        flash(f"需求 {demand.code} 已保存为草稿。", "success")
        return redirect(url_for("demands.edit", demand_id=demand.id))
    try:
        wf.submit_demand(session, user, demand)  # the check decides the deadline too
    except wf.IncompleteDemand as exc:
        keep_on_refusal()  # the draft is kept: the liaison's work is not lost
        errors = _merge({}, exc.errors)
        errors["_form"] = f"需求已保存为草稿（{demand.code}），但未提交：{exc.message}"
        return _render_form(session, demand, form, errors, 422)
    flash(f"需求 {demand.code} 已提交，等待区局审核。", "success")
    return redirect(url_for("demands.detail", demand_id=demand.id))


def _problems(exc: DomainError) -> list[dict[str, str]]:
    if exc.errors:
        return list(exc.errors)
    return [{"field": exc.field or "_form", "message": exc.message}]


def _render_form(session: Session, demand: Demand | None, form: Mapping[str, Any],
                 errors: Mapping[str, str], status: int = 200):
    user = _user()
    report = _check(session, form, demand.id if demand is not None else None)
    return render_template("demands/form.html", demand=demand, form=form, errors=errors,
                           enterprises=_enterprise_names(session, user), check=report,
                           labels=FIELD_LABELS, max_keywords=MAX_KEYWORDS,
                           **_options(session)), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required("district_liaison")
def new():
    """Record a new demand (district liaison): save as draft or submit for review."""
    session = get_session()
    if request.method == "POST":
        return _save(session, None)
    return _render_form(session, None, {"publishable": True}, {})


@bp.route("/<int:demand_id>/edit", methods=["GET", "POST"])
@roles_required("district_liaison")
def edit(demand_id: int):
    """Edit a draft or returned demand of the liaison's district."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    if demand.district_id != user.district_id:
        raise Forbidden("只能修改本区的需求。")
    if demand.status not in wf.EDITABLE_STATUSES:
        flash(f"当前状态「{wf.DEMAND_STATUS_LABELS[demand.status]}」的需求不能修改。", "warning")
        return redirect(url_for("demands.detail", demand_id=demand.id))
    if request.method == "POST":
        return _save(session, demand)
    return _render_form(session, demand, _demand_form(demand), {})


# --- effectiveness check (htmx) ------------------------------------------------------------
def _check(session: Session, form: Mapping[str, Any], demand_id: int | None) -> dict[str, Any]:
    """Run the effectiveness check and the similar-demand search on what the user typed."""
    data = _form_data(form)
    keywords = _split_keywords(data["keywords"])
    try:
        investment = check_number(data["investment"], "investment", "计划投入")
    except DomainError:
        investment = None

    def typed_text(key: str) -> str:  # what the check reads: never more than a field may hold
        return (data[key] or "").strip()[:MAX_TEXT]

    probe = Demand(title=typed_text("title")[:200], problem=typed_text("problem"),
                   goals=typed_text("goals"), keywords=keywords,
                   investment=investment, tech_field_id=data["tech_field_id"],
                   deadline=_day(data["deadline"]) if data["deadline"] else None)
    typed = any((data[k] or "").strip() for k in ("title", "problem", "goals"))
    report, problems = wf.check_quality(probe)
    if not data["publishable"]:
        problems.append({"code": "not_publishable", "field": "publishable", "blocking": False,
                         "message": "未勾选“可公开发布”：审核后不能在平台发布，只能定向推荐专家。"})
    return {"typed": typed, "report": report, "problems": problems,
            "similar": _similar(session, probe.text, demand_id) if typed else []}


def _similar(session: Session, text: str, demand_id: int | None) -> list[dict[str, Any]]:
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
@roles_required("district_liaison")
def check():
    """Return the effectiveness hints and similar demands for the form as typed (htmx)."""
    session = get_session()
    report = _check(session, request.form, _int(request.form.get("demand_id")))
    return render_template("demands/_check.html", check=report, labels=FIELD_LABELS, oob=True)


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
    similar = _similar(session, demand.text, demand.id)
    return render_template("demands/detail.html", demand=demand, contact=contact,
                           matches=matches, names=names, actions=actions, report=report,
                           problems=problems, labels=FIELD_LABELS, similar=similar)


@bp.post("/<int:demand_id>/<any(submit,publish,return,close):action>")
@roles_required("district_liaison", "district_admin", "city_admin")
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
                        if user.role == "district_liaison"
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
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    checks = {d.id: wf.check_quality(d) for d in page.items}
    recent = wf.recent_overrides(session, user.district_id)
    return render_template("demands/review.html", page=page, checks=checks, labels=FIELD_LABELS,
                           errors=errors or {}, reasons=reasons or {}, overrides=overrides or {},
                           recent_overrides=recent,
                           names=_user_names(session, [e.user_id for e, _d in recent])), status


@bp.get("/review")
@roles_required("district_admin")
def review_queue():
    """List the submitted demands of the admin's district: publish or return with a reason."""
    return review_page(get_session())


# --- 匹配专家 ---------------------------------------------------------------------------------
def _rank(session: Session, demand: Demand, args: Mapping[str, str]) -> dict[str, Any]:
    """Rank experts for a demand with the page's filters; `error` when the text is unusable."""
    filters = {"field": _int(args.get("field")), "institution": _int(args.get("institution")),
               "academician": args.get("academician") in ("1", "on", "true"),
               "top": min(max(_int(args.get("top")) or 20, 5), 100)}
    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    try:
        hits, _snap = search.rank_text(
            session, demand.text, filters["top"], field_id=filters["field"],
            institution_id=filters["institution"], academician_only=filters["academician"],
            tokens=tokens, demand=demand)
    except DomainError as exc:
        return {"filters": filters, "error": exc.message, "rows": []}
    ids = [h.expert_id for h in hits]
    experts = {e.id: e for e in session.scalars(
        select(Expert).where(Expert.id.in_(ids))
        .options(selectinload(Expert.institution), selectinload(Expert.tech_field),
                 selectinload(Expert.items)))} if ids else {}
    proposed = {m.expert_id: m for m in session.scalars(
        select(Match).where(Match.demand_id == demand.id))}
    rows = []
    for rank, h in enumerate(hits, 1):
        e = experts.get(h.expert_id)
        if e is None:
            continue
        # Chips are the terms a person reads as reasons (matching.ranker.reasons.readable);
        # single characters, numbers and fragments are one grey line.
        shown = list(h.chips)
        terms = [t for t, _s in shown]
        item = next((i for i in e.items if i.title == h.best_item_title), None)
        rows.append({
            "rank": rank, "hit": h, "expert": e, "pct": h.percent,
            "terms": shown, "minor": h.minor_terms, "char_share": h.minor_share,
            "weak": h.score <= 0,
            "best_item": highlight(h.best_item_title, terms) if h.best_item_title else None,
            "best_item_kind": item.kind if item is not None else None,
            "best_item_text": highlight(_snippet(item.text, terms), terms)
            if item is not None and item.text and item.text.strip() != item.title.strip()
            else None,
            "fields": highlight(e.research_fields, terms),
            "match": proposed.get(e.id),
        })
    return {"filters": filters, "error": None, "rows": rows}


def _snippet(text: str | None, terms: list[str], width: int = 120) -> str:
    """Return up to `width` characters of `text` around the first matched term."""
    text = text or ""
    if len(text) <= width:
        return text
    words = [mtext.token_text(t) for t in terms if t]
    lower = text.lower()
    pos = min((p for p in (lower.find(w.lower()) for w in words if w) if p >= 0), default=0)
    start = max(0, pos - width // 3)
    return ("…" if start else "") + text[start:start + width] + "…"


def _can_search(user: Any, demand: Demand) -> None:
    if user.role != "city_admin" and user.district_id != demand.district_id:
        raise Forbidden("只能为本区的需求匹配专家。")


def _destinations(session: Session, matches: list[Match]) -> list[dict[str, Any]]:
    """Group created matches by institution with the campus liaisons who will review them."""
    by_inst: dict[int, dict[str, Any]] = {}
    for m in matches:
        inst = m.expert.institution
        entry = by_inst.setdefault(inst.id, {"institution": inst.name, "experts": [],
                                             "liaisons": []})
        entry["experts"].append(m.expert.name)
    if by_inst:
        today = clock.today()
        for liaison in session.scalars(select(Liaison).where(
                Liaison.kind == "campus", Liaison.institution_id.in_(list(by_inst)))):
            if liaison.active_on(today):
                by_inst[liaison.institution_id]["liaisons"].append(liaison.name)
        for u in session.scalars(select(User).where(
                User.role == "campus_liaison", User.active.is_(True),
                User.institution_id.in_(list(by_inst)))):
            names = by_inst[u.institution_id]["liaisons"]
            if u.display_name not in names:
                names.append(u.display_name)
    return list(by_inst.values())


@bp.route("/<int:demand_id>/experts", methods=["GET", "POST"])
@roles_required(*SEARCH_ROLES)
def experts(demand_id: int):
    """Rank experts for a demand; shortlist and send them to the campus liaisons."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    _can_search(user, demand)
    error = None
    if request.method == "POST":
        ids = [i for i in (_int(v) for v in request.form.getlist("expert_ids")) if i]
        try:
            created = wf.propose_matches(session, user, demand, ids,
                                         request.form.get("note") or None)
        except DomainError as exc:
            if isinstance(exc, Forbidden | NotFound):
                raise
            error = exc.message
        else:
            sent = _destinations(session, created)
            for s in sent:
                who = "、".join(s["liaisons"]) or "暂无在岗驻校联络员，请联系市科技局"
                flash(f"已发送给{s['institution']}驻校联络员（{who}）：专家 "
                      f"{'、'.join(s['experts'])}。", "success")
            return redirect(url_for("demands.experts", demand_id=demand.id,
                                    **{k: v for k, v in request.args.items()}))
    result = _rank(session, demand, request.args)
    actions = wf.demand_actions(session, user, demand)
    institutions = [(i.id, i.name) for i in session.scalars(
        select(Institution).order_by(Institution.name))]
    fields = [(t.id, t.name) for t in session.scalars(select(TechField).order_by(TechField.id))]
    return render_template("demands/experts.html", demand=demand, result=result,
                           can_send="match" in actions, institutions=institutions,
                           tech_fields=fields, error=error,
                           selected={_int(v) for v in request.form.getlist("expert_ids")}
                           ), 422 if error else 200


def init_app(app) -> None:
    """Register the blueprint and the `cst` / `highlight` template filters."""
    app.register_blueprint(bp)
    app.jinja_env.filters.setdefault("highlight", highlight)

