"""API routes of experts: list and show (contacts masked), and the push (upsert) of experts."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from models import Expert, TechField

from ...auth.decorators import api_token_required
from ...db import get_session
from ...errors import Forbidden, NotFound
from ...policy import access
from ...policy.roles import Role
from ...services import expert_writer
from ...services import serializers as ser
from ...services.audit import audit
from ...services.indexing import EXPERTS, bump_version
from ...services.listing import search
from . import ValidationProblem, _check_field, _paged, _user, bp, require_scope
from .schemas import ExpertListArgs, ExpertOut, ExpertPage, ExpertsPutIn, PushOut


# --- experts ------------------------------------------------------------------------------------
@bp.route("/experts")
@api_token_required
@bp.arguments(ExpertListArgs, location="query")
@bp.response(200, ExpertPage)
def list_experts(args: dict):
    """List experts (phone and e-mail masked)."""
    require_scope("read")
    session = get_session()
    query = search(select(Expert).options(*Expert.list_options()), args.get("q"),
                   Expert.name, Expert.research_fields)
    if args.get("institution") is not None:
        query = query.where(Expert.institution_id == args["institution"])
    if args.get("field") is not None:
        _check_field(session, args["field"])
        query = query.where(Expert.tech_field_id == args["field"])
    if args.get("academician") is not None:
        query = query.where(Expert.is_academician.is_(args["academician"]))
    user = _user()
    return _paged(query.order_by(Expert.id), args, session, lambda e: ser.expert_dict(e, user),
                  EXPERTS)


@bp.route("/experts/<int:expert_id>")
@api_token_required
@bp.response(200, ExpertOut)
def show_expert(expert_id: int):
    """Show one expert with items (phone and e-mail masked)."""
    require_scope("read")
    expert = get_session().get(Expert, expert_id)
    if expert is None:
        raise NotFound("专家不存在。")
    return ser.expert_dict(expert, _user(), detail=True)


@bp.route("/experts", methods=["PUT"])
@api_token_required
@bp.arguments(ExpertsPutIn)
@bp.response(200, PushOut)
def push_experts(data: dict):
    """Upsert experts with their items by (institution, name); fields not sent are kept."""
    session = get_session()
    user = _user()
    if user is not None and user.role not in (Role.CITY_ADMIN, Role.CAMPUS_LIAISON):
        raise Forbidden("只有市科技局或驻高校院所联络员可以推送专家。")
    require_scope("push_experts")
    fields_by_name = {t.name: t.id for t in session.scalars(select(TechField))}
    changes = []
    for n, row in enumerate(data["experts"]):
        inst = expert_writer.find_institution(session, row["institution"])
        allowed = (access.token_may_push_for(g.api_client, inst.id if inst else None)
                   if user is None else inst is None and user.role == Role.CITY_ADMIN
                   or inst is not None and access.can_edit_expert(user, inst.id))
        if not allowed:
            raise Forbidden(f"第 {n + 1} 条：无权推送「{row['institution'].strip()}」的专家。")
        if inst is None:
            inst = expert_writer.find_institution(session, row["institution"], create=True)
        values = {k: row[k] for k in expert_writer.EXPERT_FIELDS if k in row}
        if row.get("tech_field"):
            if row["tech_field"] not in fields_by_name:
                raise ValidationProblem(
                    f"参数「experts.{n}.tech_field」有误：技术领域「{row['tech_field']}」不存在。",
                    field=f"experts.{n}.tech_field")
            values["tech_field_id"] = fields_by_name[row["tech_field"]]
        if "items" in row:
            values["items"] = row["items"]
        expert = session.scalar(select(Expert).where(Expert.institution_id == inst.id,
                                                     Expert.name == row["name"].strip()))
        change = expert_writer.validate(session, {"name": row["name"], **values},
                                        institution_id=inst.id, expert=expert, partial=True)
        if change.errors:
            key, message = next(iter(change.errors.items()))
            raise ValidationProblem(f"第 {n + 1} 条：{message}", field=f"experts.{n}.{key}")
        changes.append((change, expert))
    created = updated = 0
    ids = []
    for change, expert in changes:
        saved, changed = expert_writer.save(session, change, expert, bump=False)
        created += expert is None
        updated += expert is not None and changed
        session.flush()
        ids.append(saved.id)
    bump_version(session, EXPERTS)
    audit(session, "api_push_experts", "expert", None,
          {"created": created, "updated": updated, "count": len(ids)}, user=user or g.api_client)
    return {"created": created, "updated": updated, "ids": ids}
