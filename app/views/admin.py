"""系统管理 (city admin): users, API clients, dictionaries, operation log and login log."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from models import (
    ApiClient,
    AuditEvent,
    District,
    DomainTerm,
    Industry,
    Institution,
    Liaison,
    LoginEvent,
    TechField,
    User,
)

from .. import clock
from ..auth.decorators import roles_required
from ..auth.login_sessions import keep_current_session
from ..auth.passwords import PASSWORD_HINT
from ..db import get_session
from ..errors import DomainError, NotFound
from ..policy.access import TOKEN_SCOPES
from ..policy.roles import ROLE_LABELS, Role
from ..services import audit as audit_log_service
from ..services import user_accounts
from ..services.audit import record
from ..services.indexing import apply_domain_term, bump_version
from ..services.listing import apply_sort, field_errors, paginate, rows_to_xlsx, search
from ..services.listing import to_int as _int
from .downloads import xlsx_response

bp = Blueprint("admin", __name__, url_prefix="/admin")
city_only = roles_required(Role.CITY_ADMIN)

def _options(session: Session, keep_liaison: int | None = None) -> dict:
    serving = Liaison.end_date.is_(None)
    if keep_liaison:
        serving = or_(serving, Liaison.id == keep_liaison)
    liaisons = session.scalars(select(Liaison).where(serving)
                               .order_by(Liaison.kind, Liaison.name, Liaison.id))
    return {
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "password_hint": PASSWORD_HINT,
        "districts": [(d.id, d.name)
                      for d in session.scalars(select(District).order_by(District.seq))],
        "institutions": [(i.id, i.name) for i in session.scalars(
            select(Institution).order_by(Institution.name))],
        "liaisons": [(li.id, _liaison_label(li)) for li in liaisons],
    }


def _liaison_label(liaison: Liaison) -> str:
    scope = liaison.district or liaison.institution
    kind = "区派" if liaison.kind == "district" else "驻高校院所"
    ended = "，已离任" if liaison.end_date else ""
    return f"{liaison.name}（{kind}{'·' + scope.name if scope else ''}{ended}）"


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    return user


# --- users ------------------------------------------------------------------------------
USER_SORTS = {"username": User.username, "display_name": User.display_name, "role": User.role,
              "created_at": User.created_at}


@bp.get("/users")
@city_only
def users():
    """List users with search, role filter, sorting, pagination and export."""
    session = get_session()
    q = (request.args.get("q") or "").strip()
    role = request.args.get("role") or ""
    stmt = search(select(User), q, User.username, User.display_name)
    if role in set(Role):
        stmt = stmt.where(User.role == role)
    stmt, sort = apply_sort(stmt, request.args.get("sort"), USER_SORTS, "username")
    if request.args.get("export") == "xlsx":
        rows = [(u.username, u.display_name, ROLE_LABELS.get(u.role, u.role),
                 u.district.name if u.district else "",
                 u.institution.name if u.institution else "", u.active, u.created_at)
                for u in session.scalars(stmt)]
        headers = ["用户名", "姓名", "角色", "所属区", "所驻高校院所", "启用", "创建时间"]
        data = rows_to_xlsx(headers, rows, "用户")
        return xlsx_response(data, "用户列表.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    return render_template("admin/users.html", page=page, sort=sort, q=q, role=role,
                           **_options(session))


@bp.route("/users/new", methods=["GET", "POST"])
@city_only
def new_user():
    """Create a user; errors are shown next to their fields and the input is kept."""
    session = get_session()
    form = request.form.to_dict() if request.method == "POST" else {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            if form.get("password") != form.get("password2"):
                raise DomainError("两次输入的密码不一致。", field="password2")
            user = user_accounts.create_user(
                session, form.get("username", ""), form.get("password", ""),
                form.get("display_name", ""), form.get("role", ""),
                district_id=_int(form.get("district_id")),
                institution_id=_int(form.get("institution_id")),
                liaison_id=_int(form.get("liaison_id")), actor=current_user,
            )
        except DomainError as exc:
            errors = field_errors(exc)  # the 422 response rolls the request back
        else:
            flash(f"已创建用户 {user.username}。", "success")
            return redirect(url_for("admin.users"))
    form.pop("password", None)
    form.pop("password2", None)
    status = 422 if errors else 200
    return render_template("admin/user_form.html", form=form, errors=errors,
                           **_options(session)), status


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@city_only
def edit_user(user_id: int):
    """Edit a user's name, role, scope and linked liaison; errors keep the input."""
    session = get_session()
    user = _get_user(session, user_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            changes = user_accounts.update_user(
                session, user, form.get("display_name", ""), form.get("role", ""),
                district_id=_int(form.get("district_id")),
                institution_id=_int(form.get("institution_id")),
                liaison_id=_int(form.get("liaison_id")),
                actor=current_user._get_current_object(),
            )
        except DomainError as exc:
            errors = field_errors(exc)
        else:
            if changes:
                flash(f"已保存用户 {user.username} 的修改。", "success")
            else:
                flash(f"用户 {user.username} 没有需要保存的修改。", "info")
            return redirect(url_for("admin.users"))
    else:
        form = {"display_name": user.display_name, "role": user.role,
                "district_id": user.district_id or "",
                "institution_id": user.institution_id or "",
                "liaison_id": user.liaison_id or ""}
    status = 422 if errors else 200
    return render_template("admin/user_form.html", form=form, errors=errors, user=user,
                           **_options(session, keep_liaison=user.liaison_id)), status


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@city_only
def reset_password(user_id: int):
    """Set a user's new password (typed twice) or generate one shown once; their sessions end."""
    session = get_session()
    user = _get_user(session, user_id)
    errors: dict[str, str] = {}
    generated = None
    if request.method == "POST":
        mode = "generate" if request.form.get("mode") == "generate" else "set"
        password = (user_accounts.generate_password() if mode == "generate"
                    else request.form.get("password", ""))
        try:
            user_accounts.reset_password(
                session, user, password,
                None if mode == "generate" else request.form.get("password2"),
                actor=current_user, generated=mode == "generate")
        except DomainError as exc:
            errors = field_errors(exc)
        else:
            if user.id == current_user.id:
                keep_current_session(user)
            if mode == "set":
                flash(f"已重置用户 {user.username} 的密码。", "success")
                return redirect(url_for("admin.users"))
            generated = password  # rendered on this response only, never flashed or logged
    status = 422 if errors else 200
    response = render_template("admin/password_form.html", user=user, errors=errors,
                               generated=generated, password_hint=PASSWORD_HINT)
    headers = {"Cache-Control": "no-store"} if generated else {}
    return response, status, headers


@bp.post("/users/<int:user_id>/toggle")
@city_only
def toggle_user(user_id: int):
    """Enable or disable a user (never oneself)."""
    session = get_session()
    user = _get_user(session, user_id)
    user_accounts.set_active(session, user, not user.active, actor=current_user)
    flash(f"已{'启用' if user.active else '停用'}用户 {user.username}。", "success")
    return redirect(request.referrer or url_for("admin.users"))



# --- API clients ------------------------------------------------------------------------
@bp.route("/api-clients", methods=["GET", "POST"])
@city_only
def api_clients():
    """List API clients; create one (its token is shown on this response only)."""
    session = get_session()
    token = None
    errors: dict[str, str] = {}
    name = ""
    status = 200
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        try:
            client, token = user_accounts.create_api_client(
                session, name, current_user, scopes=request.form.getlist("scopes"),
                institution_ids=[i for i in (_int(v) for v in
                                             request.form.getlist("institution_ids")) if i])
        except DomainError as exc:
            errors = field_errors(exc)
            status = 422
        else:
            name = ""
    clients = list(session.scalars(select(ApiClient).order_by(ApiClient.created_at.desc())))
    institutions = list(session.scalars(select(Institution).order_by(Institution.name)))
    return render_template("admin/api_clients.html", clients=clients, token=token,
                           errors=errors, name=name, scopes=TOKEN_SCOPES,
                           institutions=institutions,
                           names={i.id: i.name for i in institutions}), status


@bp.post("/api-clients/<int:client_id>/deactivate")
@city_only
def deactivate_api_client(client_id: int):
    """Deactivate an API client; its token stops working at once."""
    session = get_session()
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound("API 客户端不存在。")
    user_accounts.deactivate_api_client(session, client, actor=current_user)
    flash(f"已停用 API 客户端「{client.name}」。", "success")
    return redirect(url_for("admin.api_clients"))


# --- dictionaries -----------------------------------------------------------------------
TABS = {"industries": "行业分类", "tech_fields": "技术领域", "terms": "领域词（分词词典）"}


@bp.route("/dictionaries", methods=["GET", "POST"])
@city_only
def dictionaries():
    """List and add industries, technical fields and tokenizer domain terms."""
    session = get_session()
    tab = request.values.get("tab") or "industries"
    if tab not in TABS:
        tab = "industries"
    errors: dict[str, str] = {}
    form = request.form.to_dict() if request.method == "POST" else {}
    status = 200
    if request.method == "POST":
        try:
            label = _add_entry(session, tab, form)
        except DomainError as exc:
            errors = field_errors(exc)
            status = 422
        else:
            flash(f"已添加：{label}", "success")
            return redirect(url_for("admin.dictionaries", tab=tab))
    q = (request.args.get("q") or "").strip()
    if tab == "industries":
        stmt = search(select(Industry).order_by(Industry.code), q, Industry.name, Industry.code)
    elif tab == "tech_fields":
        stmt = search(select(TechField).order_by(TechField.code), q, TechField.name)
    else:
        stmt = search(select(DomainTerm).order_by(DomainTerm.created_at.desc(),
                                                  DomainTerm.id.desc()), q, DomainTerm.term)
    page = paginate(session, stmt, request.args.get("page"), 30)
    return render_template("admin/dictionaries.html", tab=tab, tabs=TABS, page=page, q=q,
                           errors=errors, form=form), status


def _add_entry(session: Session, tab: str, form: dict) -> str:
    code = (form.get("code") or "").strip()
    name = (form.get("name") or "").strip()
    if tab == "terms":
        term = (form.get("term") or "").strip()
        if not term or len(term) > 40 or any(ch.isspace() for ch in term):
            raise DomainError("领域词须为 1-40 个字且不含空格。", field="term")
        if session.scalar(select(DomainTerm.id).where(DomainTerm.term == term)):
            raise DomainError("该领域词已存在。", field="term")
        row = DomainTerm(term=term)
        session.add(row)
        session.flush()
        bump_version(session, "domain_terms")
        experts, demands = apply_domain_term(session, term)
        record(session, current_user, "dictionary.create", "domain_term", row.id,
               after={"领域词": term, "重新分词专家": experts, "重新分词需求": demands})
        return term
    model = Industry if tab == "industries" else TechField
    errs = []
    if not code or len(code) > 10:
        errs.append({"field": "code", "message": "请填写代码（不超过 10 个字符）。"})
    elif session.scalar(select(model.id).where(model.code == code)):
        errs.append({"field": "code", "message": "该代码已存在。"})
    limit = 80 if model is Industry else 40
    if not name or len(name) > limit:
        errs.append({"field": "name", "message": f"请填写名称（不超过 {limit} 个字）。"})
    elif model is TechField and session.scalar(select(TechField.id).where(TechField.name == name)):
        errs.append({"field": "name", "message": "该技术领域已存在。"})
    if errs:
        raise DomainError(errs[0]["message"], field=errs[0]["field"], errors=errs)
    row = model(code=code, name=name, is_custom=True)
    if model is Industry:
        row.section_name = (form.get("section_name") or "").strip()[:60] or None
    session.add(row)
    session.flush()
    record(session, current_user, "dictionary.create",
           "industry" if model is Industry else "tech_field", row.id,
           after={"代码": code, "名称": name})
    return f"{code} {name}"


# --- logs -------------------------------------------------------------------------------
def _date_range(stmt, column):
    start = _parse_day(request.args.get("start"))
    end = _parse_day(request.args.get("end"))
    if start:
        stmt = stmt.where(column >= start)
    if end:
        stmt = stmt.where(column < end + timedelta(days=1))
    return stmt


def _parse_day(value: str | None) -> datetime | None:
    try:
        return clock.day_start(clock.parse_day(value or ""))
    except ValueError:
        return None


@bp.get("/audit-log")
@city_only
def audit_log():
    """List the operation log: who, when, which object (linked), from, to, why; filters by
    operator, action, object and date range; pages and 导出, all in Chinese."""
    session = get_session()
    q = (request.args.get("q") or "").strip()
    action = (request.args.get("action") or "").strip()
    entity = (request.args.get("entity") or "").strip()
    stmt = search(select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                  q, AuditEvent.actor, AuditEvent.ip)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    stmt = _date_range(stmt, AuditEvent.at)
    if request.args.get("export") == "xlsx":
        rows = []
        for e in session.scalars(stmt):
            text = audit_log_service.describe(e.detail)
            rows.append((clock.fmt(e.at, "%Y-%m-%d %H:%M:%S"), e.actor,
                         audit_log_service.action_label(e.action),
                         audit_log_service.entity_label(e.entity), e.entity_id, text["before"],
                         text["after"], text["reason"], text["other"], e.ip))
        headers = ["时间", "操作人", "操作", "对象", "对象编号", "变更前", "变更后", "原因", "其他",
                   "IP"]
        return xlsx_response(rows_to_xlsx(headers, rows, "操作日志"), "操作日志.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    actions = [(a, audit_log_service.action_label(a)) for a in session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action))]
    entities = [(e, audit_log_service.entity_label(e)) for e in session.scalars(
        select(AuditEvent.entity).distinct().order_by(AuditEvent.entity))]
    rows = [{"e": e, "text": audit_log_service.describe(e.detail), "url": _object_url(e),
             "action": audit_log_service.action_label(e.action),
             "entity": audit_log_service.entity_label(e.entity)} for e in page.items]
    return render_template("admin/audit_log.html", page=page, rows=rows, q=q, action=action,
                           entity=entity, actions=actions, entities=entities)


def _object_url(event: AuditEvent) -> str | None:
    """Return the page of the logged object, when it has one."""
    target = audit_log_service.ENTITY_PAGES.get(event.entity)
    if target is None or event.entity_id is None:
        return None
    endpoint, arg = target
    try:
        return url_for(endpoint, **{arg: event.entity_id})
    except BuildError:
        return None


@bp.get("/login-log")
@city_only
def login_log():
    """List the login log with search, result filter, date range, pagination and export."""
    session = get_session()
    q = (request.args.get("q") or "").strip()
    result = request.args.get("result") or ""
    stmt = search(select(LoginEvent).order_by(LoginEvent.at.desc(), LoginEvent.id.desc()),
                  q, LoginEvent.username, LoginEvent.ip)
    if result in ("1", "0"):
        stmt = stmt.where(LoginEvent.success.is_(result == "1"))
    stmt = _date_range(stmt, LoginEvent.at)
    if request.args.get("export") == "xlsx":
        rows = [(clock.fmt(e.at, "%Y-%m-%d %H:%M:%S"), e.username, e.success, e.ip, e.message,
                 e.user_agent)
                for e in session.scalars(stmt)]
        return xlsx_response(rows_to_xlsx(["时间", "用户名", "成功", "IP", "说明", "浏览器"],
                                          rows, "登录日志"), "登录日志.xlsx")
    page = paginate(session, stmt, request.args.get("page"), request.args.get("per_page", 20))
    return render_template("admin/login_log.html", page=page, q=q, result=result)
