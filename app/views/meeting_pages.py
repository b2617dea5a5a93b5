"""对接会: plan a matchmaking meeting, edit and lock its sessions, confirm, export, follow up."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from app.policy.roles import Role
from app.policy.scope import meeting_scope
from app.policy.statuses import MEETING_STATUS_LABELS
from app.services.meetings import context, edit, exports, inputs, organiser_checks, plan_jobs, read
from app.services.meetings import outcomes as meeting_outcomes
from app.services.meetings import plan as meeting_plan
from models import MatchmakingMeeting

from ..auth.decorators import roles_required
from ..db import after_commit, get_session
from ..errors import DomainError, NotFound
from ..job_queue import queue as job_queue
from ..services.audit import audit
from ..services.listing import apply_sort, field_errors, paginate, search
from ..services.listing import to_int as _int
from .downloads import xlsx_response

bp = Blueprint("meetings", __name__, url_prefix="/meetings")
organisers = roles_required(*organiser_checks.ORGANISER_ROLES)

SORTS = {"held_on": MatchmakingMeeting.held_on, "created_at": MatchmakingMeeting.created_at,
         "title": MatchmakingMeeting.title}




@bp.get("/")
@organisers
def index():
    """List the meetings the user organises, with search and status filter."""
    session = get_session()
    q = (request.args.get("q") or "").strip()
    status = request.args.get("status") or ""
    stmt = select(MatchmakingMeeting).where(meeting_scope(current_user))
    stmt = search(stmt, q, MatchmakingMeeting.title, MatchmakingMeeting.venue)
    if status in MEETING_STATUS_LABELS:
        stmt = stmt.where(MatchmakingMeeting.status == status)
    stmt, sort = apply_sort(stmt, request.args.get("sort"), SORTS, "-created_at")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    return render_template("meetings/index.html", page=page, sort=sort, q=q, status=status,
                           statuses=list(MEETING_STATUS_LABELS.items()))


def _form_defaults() -> dict:
    return {"min_demands": "3", "max_demands": "8", "seats": "3", "max_sessions_per_expert": "1",
            "slot_minutes": "20", "tables": "4", "intro_minutes": "30",
            "pairs_per_demand": "2", "n_days": "1", "slot_times": inputs.DEFAULT_SLOTS,
            "rooms": inputs.DEFAULT_ROOMS,
            "district_id": str(current_user.district_id or "")}


@bp.route("/new", methods=["GET", "POST"])
@organisers
def new():
    """Plan a meeting: the form, then the proposal (errors next to their fields, input kept)."""
    session = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form.to_dict()
        multi = {k: request.form.getlist(k) for k in ("industry_ids", "field_ids")}
        try:
            inp = inputs.parse_plan_form(form, current_user, multi)
            meeting, job_id = plan_jobs.submit_plan(session, current_user, inp)
        except DomainError as exc:
            errors = field_errors(exc)  # the 422 rolls the request back
        else:
            _start_plan(meeting.id, job_id)
            n_demands = len(meeting.params["demand_ids"])
            flash(f"已提交规划：{n_demands} 项需求，正在分场、邀请专家和排议程。", "info")
            return redirect(url_for(".detail", meeting_id=meeting.id))
        selected = {k: [int(v) for v in vs if v.isdigit()] for k, vs in multi.items()}
    else:
        form = _form_defaults()
        selected = {"industry_ids": [], "field_ids": []}
    options = context.plan_form_options(session, current_user)
    return render_template("meetings/form.html", form=form, errors=errors, selected=selected,
                           **options), 422 if errors else 200


def _start_plan(meeting_id: int, job_id: int) -> None:
    """Put the plan's job row on the job queue once this request has committed."""
    after_commit(lambda: job_queue().push(job_id))


@bp.get("/<int:meeting_id>/progress")
@organisers
def progress(meeting_id: int):
    """The planning job's progress bar (htmx polls it); a finished job refreshes the page."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    job = plan_jobs.job_of(session, meeting)
    resp = Response(render_template("meetings/_progress.html", meeting=meeting, job=job,
                                    steps=meeting_plan.PLAN_STEPS))
    if job is None or job.status in ("done", "failed"):
        resp.headers["HX-Refresh"] = "true"
    return resp


@bp.get("/preview")
@organisers
def preview():
    """Count the published demands the current filters pick (htmx partial)."""
    session = get_session()
    form = request.args.to_dict()
    form.setdefault("title", "预览")
    multi = {k: request.args.getlist(k) for k in ("industry_ids", "field_ids")}
    try:
        inp = inputs.parse_plan_form(form, current_user, multi)
        demands = context.find_demands(session, current_user, inp)
        message = None
    except DomainError as exc:
        demands, message = [], exc.message
    return render_template("meetings/_preview.html", demands=demands, message=message)


def _detail_context(session, meeting, only=None) -> dict:
    n = read.names(session, meeting, only)
    shown = [only] if only is not None else meeting.sessions
    grids = {ms.id: read.grid(ms) for ms in shown}
    candidates = {int(k): [(int(e), a) for e, a in v]
                  for k, v in (meeting.params.get("candidates") or {}).items()}
    return {"meeting": meeting, "n": n, "grids": grids, "candidates": candidates, "read": read,
            "editable": meeting.status in organiser_checks.EDITABLE,
                "agenda": read.agenda_view(meeting),
            "unplaced_meetings": meeting.params.get("unplaced_meetings") or {},
            "inferred": {int(k): v for k, v in (meeting.params.get("inferred") or {}).items()}}


@bp.get("/<int:meeting_id>")
@organisers
def detail(meeting_id: int):
    """The proposal: progress while planning, the agenda grid, sessions collapsed with counts."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    return render_template("meetings/detail.html", meeting=meeting, read=read,
                           editable=meeting.status in organiser_checks.EDITABLE,
                           agenda=read.agenda_view(meeting),
                           counts=read.session_counts(session, meeting),
                           job=plan_jobs.job_of(session, meeting), steps=meeting_plan.PLAN_STEPS)


@bp.get("/<int:meeting_id>/sessions/<int:session_id>")
@organisers
def session_body(meeting_id: int, session_id: int):
    """One session's demands, invitees and 1:1 timetable (loaded when it is expanded)."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    ms = edit.session_of(meeting, session_id)
    return render_template("meetings/_session.html", ms=ms,
                           **_detail_context(session, meeting, ms))


def _attempt(session, call):
    """Run a service call in a savepoint: a refused change leaves nothing behind."""
    with session.begin_nested():
        return call()


def _back(meeting_id: int, anchor: str | None = None):
    url = url_for(".detail", meeting_id=meeting_id)
    return redirect(url + (f"#{anchor}" if anchor else ""))


def _act(meeting_id: int, fn, ok: str | None, anchor: str | None = None):
    """Run an edit on the meeting; a refused edit is undone and its Chinese message flashed."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    try:
        result = _attempt(session, lambda: fn(session, meeting))
    except DomainError as exc:
        flash(exc.message, "danger")
        return _back(meeting_id, anchor)
    if ok:
        flash(ok.format(result=result), "success")
    return _back(meeting_id, anchor)


@bp.post("/<int:meeting_id>/replan")
@organisers
def replan(meeting_id: int):
    """Re-plan everything that is not locked, as a background job."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    try:
        job_id = _attempt(session, lambda: plan_jobs.submit_replan(session, current_user, meeting))
    except DomainError as exc:
        flash(f"重新分场失败，方案未改动：{exc.message}", "danger")
        return _back(meeting_id)
    _start_plan(meeting.id, job_id)
    flash("已提交重新分场：锁定的分场、需求和专家席位保持不变。", "info")
    return _back(meeting_id)


@bp.post("/<int:meeting_id>/confirm")
@organisers
def confirm(meeting_id: int):
    """Confirm the plan (no more planning)."""
    def run(session, meeting):
        edit.confirm(session, current_user, meeting)
    return _act(meeting_id, run, "方案已确认，可以导出议程和邀请名单。")


@bp.post("/<int:meeting_id>/held")
@organisers
def held(meeting_id: int):
    """Mark the meeting as held."""
    return _act(meeting_id, lambda s, m: edit.mark_held(s, current_user, m),
                "已标记为已召开，请登记签到和洽谈结果。")


@bp.post("/<int:meeting_id>/delete")
@organisers
def delete(meeting_id: int):
    """Delete a meeting that is not confirmed."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    try:
        _attempt(session, lambda: edit.delete_meeting(session, current_user, meeting))
    except DomainError as exc:
        flash(exc.message, "danger")
        return _back(meeting_id)
    flash("对接会已删除。", "success")
    return redirect(url_for(".index"))


def _target(meeting):
    """The target session of a move: a session id, or what the searchable picker sent."""
    to = _int(request.form.get("to_session_id"))
    if to is not None:
        return edit.session_of(meeting, to)
    return edit.resolve_session(meeting, request.form.get("to_session"))


def _move(meeting_id: int, move, message: str):
    """Move something to the target session the form names; {result} is that session's number."""
    def run(session, meeting):
        target = _target(meeting)
        move(session, meeting, target.id)
        return target.seq
    return _act(meeting_id, run, message)


@bp.post("/<int:meeting_id>/sessions/<int:session_id>/place")
@organisers
def place(meeting_id: int, session_id: int):
    """Pin a session to a time slot and room, or let the agenda place it again."""
    slot_key = request.form.get("slot_key") or None
    room = request.form.get("room") or None
    return _act(meeting_id,
                lambda s, m: edit.place_session(s, current_user, m, session_id, slot_key, room),
                "已固定分场的时段和会议室，其余分场已重新排入议程。" if slot_key or room
                else "已解除固定，该分场由系统重新安排。", f"session-{session_id}")


@bp.post("/<int:meeting_id>/demands/<int:demand_id>/move")
@organisers
def move_demand(meeting_id: int, demand_id: int):
    """Move a demand to another session (the placement is then locked)."""
    return _move(meeting_id,
                 lambda s, m, to: edit.move_demand(s, current_user, m, demand_id, to),
                 "需求已移到第{result}场；这两个分场的需求位置已锁定，重新分场时保持不变。")


@bp.post("/<int:meeting_id>/invitations/<int:invitation_id>/move")
@organisers
def move_expert(meeting_id: int, invitation_id: int):
    """Move an expert to another session (the seat is then locked)."""
    return _move(meeting_id,
                 lambda s, m, to: edit.move_expert(s, current_user, m, invitation_id, to),
                 "专家已移到第{result}场；席位和该分场的需求位置已锁定。")


@bp.post("/<int:meeting_id>/invitations/<int:invitation_id>/remove")
@organisers
def remove_expert(meeting_id: int, invitation_id: int):
    """Remove an expert from a session."""
    return _act(meeting_id, lambda s, m: edit.remove_expert(s, current_user, m, invitation_id),
                "已移出该专家；重新分场时不会再邀请其到该分场。")


@bp.post("/<int:meeting_id>/sessions/<int:session_id>/experts")
@organisers
def add_expert(meeting_id: int, session_id: int):
    """Invite an expert to a session by hand."""
    organiser_checks.get_meeting(get_session(), current_user, meeting_id)  # 404 before the form
    expert_id = _int(request.form.get("expert_id"))
    if expert_id is None:
        flash("请选择要添加的专家。", "danger")
        return _back(meeting_id, f"session-{session_id}")
    return _act(meeting_id,
                lambda s, m: edit.add_expert(s, current_user, m, session_id, expert_id),
                "已添加专家；席位和该分场的需求位置已锁定。", f"session-{session_id}")


@bp.post("/<int:meeting_id>/sessions/<int:session_id>/title")
@organisers
def rename(meeting_id: int, session_id: int):
    """Rename a session."""
    title = request.form.get("title", "")
    return _act(meeting_id,
                lambda s, m: edit.rename_session(s, current_user, m, session_id, title),
                "分场名称已修改。", f"session-{session_id}")


@bp.post("/<int:meeting_id>/lock")
@organisers
def lock(meeting_id: int):
    """Lock or unlock a session, a placement or an expert seat."""
    organiser_checks.get_meeting(get_session(), current_user, meeting_id)  # 404 before the form
    kind = request.form.get("kind", "")
    item = _int(request.form.get("id"))
    locked = request.form.get("locked") == "1"
    if item is None:
        flash("锁定对象不正确。", "danger")
        return _back(meeting_id)
    verb = "已锁定" if locked else "已解锁"
    return _act(meeting_id,
                lambda s, m: edit.set_lock(s, current_user, m, kind, item, locked),
                verb + "：{result}", request.form.get("anchor"))


# --- exports ------------------------------------------------------------------------------------
@bp.get("/<int:meeting_id>/agenda.xlsx")
@organisers
def agenda_xlsx(meeting_id: int):
    """Download the agenda workbook."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    return xlsx_response(exports.agenda_xlsx(session, meeting), f"{meeting.title}-议程.xlsx")


@bp.get("/<int:meeting_id>/invitations.xlsx")
@organisers
def invitations_xlsx(meeting_id: int):
    """Download the invitation lists (one sheet per invitee kind)."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    data = exports.invitations_xlsx(session, meeting, current_user)
    if current_user.role == Role.CITY_ADMIN:
        audit(session, "export_contacts", "meeting", meeting.id, {"what": "invitations"})
    return xlsx_response(data, f"{meeting.title}-邀请名单.xlsx")


@bp.get("/<int:meeting_id>/sessions/<int:session_id>.ics")
@organisers
def session_ics(meeting_id: int, session_id: int):
    """Download one session as an iCalendar file."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    ms = next((s for s in meeting.sessions if s.id == session_id), None)
    if ms is None:


        raise NotFound("分场不存在。")
    try:
        data = exports.session_ics(session, meeting, ms, host=request.host.split(":")[0])
    except DomainError as exc:
        flash(exc.message, "danger")
        return _back(meeting_id)
    return _ics_response(data, f"{meeting.title}-第{ms.seq}分场.ics", f"session-{ms.seq}.ics")


@bp.get("/<int:meeting_id>/people/<kind>/<int:person_id>.ics")
@organisers
def person_ics(meeting_id: int, kind: str, person_id: int):
    """Download one person's own agenda (their sessions and 1:1 meetings) as iCalendar."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    try:
        name, data = exports.person_ics(session, meeting, kind, person_id,
                                        host=request.host.split(":")[0])
    except DomainError as exc:
        flash(exc.message, "danger")
        return _back(meeting_id)
    return _ics_response(data, f"{meeting.title}-{name}.ics", f"{kind}-{person_id}.ics")


def _ics_response(data: bytes, name: str, ascii_name: str) -> Response:
    resp = Response(data, mimetype="text/calendar")
    resp.headers["Content-Disposition"] = (
        f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name)}")
    return resp


@bp.get("/<int:meeting_id>/print")
@organisers
def print_agenda(meeting_id: int):
    """A printable agenda page (print CSS hides the shell)."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    return render_template("meetings/print.html", ordered=exports.agenda_order(meeting),
                           **_detail_context(session, meeting))


# --- after the meeting ----------------------------------------------------------------------------
@bp.route("/<int:meeting_id>/checkin", methods=["GET", "POST"])
@organisers
def checkin(meeting_id: int):
    """Check in who attended."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    if request.method == "POST":
        ids = [int(v) for v in request.form.getlist("attended") if v.isdigit()]
        try:
            n = _attempt(session, lambda: meeting_outcomes.check_in(session, current_user,
                                                                   meeting, ids))
        except DomainError as exc:
            flash(exc.message, "danger")
            return _back(meeting_id)
        flash(f"已保存签到：{n} 人（家）到场。", "success")
        return redirect(url_for(".checkin", meeting_id=meeting_id))
    return render_template("meetings/checkin.html", **_detail_context(session, meeting))


def _record(session, meeting, slot_id: int | None, data) -> str:
    """Record a pair's outcome or follow-up from the form; return the success message."""
    if slot_id is None:
        raise DomainError("洽谈记录不正确。", field="slot_id")
    if data.get("what") == "outcome":
        meeting_outcomes.record_outcome(session, current_user, meeting, slot_id,
                                        data.get("outcome"))
        return "已保存洽谈结果。"
    agreement = {"1": True, "0": False}.get(data.get("agreement") or "")
    on = None
    if data.get("followup_on"):
        try:
            on = date.fromisoformat(data["followup_on"])
        except ValueError:
            raise DomainError("跟踪日期格式应为 YYYY-MM-DD。", field="followup_on") from None
    match = meeting_outcomes.record_followup(session, current_user, meeting, slot_id,
                                             agreement=agreement,
                                             amount=data.get("followup_amount"), on=on,
                                             note=data.get("followup", ""))
    return "已保存跟踪记录" + ("，并更新对接状态。" if match is not None else "。")


@bp.route("/<int:meeting_id>/outcomes", methods=["GET", "POST"])
@organisers
def outcomes(meeting_id: int):
    """Each 1:1 pair's immediate outcome, and the follow-up about six months later."""
    session = get_session()
    meeting = organiser_checks.get_meeting(session, current_user, meeting_id)
    errors: dict[int, str] = {}
    if request.method == "POST":
        slot_id = _int(request.form.get("slot_id"))
        try:
            msg = _attempt(session, lambda: _record(session, meeting, slot_id, request.form))
        except DomainError as exc:
            errors[slot_id or 0] = exc.message  # the savepoint is undone; the 422 rolls back
        else:
            flash(msg, "success")
            return redirect(url_for(".outcomes", meeting_id=meeting_id) + f"#slot-{slot_id}")
    ctx = _detail_context(session, meeting)
    matches = {s.id: meeting_outcomes.match_of(session, s)
               for ms in meeting.sessions for s in ms.slots}
    return render_template("meetings/outcomes.html", errors=errors, matches=matches,
                           form=request.form, **ctx), 422 if errors else 200
