"""对接管理: the match pipeline (scoped list, export), the campus review queue and match detail.

Scope: district roles see the matches of their district's demands, a campus liaison those of
their institution's experts, the city all. Every status change goes through
``app.services.workflow.transition_match`` (role, scope and state-machine checks, events); the
view only commits and re-renders the form with the message next to the field when it fails.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import (
    MATCH_STATUSES,
    Demand,
    District,
    Enterprise,
    Expert,
    Institution,
    Match,
    User,
)

from .. import clock
from ..auth.decorators import login_required, roles_required
from ..db import attempt, get_session
from ..errors import Conflict, DomainError
from ..policy.roles import DISTRICT_ROLES, Role
from ..policy.scope import match_scope
from ..policy.statuses import MATCH_STATUS_LABELS
from ..services import match_writer
from ..services import workflow as wf
from ..services.contacts import match_contact
from ..services.listing import apply_sort, field_errors, paginate, rows_to_xlsx, search, where_ids
from ..services.listing import to_date as _day
from .downloads import xlsx_response

bp = Blueprint("matches", __name__, url_prefix="/matches")

STATUS_LABELS = MATCH_STATUS_LABELS
#: Campus queue tabs: the statuses each one lists.
QUEUE_TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pending": ("待确认", ("proposed",)),
    "active": ("跟进中", ("accepted", "introduced", "negotiating")),
    "done": ("已办结", ("declined", "signed", "closed")),
}
#: Button labels where the page says it more politely than the state machine.
BUTTON_LABELS = {"decline": "婉拒"}
ACTION_STYLES = {
    "accept": "success",
    "decline": "outline-danger",
    "introduce": "primary",
    "negotiate": "primary",
    "sign": "success",
    "close": "outline-secondary",
}


def _labels() -> dict[str, str]:
    return {t.action: t.label for t in match_writer.MATCH_TRANSITIONS} | BUTTON_LABELS


def _base():
    return (
        select(Match)
        .join(Demand, Demand.id == Match.demand_id)
        .join(Expert, Expert.id == Match.expert_id)
        .join(Enterprise, Enterprise.id == Demand.enterprise_id)
        .where(match_scope(current_user))
    )


def _filtered(args: Any):
    stmt = _base()
    stmt = search(stmt, args.get("q"), Demand.title, Demand.code, Enterprise.name, Expert.name)
    stmt = where_ids(stmt, args, district=Demand.district_id, institution=Expert.institution_id)
    start, end = _day(args.get("start")), _day(args.get("end"))
    # the dates are Beijing days; compare with UTC bounds as stored
    if start:
        stmt = stmt.where(Match.created_at >= clock.day_start(start))
    if end:
        stmt = stmt.where(Match.created_at < clock.day_start(end + timedelta(days=1)))
    return stmt


SORTS = {
    "created_at": Match.created_at,
    "updated_at": Match.updated_at,
    "score": Match.score,
    "status": Match.status,
    "demand": Demand.title,
    "expert": Expert.name,
}


def _eager(stmt):
    return stmt.options(
        selectinload(Match.demand).selectinload(Demand.enterprise),
        selectinload(Match.demand).selectinload(Demand.district),
        selectinload(Match.expert).selectinload(Expert.institution),
    )


@bp.get("")
@login_required
def index():
    """List matches in scope: status tabs with counts, filters, search, pagination, export."""
    session = get_session()
    stmt = _filtered(request.args)
    counts = dict(
        session.execute(
            stmt.with_only_columns(Match.status, func.count(Match.id))
            .group_by(Match.status)
            .order_by(None)
        ).all()
    )
    status = request.args.get("status") or ""
    if status in MATCH_STATUSES:
        stmt = stmt.where(Match.status == status)
    stmt, sort = apply_sort(stmt, request.args.get("sort"), SORTS, "-updated_at")
    stmt = _eager(stmt.order_by(Match.id.desc()))
    if request.args.get("export") == "xlsx":
        return _export(session, stmt)
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    role = current_user.role
    districts = [(d.id, d.name) for d in session.scalars(select(District).order_by(District.seq))]
    institutions = [
        (i.id, i.name) for i in session.scalars(select(Institution).order_by(Institution.name))
    ]
    return render_template(
        "matches/index.html",
        page=page,
        sort=sort,
        counts=counts,
        total=sum(counts.values()),
        status=status,
        statuses=[(s, STATUS_LABELS[s]) for s in MATCH_STATUSES],
        args=request.args,
        districts=districts if role not in DISTRICT_ROLES else [],
        institutions=institutions if role != Role.CAMPUS_LIAISON else [],
    )


def _export(session: Session, stmt):
    headers = [
        "需求编号",
        "需求名称",
        "需求企业",
        "所属区",
        "专家",
        "专家单位",
        "状态",
        "匹配得分",
        "合同金额（万元）",
        "原因/说明",
        "推荐时间",
        "更新时间",
    ]
    rows = [
        (
            mt.demand.code,
            mt.demand.title,
            mt.demand.enterprise.name,
            mt.demand.district.name,
            mt.expert.name,
            mt.expert.institution.name,
            STATUS_LABELS.get(mt.status, mt.status),
            round(mt.score, 4) if mt.score is not None else "",
            mt.contract_amount,
            mt.reason,
            clock.local_naive(mt.created_at),
            clock.local_naive(mt.updated_at),
        )
        for mt in session.scalars(stmt)
    ]
    return xlsx_response(rows_to_xlsx(headers, rows, "对接"), "对接列表.xlsx")


# --- campus queue -------------------------------------------------------------------------------
def _queue(
    session: Session,
    tab: str,
    errors: dict[int, dict[str, str]] | None = None,
    values: dict[int, dict[str, str]] | None = None,
    status: int = 200,
):
    if tab not in QUEUE_TABS:
        tab = "pending"
    base = _base()
    counts = {
        key: session.scalar(
            base.with_only_columns(func.count(Match.id))
            .order_by(None)
            .where(Match.status.in_(statuses))
        )
        or 0
        for key, (_label, statuses) in QUEUE_TABS.items()
    }
    stmt = _eager(
        base.where(Match.status.in_(QUEUE_TABS[tab][1])).order_by(
            Match.created_at.asc() if tab == "pending" else Match.updated_at.desc(), Match.id
        )
    )
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 10))
    actions = {mt.id: match_writer.match_actions(session, current_user, mt) for mt in page.items}
    notes = _proposal_notes(session, [mt.id for mt in page.items])
    return render_template(
        "matches/campus_queue.html",
        page=page,
        tab=tab,
        tabs=QUEUE_TABS,
        counts=counts,
        actions=actions,
        notes=notes,
        errors=errors or {},
        values=values or {},
        action_styles=ACTION_STYLES,
        labels=_labels(),
    ), status


def _proposal_notes(session: Session, match_ids: list[int]) -> dict[int, str]:
    from models import MatchEvent

    if not match_ids:
        return {}
    rows = session.execute(
        select(MatchEvent.match_id, MatchEvent.reason).where(
            MatchEvent.match_id.in_(match_ids), MatchEvent.from_status.is_(None)
        )
    ).all()
    return {mid: reason for mid, reason in rows if reason}


@bp.get("/campus")
@roles_required(Role.CAMPUS_LIAISON)
def campus_queue():
    """List the matches proposed to the liaison's institution: accept, decline, follow up."""
    return _queue(get_session(), request.args.get("tab", "pending"))


# --- detail -------------------------------------------------------------------------------------
def _detail(
    session: Session,
    match: Match,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    open_action: str = "",
):
    user_ids = {e.user_id for e in match.events if e.user_id} | (
        {match.proposed_by_id} if match.proposed_by_id else set()
    )
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    contact = match_contact(session, current_user, match, reveal=request.args.get("reveal") == "1")
    demand_visible = wf.can_view_demand(session, current_user, match.demand)
    return render_template(
        "matches/detail.html",
        match=match,
        demand=match.demand,
        expert=match.expert,
        events=list(match.events),
        users=users,
        contact=contact,
        actions=match_writer.match_actions(session, current_user, match),
        errors=errors or {},
        values=values or {},
        open_action=open_action,
        demand_visible=demand_visible,
        action_styles=ACTION_STYLES,
        status_labels=STATUS_LABELS,
        labels=_labels(),
    ), status


@bp.get("/<int:match_id>")
@login_required
def detail(match_id: int):
    """Show a match: demand, expert, explanation, actions and the event timeline."""
    session = get_session()
    return _detail(session, match_writer.get_match(session, current_user, match_id))


@bp.post("/<int:match_id>/<action>")
@login_required
def act(match_id: int, action: str):
    """Apply a campus transition; a missing reason or amount is shown next to its field."""
    session = get_session()
    match = match_writer.get_match(session, current_user, match_id)
    back = request.form.get("next", "detail")
    values = {
        "reason": request.form.get("reason", ""),
        "contract_amount": request.form.get("contract_amount", ""),
    }
    try:
        with attempt():
            match_writer.transition_match(
                session,
                current_user,
                match,
                action,
                reason=values["reason"] or None,
                contract_amount=values["contract_amount"] or None,
            )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        session.refresh(match)
        errors = field_errors(exc)
        if isinstance(exc, Conflict) or "action" in errors:
            flash(exc.message, "danger")
            errors = {}
        status = exc.status if exc.status >= 400 else 400
        if back == "queue":
            return _queue(
                session,
                request.form.get("tab", "pending"),
                {match.id: errors},
                {match.id: {**values, "action": action}},
                status,
            )
        return _detail(session, match, errors, values, status, open_action=action)
    label = _labels().get(match_writer.MATCH_ACTION_ALIASES.get(action, action), action)
    flash(
        f"已{label}：{match.demand.title} — {match.expert.name}"
        f"（当前状态：{STATUS_LABELS.get(match.status, match.status)}）。",
        "success",
    )
    if back == "queue":
        return redirect(url_for("matches.campus_queue", tab=request.form.get("tab", "pending")))
    return redirect(url_for("matches.detail", match_id=match.id))


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
