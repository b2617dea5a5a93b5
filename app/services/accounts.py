"""Users and API clients: creation with validation, sign-in, the demo accounts."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ROLES, ApiClient, District, Institution, Liaison, User

from ..errors import DomainError
from ..security import DISTRICT_ROLES, check_password, hash_password, hash_token

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
DEMO_PASSWORD = "Demo@2022"
# username, display name, role, district, institution, liaison kind
DEMO_USERS = (
    ("city", "市科技局管理员", "city_admin", None, None),
    ("dhadmin", "东湖高新区管理员", "district_admin", "东湖高新区", None),
    ("dhliaison", "陈思远", "district_liaison", "东湖高新区", None),
    ("hsadmin", "洪山区管理员", "district_admin", "洪山区", None),
    ("hsliaison", "刘晓雯", "district_liaison", "洪山区", None),
    ("whuliaison", "王立成", "campus_liaison", None, "武汉大学"),
    ("hustliaison", "赵雅琴", "campus_liaison", None, "华中科技大学"),
)
# A fixed dummy hash so that unknown usernames cost as much time as wrong passwords.
_DUMMY_HASH = hash_password("not-a-real-password")


def validate_password(password: str) -> str | None:
    """Return a Chinese message when a password is too weak, else None."""
    if len(password or "") < 8:
        return "密码至少 8 位。"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "密码须同时包含字母和数字。"
    return None


def _check_profile(session: Session, display_name: str, role: str, district_id: int | None,
                   institution_id: int | None, liaison_id: int | None,
                   errors: list[dict[str, str]]) -> tuple[int | None, int | None]:
    """Check name, role and scope; append errors; return the scope that the role keeps."""

    def err(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if not display_name:
        err("display_name", "请填写姓名。")
    elif len(display_name) > 40:
        err("display_name", "姓名不超过 40 个字。")
    if role not in ROLES:
        err("role", "请选择有效的角色。")
    if role in DISTRICT_ROLES:
        if not district_id:
            err("district_id", "区派联络员和区局管理员必须选择所属区。")
        elif session.get(District, int(district_id)) is None:
            err("district_id", "所选区不存在。")
        institution_id = None
    elif role == "campus_liaison":
        if not institution_id:
            err("institution_id", "驻高校院所联络员必须选择所驻高校院所。")
        elif session.get(Institution, int(institution_id)) is None:
            err("institution_id", "所选高校院所不存在。")
        district_id = None
    elif role == "city_admin":
        district_id = institution_id = None
    if liaison_id and session.get(Liaison, int(liaison_id)) is None:
        err("liaison_id", "所选联络员不存在。")
    return (int(district_id) if district_id else None,
            int(institution_id) if institution_id else None)


def _raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise DomainError(errors[0]["message"] if len(errors) == 1 else "请检查标红的字段。",
                          field=errors[0]["field"], errors=errors)


def create_user(session: Session, username: str, password: str, display_name: str, role: str,
                district_id: int | None = None, institution_id: int | None = None,
                liaison_id: int | None = None) -> User:
    """Create a user after checking every field; raise DomainError with per-field errors."""
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    errors: list[dict[str, str]] = []
    if not USERNAME.match(username):
        errors.append({"field": "username",
                       "message": "用户名须为 3-40 位字母、数字、下划线、点或连字符。"})
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors.append({"field": "username", "message": "该用户名已被使用。"})
    message = validate_password(password)
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
    if (actor is not None and actor.id == user.id and user.role == "city_admin"
            and role != "city_admin"):
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
    return changes


def generate_password(length: int = 12) -> str:
    """Return a random password that passes validate_password (letters and digits)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(max(length, 8)))
        if validate_password(password) is None:
            return password


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with this username and password, else None."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        check_password(_DUMMY_HASH, password or "")
        return None
    if not check_password(user.password_hash, password or "") or not user.active:
        return None
    return user


def set_password(user: User, password: str) -> None:
    """Change a user's password after checking its strength."""
    message = validate_password(password)
    if message:
        raise DomainError(message, field="password")
    user.password_hash = hash_password(password)


def create_api_client(session: Session, name: str, user: User | None) -> tuple[ApiClient, str]:
    """Create an API client; return it with the plain token, which is shown only once."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise DomainError("请填写客户端名称（不超过 80 个字）。", field="name")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise DomainError("该客户端名称已存在。", field="name")
    token = "lm_" + secrets.token_urlsafe(32)
    client = ApiClient(name=name, token_hash=hash_token(token), token_prefix=token[:10],
                       active=True, created_by_id=getattr(user, "id", None))
    session.add(client)
    session.flush()
    return client, token


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
        if role == "district_liaison":
            liaison_id = _liaison(session, display, "district", district_id, None).id
        elif role == "campus_liaison":
            liaison_id = _liaison(session, display, "campus", None, institution_id).id
        out.append(create_user(session, username, DEMO_PASSWORD, display, role,
                               district_id=district_id, institution_id=institution_id,
                               liaison_id=liaison_id))
    return out
