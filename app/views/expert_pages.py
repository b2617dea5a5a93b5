"""专家库: the expert list (search, filters, export), profile, edit form and the import page.

Everyone signed in may search experts; phone and e-mail are shown in full only to the city and
the campus liaison of the expert's institution. A district liaison or admin whose district's
demand has an accepted match with the expert may reveal the full contact on purpose; that read
is written to the audit log. Profiles are edited by the campus liaison of the institution (and
the city); a save re-segments the expert and moves the experts' data version so every worker
rebuilds its matching index.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import BackgroundJob, Demand, Expert, Institution, Match, TechField

from ..auth.decorators import login_required, roles_required
from ..db import get_session
from ..errors import Forbidden, NotFound
from ..forms.expert_profile import ExpertForm, blank_item
from ..policy import access
from ..policy.privacy import (
    EXPERT_CONTACT_COLUMN_ROLES,
    can_read_expert_contact,
    mask_email,
    mask_phone,
)
from ..policy.roles import DISTRICT_ROLES, Role
from ..policy.statuses import ENGAGED_MATCH_STATUSES, MATCH_STATUS_LABELS
from ..services import expert_export, expert_writer
from ..services.audit import audit
from ..services.expert_writer import ITEM_KIND_LABELS
from ..services.indexing import EXPERTS
from ..services.job_rows import reap_stale
from ..services.listing import apply_sort, paginate, search, where_ids
from ..services.listing import to_int as _int
from ..services.match_writer import can_view_match
from .downloads import xlsx_response
from .uploads import handle_upload

bp = Blueprint("experts", __name__, url_prefix="/experts")

EDITORS = (Role.CAMPUS_LIAISON, Role.CITY_ADMIN)
#: Match statuses after which the district that sent the demand may reveal the expert's contact.


def _options(session: Session) -> dict[str, Any]:
    return {
        "institutions": [
            (i.id, i.name) for i in session.scalars(select(Institution).order_by(Institution.name))
        ],
        "fields": [
            (f.id, f.name) for f in session.scalars(select(TechField).order_by(TechField.code))
        ],
        "item_kinds": list(ITEM_KIND_LABELS.items()),
    }


def may_edit(user: Any, expert: Expert | None = None) -> bool:
    """Return whether a user may edit an expert (or create one when `expert` is None)."""
    if expert is None:
        return user.role == Role.CITY_ADMIN or access.can_edit_expert(user, user.institution_id)
    return access.can_edit_expert(user, expert.institution_id)


def may_reveal(session: Session, user: Any, expert: Expert) -> bool:
    """Return whether a district role may reveal the contact (their demand's match accepted)."""
    if getattr(user, "role", None) not in DISTRICT_ROLES or user.district_id is None:
        return False
    return (
        session.scalar(
            select(Match.id)
            .join(Demand, Demand.id == Match.demand_id)
            .where(
                Match.expert_id == expert.id,
                Demand.district_id == user.district_id,
                Match.status.in_(ENGAGED_MATCH_STATUSES),
            )
            .limit(1)
        )
        is not None
    )


# --- list ------------------------------------------------------------------------------------
def _match_count():
    return (
        select(func.count(Match.id))
        .where(Match.expert_id == Expert.id)
        .correlate(Expert)
        .scalar_subquery()
    )


SORTS = {
    "name": Expert.name,
    "institution": Institution.name,
    "title": Expert.title,
    "updated_at": Expert.updated_at,
}


def _filtered(args: Any):
    stmt = select(Expert).join(Institution, Institution.id == Expert.institution_id)
    stmt = search(stmt, args.get("q"), Expert.name, Expert.research_fields, Expert.team)
    stmt = where_ids(stmt, args, institution=Expert.institution_id, field=Expert.tech_field_id)
    academician = args.get("academician")
    if academician in ("1", "0"):
        stmt = stmt.where(Expert.is_academician.is_(academician == "1"))
    return stmt


@bp.get("")
@login_required
def index():
    """List experts with search, filters, sorting, pagination and export."""
    session = get_session()
    stmt = _filtered(request.args)
    sorts = {**SORTS, "matches": _match_count()}
    stmt, sort = apply_sort(stmt, request.args.get("sort"), sorts, "name")
    stmt = stmt.order_by(Expert.id)
    if request.args.get("export") == "xlsx":
        return _export(session, stmt)
    stmt = stmt.options(selectinload(Expert.institution), selectinload(Expert.tech_field),
                        *Expert.list_options())
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20),
                    EXPERTS)
    counts = dict(
        session.execute(
            select(Match.expert_id, func.count())
            .where(Match.expert_id.in_([e.id for e in page.items]))
            .group_by(Match.expert_id)
        ).all()
    )
    return render_template(
        "experts/index.html",
        page=page,
        sort=sort,
        counts=counts,
        can_new=may_edit(current_user),
        args=request.args,
        can_import=current_user.role in EDITORS,
        show_contact=current_user.role in EXPERT_CONTACT_COLUMN_ROLES,
        **_options(session),
    )


def _export(session: Session, stmt):
    """Export the selected experts: in the request, or as a job when there are many."""
    filters = request.args.to_dict()
    ids = list(session.scalars(stmt.with_only_columns(Expert.id)))
    if len(ids) > expert_export.INLINE_ROWS and current_app.config.get("BACKGROUND_JOBS", True):
        from ..job_queue import enqueue

        job = enqueue("export_experts", kind=expert_export.job_kind(current_user),
                      total=len(ids), message=f"正在导出 {len(ids)} 位专家",
                      user_id=current_user.id, expert_ids=ids, filters=filters)
        return render_template("experts/export.html", job=job), 202
    data, _n = expert_export.workbook(session, current_user,
                                      expert_export.experts_by_ids(session, ids), filters)
    return xlsx_response(data, expert_export.FILENAME)


def _own_export(session: Session, job_id: int) -> BackgroundJob:
    job = session.get(BackgroundJob, job_id)
    if not expert_export.owns(job, current_user):
        raise NotFound("导出任务不存在。")
    return job


@bp.get("/exports/<int:job_id>")
@login_required
def export_status(job_id: int):
    """Return the progress fragment of a background export (polled by htmx every second)."""
    session = get_session()
    job = _own_export(session, job_id)
    if reap_stale(session, job_id=job.id):  # its consumer died: say so instead of "running"
        session.refresh(job)
    return render_template("experts/_export_job.html", job=job)


@bp.get("/exports/<int:job_id>/download")
@login_required
def export_download(job_id: int):
    """Download the workbook a background export wrote (its owner only)."""
    session = get_session()
    job = _own_export(session, job_id)
    if job.status != "done" or job.output is None:
        raise NotFound("导出文件尚未生成。")
    return xlsx_response(job.output, expert_export.FILENAME)


# --- detail ----------------------------------------------------------------------------------
def _get(session: Session, expert_id: int) -> Expert:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise NotFound("专家不存在。")
    return expert


def _detail(session: Session, expert: Expert, *, revealed: bool = False):
    full = can_read_expert_contact(current_user, expert.institution_id) or revealed
    matches = list(
        session.scalars(
            select(Match)
            .where(Match.expert_id == expert.id)
            .options(
                selectinload(Match.demand).selectinload(Demand.enterprise),
                selectinload(Match.demand).selectinload(Demand.district),
            )
            .order_by(Match.created_at.desc())
        )
    )
    visible = [mt for mt in matches if can_view_match(session, current_user, mt)]
    by_status: dict[str, int] = {}
    for mt in matches:
        by_status[mt.status] = by_status.get(mt.status, 0) + 1
    return render_template(
        "experts/detail.html",
        expert=expert,
        full=full,
        revealed=revealed,
        phone=(expert.phone or "") if full else mask_phone(expert.phone),
        email=(expert.email or "") if full else mask_email(expert.email),
        can_reveal=not full
        and may_reveal(session, current_user, expert)
        and bool(expert.phone or expert.email),
        can_edit=may_edit(current_user, expert),
        matches=visible,
        hidden=len(matches) - len(visible),
        by_status=by_status,
        status_labels=MATCH_STATUS_LABELS,
        kind_labels=ITEM_KIND_LABELS,
    )


@bp.get("/<int:expert_id>")
@login_required
def detail(expert_id: int):
    """Show an expert's profile, items and the matches the viewer may see."""
    session = get_session()
    return _detail(session, _get(session, expert_id))


@bp.post("/<int:expert_id>/reveal")
@login_required
def reveal(expert_id: int):
    """Show the full phone and e-mail to a district whose demand has an accepted match; audited."""
    session = get_session()
    expert = _get(session, expert_id)
    if can_read_expert_contact(current_user, expert.institution_id):
        return redirect(url_for("experts.detail", expert_id=expert.id))
    if not may_reveal(session, current_user, expert):
        raise Forbidden("只有需求已被该专家接受对接的区，才能查看专家的完整联系方式。")
    audit(
        session,
        "view_contact",
        "expert",
        expert.id,
        {
            "role": current_user.role,
            "district_id": current_user.district_id,
            "institution_id": expert.institution_id,
        },
    )
    return _detail(session, expert, revealed=True)


# --- edit ------------------------------------------------------------------------------------
def _profile_form(expert: Expert | None) -> ExpertForm:
    """Return the form of a profile as stored (a new one: the user's institution, one blank row)."""
    if expert is None:
        return ExpertForm(data={"institution_id": current_user.institution_id or "",
                                "items": [blank_item()]})
    return ExpertForm(data={
        "name": expert.name, "institution_id": expert.institution_id,
        "title": expert.title or "", "research_fields": expert.research_fields or "",
        "summary": expert.summary or "", "is_academician": bool(expert.is_academician),
        "team": expert.team or "", "tech_field_id": expert.tech_field_id or "",
        "phone": expert.phone or "", "email": expert.email or "",
        "items": [{"kind": i.kind, "title": i.title, "year": str(i.year or ""),
                   "text": i.text or ""} for i in expert.items] or [blank_item()],
    })


def _render_form(expert: Expert | None, form: ExpertForm, errors: dict[str, str] | None = None,
                 status: int = 200, *, focus_last: bool = False):
    return render_template("experts/form.html", expert=expert, form=form, errors=errors or {},
                           focus_last=focus_last, **_options(get_session())), status


def _form_page(expert: Expert | None):
    """Show the form, add or remove an item row (no save), or save the profile."""
    if request.method == "GET":
        return _render_form(expert, _profile_form(expert))
    form = ExpertForm(request.form)
    op = request.form.get("op", "save")
    if op == "add_item":
        form.items.data.append(blank_item())
        return _render_form(expert, form, focus_last=True)
    if op.startswith("remove_item-"):
        index = _int(op.rsplit("-", 1)[1])
        if index is not None and 0 <= index < len(form.items.data):
            del form.items.data[index]
        return _render_form(expert, form)
    session = get_session()
    form.validate()
    institution_id = (current_user.institution_id if current_user.role == Role.CAMPUS_LIAISON
                      else _int(form.institution_id.data))
    change = expert_writer.validate(session, form.writer_input(), institution_id=institution_id,
                                    expert=expert)
    errors = change.errors | form.errors_by_field()  # both ask the writer's checks: one message
    if errors:
        return _render_form(expert, form, errors, 422)
    saved, _changed = expert_writer.save(session, change, expert)
    flash(f"已保存专家 {saved.name} 的资料，匹配索引将自动更新。", "success")
    return redirect(url_for("experts.detail", expert_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    """Add an expert of the campus liaison's institution (the city: any institution)."""
    if not may_edit(current_user):
        raise Forbidden("您的账号未关联所驻高校院所，不能新增专家。")
    return _form_page(None)


@bp.route("/<int:expert_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(expert_id: int):
    """Edit an expert's profile and items (campus liaison of the institution, or the city)."""
    session = get_session()
    expert = _get(session, expert_id)
    if not may_edit(current_user, expert):
        raise Forbidden("只能编辑本单位专家的资料。")
    return _form_page(expert)


# --- import ----------------------------------------------------------------------------------
@bp.route("/import", methods=["GET", "POST"])
@roles_required(*EDITORS)
def import_page():
    """Import experts (and their items) from .xlsx/.csv; campus liaisons: own institution only."""
    return handle_upload("experts")
