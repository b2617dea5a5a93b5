"""Users and API clients: creation with validation, sign-in, passwords, sessions, demo accounts.

The one writer of ``User`` and ``ApiClient``: the admin pages, the 个人中心 and the CLI call it,
and it writes their operation-log rows (操作日志), so a change made from the CLI is logged as one
made on a page (the actor is then 系统). Every password goes through
:func:`app.auth.passwords.password_problem`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from models import ApiClient, District, Institution, Liaison, LoginEvent, User

from ..auth.passwords import check_password, hash_password, password_problem
from ..auth.tokens import hash_token, new_token
from ..errors import DomainError
from ..policy.access import TOKEN_SCOPES
from ..policy.roles import DISTRICT_ROLES, ROLE_LABELS, Role
from .audit import record

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
DEMO_PASSWORD = "Demo@2022"
# username, display name, role, district, institution, liaison kind
DEMO_USERS = (
    ("city", "市科技局管理员", Role.CITY_ADMIN, None, None),
    ("dhadmin", "东湖高新区管理员", Role.DISTRICT_ADMIN, "东湖高新区", None),
    ("dhliaison", "陈思远", Role.DISTRICT_LIAISON, "东湖高新区", None),
    ("hsadmin", "洪山区管理员", Role.DISTRICT_ADMIN, "洪山区", None),
    ("hsliaison", "刘晓雯", Role.DISTRICT_LIAISON, "洪山区", None),
    ("whuliaison", "王立成", Role.CAMPUS_LIAISON, None, "武汉大学"),
    ("hustliaison", "赵雅琴", Role.CAMPUS_LIAISON, None, "华中科技大学"),
)
# A fixed dummy hash so that unknown usernames cost as much time as wrong passwords.
_DUMMY_HASH = hash_password("not-a-real-password")


def validate_password(password: str, username: str | None = None) -> str | None:
    """Return the Chinese reason why a password is refused, else None (the one policy)."""
    return password_problem(password, username)


def demo_refusal(env: str, demo_flag: bool) -> str | None:
    """Return why the demo accounts (published password) may not be created here, else None."""
    if env == "production":
        return "APP_ENV=production：演示数据和演示账号（公开密码）不能加载到生产环境。"
    if not demo_flag:
        return "演示数据只在演示模式下加载：请加 --demo 或设置 DEMO_MODE=1。"
    return None


def _check_profile(session: Session, display_name: str, role: str, district_id: int | None,
                   institution_id: int | None, liaison_id: int | None,
                   errors: list[dict[str, str]]) -> tuple[int | None, int | None]:
    """Check name, role and scope; append errors; return the scope that the role keeps."""

    def err(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    def chosen(model: type, field: str, row_id: int | None, label: str,
               missing: str | None = None) -> None:
        """Check that the chosen row exists; `missing` is the error when none is chosen."""
        if not row_id:
            if missing:
                err(field, missing)
        elif session.get(model, int(row_id)) is None:
            err(field, f"所选{label}不存在。")

    if not display_name:
        err("display_name", "请填写姓名。")
    elif len(display_name) > 40:
        err("display_name", "姓名不超过 40 个字。")
    if role not in set(Role):
        err("role", "请选择有效的角色。")
    if role in DISTRICT_ROLES:
        chosen(District, "district_id", district_id, "区", "区派联络员和区局管理员必须选择所属区。")
        institution_id = None
    elif role == Role.CAMPUS_LIAISON:
        chosen(Institution, "institution_id", institution_id, "高校院所",
               "驻高校院所联络员必须选择所驻高校院所。")
        district_id = None
    elif role == Role.CITY_ADMIN:
        district_id = institution_id = None
    chosen(Liaison, "liaison_id", liaison_id, "联络员")
    return (int(district_id) if district_id else None,
            int(institution_id) if institution_id else None)


def _raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise DomainError(errors[0]["message"] if len(errors) == 1 else "请检查标红的字段。",
                          field=errors[0]["field"], errors=errors)


def create_user(session: Session, username: str, password: str, display_name: str, role: str,
                district_id: int | None = None, institution_id: int | None = None,
                liaison_id: int | None = None, *, actor: Any = None, log: bool = True) -> User:
    """Create a user after checking every field; raise DomainError with per-field errors.

    Logged as 新增用户 by `actor` (None: 系统) unless `log` is false (the demo's accounts).
    """
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    errors: list[dict[str, str]] = []
    if not USERNAME.match(username):
        errors.append({"field": "username",
                       "message": "用户名须为 3-40 位字母、数字、下划线、点或连字符。"})
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors.append({"field": "username", "message": "该用户名已被使用。"})
    message = validate_password(password, username)
    if message:
        errors.append({"field": "password", "message": message})
    district_id, institution_id = _check_profile(session, display_name, role, district_id,
                                                 institution_id, liaison_id, errors)
    _raise_if(errors)
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name,
        role=role,
        district_id=district_id,
        institution_id=institution_id,
        liaison_id=int(liaison_id) if liaison_id else None,
        active=True,
    )
    session.add(user)
    session.flush()
    if log:
        record(session, actor, "user.create", "user", user.id,
               after={"用户名": user.username, "角色": ROLE_LABELS.get(user.role, user.role)})
    return user


def update_user(session: Session, user: User, display_name: str, role: str,
                district_id: int | None = None, institution_id: int | None = None,
                liaison_id: int | None = None, *, actor: User | None = None) -> dict[str, list]:
    """Change a user's name, role, scope and linked liaison with create_user's checks.

    Return the changes as {field: [old, new]} (empty when nothing changed). `actor`, the
    signed-in admin, may not take the city-admin role away from their own account.
    """
    display_name = (display_name or "").strip()
    errors: list[dict[str, str]] = []
    district_id, institution_id = _check_profile(session, display_name, role, district_id,
                                                 institution_id, liaison_id, errors)
    if (actor is not None and actor.id == user.id and user.role == Role.CITY_ADMIN
            and role != Role.CITY_ADMIN):
        errors.insert(0, {"field": "role",
                          "message": "不能降低当前登录账号的角色，请由其他市科技局管理员操作。"})
    _raise_if(errors)
    new = {"display_name": display_name, "role": role, "district_id": district_id,
           "institution_id": institution_id,
           "liaison_id": int(liaison_id) if liaison_id else None}
    changes: dict[str, list] = {}
    for field, value in new.items():
        old = getattr(user, field)
        if old != value:
            changes[field] = [old, value]
            setattr(user, field, value)
    session.flush()
    if changes:
        record(session, actor, "user.update", "user", user.id,
               after={"用户名": user.username, "修改": changes})
    return changes


def generate_password(length: int = 12) -> str:
    """Return a random password that passes validate_password (letters and digits)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(max(length, 8)))
        if validate_password(password) is None:
            return password


def authenticate(session: Session, username: str, password: str, *,
                 production: bool = False) -> User | None:
    """Return the active user with this username and password, else None.

    In production the published demo password never signs anyone in, whatever the database holds.
    """
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        check_password(_DUMMY_HASH, password or "")
        return None
    if not check_password(user.password_hash, password or "") or not user.active:
        return None
    if production and password == DEMO_PASSWORD:
        return None
    return user


def set_password(user: User, password: str, password2: str | None = None) -> None:
    """Set a new password under the policy (and its repetition) and end the user's sessions."""
    message = validate_password(password, user.username)
    if message:
        raise DomainError(message, field="password")
    if password2 is not None and password != password2:
        raise DomainError("两次输入的密码不一致。", field="password2")
    user.password_hash = hash_password(password)
    end_sessions(user)


def reset_password(session: Session, user: User, password: str, password2: str | None, *,
                   actor: Any, generated: bool) -> None:
    """An admin sets (`password2` given) or generates a user's password; their sessions end."""
    set_password(user, password, password2)
    record(session, actor, "user.reset_password", "user", user.id,
           after={"用户名": user.username, "方式": "随机生成" if generated else "管理员设定"})


def set_active(session: Session, user: User, active: bool, *, actor: Any) -> None:
    """Enable or disable a user (never the acting admin's own account); disabling signs out."""
    if actor is not None and getattr(actor, "id", None) == user.id and not active:
        raise DomainError("不能停用当前登录的账号。")
    if bool(user.active) == active:
        return
    user.active = active
    if not active:
        end_sessions(user)
    record(session, actor, "user.enable" if active else "user.disable", "user", user.id,
           before="停用" if active else "启用", after="启用" if active else "停用")


def sign_out(session: Session, user: User) -> None:
    """End every session of the user (the sign-out button) and log it."""
    end_sessions(user)
    record(session, user, "user.logout", "user", user.id)


def change_own_password(user: User, current: str, password: str, password2: str) -> None:
    """Change one's own password: the current one is required, the policy applies; logged."""
    if not current:
        raise DomainError("请输入当前密码。", field="current")
    if not check_password(user.password_hash, current):
        raise DomainError("当前密码不正确。", field="current")
    if password == current:
        raise DomainError("新密码不能与当前密码相同。", field="password")
    set_password(user, password, password2)
    session = object_session(user)
    if session is not None:
        record(session, user, "user.change_password", "user", user.id)


def end_sessions(user: User) -> None:
    """Bump the user's session version: every session and remember cookie issued before ends."""
    user.session_version = (user.session_version or 1) + 1


def create_city_admin(session: Session, username: str, password: str,
                      display_name: str = "市科技局管理员") -> User:
    """Create a city admin (the first account of a production installation)."""
    return create_user(session, username, password, display_name, Role.CITY_ADMIN)


def recent_logins(session: Session, user: User, limit: int = 20) -> list[LoginEvent]:
    """Return the newest sign-in attempts made with this user's name."""
    return list(session.scalars(
        select(LoginEvent).where(LoginEvent.username == user.username)
        .order_by(LoginEvent.at.desc(), LoginEvent.id.desc()).limit(limit)))


def create_api_client(session: Session, name: str, user: User | None, *,
                      scopes: Iterable[str] = ("read", "rank"),
                      institution_ids: Iterable[int] = ()) -> tuple[ApiClient, str]:
    """Create an API client with its scopes; return it with the plain token, shown only once.

    `user` is the creating admin (None from the CLI: logged as 系统).
    """
    scopes = [s for s in TOKEN_SCOPES if s in set(scopes)]
    if not scopes:
        raise DomainError("请至少选择一项权限。", field="scopes")
    institutions = sorted({int(i) for i in institution_ids})
    if "push_experts" in scopes and not institutions:
        raise DomainError("推送专家须指定可推送的高校院所。", field="institution_ids")
    if any(session.get(Institution, i) is None for i in institutions):
        raise DomainError("所选高校院所不存在。", field="institution_ids")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise DomainError("请填写客户端名称（不超过 80 个字）。", field="name")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise DomainError("该客户端名称已存在。", field="name")
    token = new_token()
    client = ApiClient(name=name, token_hash=hash_token(token), token_prefix=token[:10],
                       active=True, created_by_id=getattr(user, "id", None), scopes=scopes,
                       institution_ids=institutions if "push_experts" in scopes else [])
    session.add(client)
    session.flush()
    record(session, user, "api_client.create", "api_client", client.id,
           after={"名称": client.name, "权限": "、".join(TOKEN_SCOPES.get(x, x) for x in scopes)})
    return client, token


def deactivate_api_client(session: Session, client: ApiClient, *, actor: Any) -> None:
    """Deactivate an API client: its token stops working at once."""
    if not client.active:
        return
    client.active = False
    record(session, actor, "api_client.deactivate", "api_client", client.id,
           before="启用", after="停用")


def _institution(session: Session, name: str) -> Institution:
    inst = session.scalar(select(Institution).where(Institution.name == name))
    if inst is None:
        inst = Institution(name=name, kind="university", city="武汉")
        session.add(inst)
        session.flush()
    return inst


def _liaison(session: Session, name: str, kind: str, district_id: int | None,
             institution_id: int | None) -> Liaison:
    liaison = session.scalar(select(Liaison).where(Liaison.name == name, Liaison.kind == kind))
    if liaison is None:
        # Prefer a serving liaison of that scope who has no account yet (the demo roster), so
        # the demo accounts do not add people beyond the district's quota.
        scope = (Liaison.district_id == district_id) if kind == "district" else (
            Liaison.institution_id == institution_id)
        taken = select(User.liaison_id).where(User.liaison_id.is_not(None))
        liaison = session.scalars(
            select(Liaison).where(Liaison.kind == kind, scope, Liaison.end_date.is_(None),
                                  Liaison.id.not_in(taken)).order_by(Liaison.id)
        ).first()
    if liaison is None:
        liaison = Liaison(name=name, kind=kind, district_id=district_id,
                          institution_id=institution_id)
        session.add(liaison)
        session.flush()
    return liaison


def ensure_demo_users(session: Session) -> list[User]:
    """Create the demo accounts that are missing (password Demo@2022); never commits."""
    out = []
    for username, display, role, district_name, inst_name in DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            out.append(user)
            continue
        district_id = institution_id = liaison_id = None
        if district_name:
            district = session.scalar(select(District).where(District.name == district_name))
            if district is None:
                continue  # reference data missing: skip rather than fail
            district_id = district.id
        if inst_name:
            institution_id = _institution(session, inst_name).id
        if role == Role.DISTRICT_LIAISON:
            liaison_id = _liaison(session, display, "district", district_id, None).id
        elif role == Role.CAMPUS_LIAISON:
            liaison_id = _liaison(session, display, "campus", None, institution_id).id
        out.append(create_user(session, username, DEMO_PASSWORD, display, role,
                               district_id=district_id, institution_id=institution_id,
                               liaison_id=liaison_id, log=False))
    return out
