"""Sign-in, login log, rate limit, CSRF, headers, masking, demand scoping and API tokens."""

from __future__ import annotations

import re

import pytest
from flask import jsonify
from sqlalchemy import select

from app import create_app
from app.auth.decorators import api_token_required
from app.errors import DomainError
from app.policy.access import can_view_demand
from app.policy.privacy import can_see_contact, mask_email, mask_phone
from app.policy.scope import demand_scope
from app.services import user_accounts
from app.services.contacts import reveal_contact
from app.services.listing import Page, apply_sort, paginate, rows_to_xlsx
from models import (
    ApiClient,
    AuditEvent,
    Demand,
    District,
    Enterprise,
    Expert,
    Institution,
    LoginEvent,
    Match,
    User,
)
from tests.conftest import TEST_CONFIG

PASSWORD = "Harbor-lamp-42"


def _user(session, username="alice", role="city_admin", **scope) -> User:
    user = user_accounts.create_user(session, username, PASSWORD, "测试用户", role, **scope)
    session.commit()
    return user


def _login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def _district(session, name: str) -> District:
    return session.scalar(select(District).where(District.name == name))


# --- sign-in ----------------------------------------------------------------------------
def test_login_success_redirects_home_and_logs(client, session):
    _user(session)
    resp = _login(client, "alice")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    assert "测试用户" in text and "市科技局管理员" in text and "待办事项" in text
    rows = session.scalars(select(LoginEvent)).all()
    assert [(r.username, r.success) for r in rows] == [("alice", True)]
    assert rows[0].ip == "127.0.0.1"
    assert rows[0].user_agent  # werkzeug's test client sends one


@pytest.mark.parametrize("username,password", [("alice", "wrong-pass1"), ("nobody", PASSWORD)])
def test_login_failure_is_logged_and_does_not_sign_in(client, session, username, password):
    _user(session)
    resp = _login(client, username, password)
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302
    row = session.scalars(select(LoginEvent)).one()
    assert (row.username, row.success, row.message) == (username, False, "用户名或密码错误")


def test_inactive_user_cannot_sign_in(client, session):
    user = _user(session)
    user.active = False
    session.commit()
    assert _login(client, "alice").status_code == 401


def test_next_parameter_only_allows_local_paths(client, session):
    _user(session)
    resp = client.post("/login?next=https://evil.example/x",
                       data={"username": "alice", "password": PASSWORD})
    assert resp.headers["Location"] == "/"
    client.post("/logout")
    resp = client.post("/login?next=/admin/users", data={"username": "alice", "password": PASSWORD})
    assert resp.headers["Location"] == "/admin/users"


def test_logout_requires_post_and_signs_out(client, session):
    _user(session)
    _login(client, "alice")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_anonymous_home_redirects_to_login_with_chinese_message(client):
    resp = client.get("/", follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert "请先登录" in text and 'name="password"' in text


def test_rate_limit_on_login_post(migrated, session):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "RATELIMIT_ENABLED": True,
                      "LOGIN_MAX_FAILURES_PER_ADDRESS": 3})
    client = app.test_client()
    codes = [_login(client, f"ghost{i}", "wrong-pass1").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    last = _login(client, "ghost", "wrong-pass1")
    assert last.status_code == 429
    assert "本机登录尝试过于频繁，请 15 分钟后再试" in last.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # GET is not limited
    with app.app_context():
        s = app.extensions["db"].Session()
        messages = [e.message for e in s.scalars(select(LoginEvent).order_by(LoginEvent.id))]
        s.close()
    assert messages.count("用户名或密码错误") == 3
    assert messages.count("登录尝试过于频繁，已拒绝") == 2
    app.extensions["db"].engine.dispose()


# --- CSRF and headers -------------------------------------------------------------------
def test_csrf_rejects_post_without_token_when_enabled(migrated, session):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        s = app.extensions["db"].Session()
        user_accounts.create_user(s, "bob", PASSWORD, "鲍勃", "city_admin")
        s.commit()
        s.close()
    client = app.test_client()
    resp = _login(client, "bob")
    assert resp.status_code == 400
    assert "安全令牌" in resp.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    ok = client.post("/login", data={"username": "bob", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    app.extensions["db"].engine.dispose()


def test_security_headers_on_every_response(client):
    for path in ("/login", "/healthz", "/no-such-page"):
        resp = client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "script-src 'self';" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_session_cookie_is_httponly_and_lax(client, session):
    _user(session)
    resp = _login(client, "alice")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- masking ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw,masked", [
    ("13812345678", "138****5678"), ("027-87654321", "027****4321"), ("12345", "***45"),
    ("", ""), (None, ""),
])
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("zhangsan@whu.edu.cn", "z***n@whu.edu.cn"), ("ab@x.cn", "a***@x.cn"), ("", ""),
])
def test_mask_email(raw, masked):
    assert mask_email(raw) == masked


# --- accounts ---------------------------------------------------------------------------
def test_create_user_requires_scope_for_role(session):
    with pytest.raises(DomainError) as exc:
        user_accounts.create_user(session, "dliaison", PASSWORD, "区联络员", "district_liaison")
    assert exc.value.field == "district_id"
    with pytest.raises(DomainError) as exc:
        user_accounts.create_user(session, "cliaison", PASSWORD, "校联络员", "campus_liaison")
    assert exc.value.field == "institution_id"
    with pytest.raises(DomainError) as exc:
        user_accounts.create_user(session, "x", "short", "", "nope")
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"username", "password", "display_name", "role"}


def test_ensure_demo_users_is_idempotent(session):
    first = user_accounts.ensure_demo_users(session)
    session.commit()
    again = user_accounts.ensure_demo_users(session)
    session.commit()
    names = {u.username for u in first}
    assert names == {"city", "dhadmin", "dhliaison", "hsadmin", "hsliaison", "whuliaison",
                     "hustliaison"}
    assert [u.id for u in first] == [u.id for u in again]
    assert session.scalar(select(User).where(User.username == "whuliaison")).institution.name \
        == "武汉大学"
    dh = session.scalar(select(User).where(User.username == "dhliaison"))
    assert dh.district.name == "东湖高新区" and dh.liaison is not None
    assert dh.liaison.kind == "district"
    assert user_accounts.authenticate(session, "hsadmin", user_accounts.DEMO_PASSWORD) is not None
    assert user_accounts.authenticate(session, "hsadmin", "wrong") is None


# --- scoping ----------------------------------------------------------------------------
@pytest.fixture
def scoped(session):
    """Two districts, two institutions, four demands; one non-public demand sent to inst A."""
    dh, hs = _district(session, "东湖高新区"), _district(session, "洪山区")
    inst_a, inst_b = Institution(name="甲大学"), Institution(name="乙大学")
    e_dh = Enterprise(name="光谷企业", district_id=dh.id)
    e_hs = Enterprise(name="洪山企业", district_id=hs.id)
    session.add_all([inst_a, inst_b, e_dh, e_hs])
    session.flush()
    expert = Expert(name="张教授", institution_id=inst_a.id)
    session.add(expert)
    session.flush()

    def demand(code, ent, status, publishable):
        d = Demand(code=code, enterprise_id=ent.id, district_id=ent.district_id, title=code,
                   status=status, publishable=publishable)
        session.add(d)
        return d

    demands = {
        "dh_draft": demand("dh_draft", e_dh, "draft", False),
        "hs_public": demand("hs_public", e_hs, "published", True),
        "hs_sent": demand("hs_sent", e_hs, "published", False),
        "dh_private": demand("dh_private", e_dh, "published", False),
    }
    session.flush()
    session.add(Match(demand_id=demands["hs_sent"].id, expert_id=expert.id))
    session.commit()
    users = {
        "city": User(role="city_admin"),
        "dh_admin": User(role="district_admin", district_id=dh.id),
        "hs_liaison": User(role="district_liaison", district_id=hs.id),
        "campus_a": User(role="campus_liaison", institution_id=inst_a.id),
        "campus_b": User(role="campus_liaison", institution_id=inst_b.id),
    }
    return demands, users, inst_a


def _visible(session, user, **kw) -> set[str]:
    return set(session.scalars(select(Demand.code).where(demand_scope(user, **kw))))


def test_demand_scope_scopes_each_role(session, scoped):
    demands, users, _ = scoped
    assert _visible(session, users["city"]) == set(demands)
    assert _visible(session, users["dh_admin"]) == {"dh_draft", "dh_private"}
    assert _visible(session, users["hs_liaison"]) == {"hs_public", "hs_sent"}
    assert _visible(session, users["dh_admin"], include_published=True) == {
        "dh_draft", "dh_private", "hs_public"}
    assert _visible(session, users["campus_a"]) == {"hs_public", "hs_sent"}
    assert _visible(session, users["campus_b"]) == {"hs_public"}
    assert _visible(session, None) == set()


def test_can_view_demand_matches_scope(session, scoped):
    demands, users, inst_a = scoped
    sent = demands["hs_sent"]
    assert can_view_demand(users["campus_a"], sent, [inst_a.id])
    assert not can_view_demand(users["campus_b"], sent, [inst_a.id])
    assert not can_view_demand(users["dh_admin"], sent, [inst_a.id])
    assert can_view_demand(users["dh_admin"], demands["hs_public"], [])
    assert can_view_demand(users["city"], demands["dh_draft"], [])


def test_contact_visibility_and_audit(app, session, scoped):
    demands, users, _ = scoped
    dh_id = demands["dh_draft"].district_id
    assert can_see_contact(users["dh_admin"], dh_id)
    assert not can_see_contact(users["hs_liaison"], dh_id)
    assert not can_see_contact(users["campus_a"], dh_id)
    assert can_see_contact(users["campus_a"], dh_id, via_match=True)
    with app.test_request_context("/"):
        assert reveal_contact(session, users["dh_admin"], dh_id, "enterprise", 1)
        assert reveal_contact(session, users["city"], dh_id, "enterprise", 1)
        assert not reveal_contact(session, users["hs_liaison"], dh_id, "enterprise", 1)
        session.commit()
    events = session.scalars(select(AuditEvent)).all()
    assert [(e.action, e.entity, e.entity_id) for e in events] == [
        ("view_contact", "enterprise", 1)]


# --- API tokens -------------------------------------------------------------------------
@pytest.fixture
def api_app(app):
    @api_token_required
    def probe():
        from flask import g

        return jsonify(client=g.api_client.name if g.api_client else None,
                       user=g.api_user.username if g.api_user else None)

    app.add_url_rule("/api/v1/_probe", "api_probe", probe)
    return app


def test_api_token_auth(api_app, session):
    client = api_app.test_client()
    admin = _user(session)
    api_client, token = user_accounts.create_api_client(session, "平台", admin)
    session.commit()
    assert api_client.token_hash != token and token.startswith(api_client.token_prefix)
    resp = client.get("/api/v1/_probe")
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    assert client.get("/api/v1/_probe", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/api/v1/_probe", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json == {"client": "平台", "user": None}
    session.expire_all()
    assert session.get(ApiClient, api_client.id).last_used_at is not None
    session.get(ApiClient, api_client.id).active = False
    session.commit()
    assert client.get("/api/v1/_probe",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    _login(client, "alice")
    assert client.get("/api/v1/_probe").json == {"client": None, "user": "alice"}


# --- listing helpers --------------------------------------------------------------------
def test_paginate_sort_and_export(session):
    for i in range(25):
        session.add(User(username=f"u{i:02d}", password_hash="x", display_name=f"用户{i}",
                         role="city_admin"))
    session.commit()
    stmt, key = apply_sort(select(User), "-username; drop", {"username": User.username},
                           "-username")
    assert key == "-username"
    page = paginate(session, stmt, page="3", per_page=10)
    assert (page.total, page.pages, page.page) == (25, 3, 3)
    assert [u.username for u in page.items] == ["u04", "u03", "u02", "u01", "u00"]
    assert paginate(session, stmt, page="junk", per_page=10).page == 1
    assert paginate(session, stmt, page=99, per_page=10).page == 3
    assert Page(items=[], total=500, page=10, per_page=10).window() == [
        1, None, 8, 9, 10, 11, 12, None, 50]
    data = rows_to_xlsx(["名称", "公式"], [("甲", "=1+1")], "测试")
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(data)).active
    assert ws.title == "测试" and ws["A1"].value == "名称" and ws["B2"].value == "'=1+1"
