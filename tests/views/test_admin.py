"""系统管理: role gates, user creation form, API clients, dictionaries and the logs."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import create_app
from app.errors import DomainError
from app.services import user_accounts
from models import ApiClient, AuditEvent, DomainTerm, Industry, LoginEvent, User

ADMIN_PAGES = [
    "/admin/users", "/admin/users/new", "/admin/api-clients", "/admin/dictionaries",
    "/admin/dictionaries?tab=terms", "/admin/audit-log", "/admin/login-log",
]


@pytest.fixture
def demo(session):
    user_accounts.ensure_demo_users(session)
    session.commit()


def _login(client, username):
    resp = client.post("/login", data={"username": username,
                                       "password": user_accounts.DEMO_PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_redirect_anonymous_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("username", ["dhadmin", "dhliaison", "whuliaison"])
def test_admin_pages_forbidden_for_other_roles(client, demo, username):
    _login(client, username)
    for path in ADMIN_PAGES:
        resp = client.get(path)
        assert resp.status_code == 403, path
        assert "无权" in resp.get_data(as_text=True)
    assert client.post("/admin/api-clients", data={"name": "x"}).status_code == 403


def test_city_admin_sees_every_admin_page_and_menu(client, demo):
    _login(client, "city")
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path
    home = client.get("/").get_data(as_text=True)
    for label in ("工作台", "需求管理", "专家库", "对接管理", "对接会", "联络员", "工作台账",
                  "统计分析", "系统管理", "用户管理", "登录日志"):
        assert label in home


def test_menu_is_cut_to_the_role(client, demo):
    _login(client, "whuliaison")
    text = client.get("/").get_data(as_text=True)
    assert "待审对接" in text and "专家导入" in text
    assert "系统管理" not in text and "需求审核" not in text and "指标分解表" not in text


def test_create_user_keeps_input_and_shows_errors_next_to_fields(client, session, demo):
    _login(client, "city")
    resp = client.post("/admin/users/new", data={
        "username": "newbie", "display_name": "新同事", "role": "district_liaison",
        "password": "Abcdefg1", "password2": "Abcdefg1"})
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert 'value="newbie"' in text and 'value="新同事"' in text
    assert "必须选择所属区" in text and "is-invalid" in text
    assert "Abcdefg1" not in text  # passwords are never echoed
    dh = session.scalar(select(User).where(User.username == "dhadmin")).district_id
    ok = client.post("/admin/users/new", data={
        "username": "newbie", "display_name": "新同事", "role": "district_liaison",
        "district_id": str(dh), "password": "Abcdefg1", "password2": "Abcdefg1"})
    assert ok.status_code == 302
    session.expire_all()
    user = session.scalar(select(User).where(User.username == "newbie"))
    assert user.district_id == dh and user.password_hash != "Abcdefg1"
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "user")).one()
    assert event.action == "user.create" and event.entity_id == user.id and "city" in event.actor
    assert event.detail["after"] == {"用户名": "newbie", "角色": "区派联络员"}


def test_api_client_token_shown_once_then_deactivated(client, session, demo):
    _login(client, "city")
    resp = client.post("/admin/api-clients",
                       data={"name": "成果转化平台", "scopes": ["push_experts"]})
    assert resp.status_code == 422 and "须指定可推送的高校院所" in resp.get_data(as_text=True)
    resp = client.post("/admin/api-clients", data={"name": "成果转化平台",
                                                   "scopes": ["read", "rank"]})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "仅显示这一次" in text
    c = session.scalar(select(ApiClient).where(ApiClient.name == "成果转化平台"))
    assert c.scopes == ["read", "rank"] and c.institution_ids == []
    again = client.get("/admin/api-clients").get_data(as_text=True)
    assert "仅显示这一次" not in again and c.token_prefix in again
    assert client.post(f"/admin/api-clients/{c.id}/deactivate").status_code == 302
    session.expire_all()
    assert session.get(ApiClient, c.id).active is False


def test_dictionaries_add_and_validate(client, session, demo):
    _login(client, "city")
    ok = client.post("/admin/dictionaries", data={"tab": "industries", "code": "Z99",
                                                   "name": "低空经济"})
    assert ok.status_code == 302
    assert session.scalar(select(Industry).where(Industry.code == "Z99")).is_custom
    dup = client.post("/admin/dictionaries", data={"tab": "industries", "code": "Z99",
                                                    "name": "重复"})
    assert dup.status_code == 422 and "该代码已存在" in dup.get_data(as_text=True)
    assert client.post("/admin/dictionaries",
                       data={"tab": "terms", "term": "固态电池"}).status_code == 302
    assert session.scalar(select(DomainTerm.term)) == "固态电池"
    bad = client.post("/admin/dictionaries", data={"tab": "terms", "term": "两 个"})
    assert bad.status_code == 422


def test_logs_search_and_paginate(client, session, demo):
    for i in range(25):
        session.add(LoginEvent(username=f"probe{i}", success=False, ip="10.0.0.9"))
    session.commit()
    _login(client, "city")
    page1, page2 = (client.get(f"/admin/login-log?q=probe&result=0&page={n}").get_data(
        as_text=True) for n in (1, 2))
    assert "共 25 条" in page1 and "第 1 / 2 页" in page1
    assert "第 2 / 2 页" in page2
    only_ok = client.get("/admin/login-log?result=1").get_data(as_text=True)
    assert "probe" not in only_ok and "共 1 条" in only_ok  # the city admin's own sign-in
    export = client.get("/admin/login-log?q=probe&export=xlsx")
    assert export.mimetype.endswith("spreadsheetml.sheet") and export.data[:2] == b"PK"
    audit = client.get("/admin/audit-log?action=create").status_code
    assert audit == 200


# --- editing users and resetting passwords ------------------------------------------------
def _by_name(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _user_events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity == "user",
                                                         AuditEvent.action == action)))


@pytest.mark.parametrize("suffix", ["edit", "password"])
def test_user_edit_and_reset_redirect_anonymous_to_login(client, session, demo, suffix):
    uid = _by_name(session, "dhliaison").id
    for method in (client.get, client.post):
        resp = method(f"/admin/users/{uid}/{suffix}")
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("username", ["dhadmin", "dhliaison", "whuliaison"])
def test_user_edit_and_reset_forbidden_for_other_roles(client, session, demo, username):
    target = _by_name(session, "hsliaison")
    _login(client, username)
    for suffix in ("edit", "password"):
        assert client.get(f"/admin/users/{target.id}/{suffix}").status_code == 403
    posted = client.post(f"/admin/users/{target.id}/edit",
                         data={"display_name": "改名", "role": "city_admin"})
    assert posted.status_code == 403
    reset = client.post(f"/admin/users/{target.id}/password",
                        data={"password": "Hijack123", "password2": "Hijack123"})
    assert reset.status_code == 403
    session.expire_all()
    assert _by_name(session, "hsliaison").role == "district_liaison"
    assert user_accounts.authenticate(session, "hsliaison", user_accounts.DEMO_PASSWORD) is not None


def test_edit_user_changes_role_and_scope_and_is_audited(client, session, demo):
    target = _by_name(session, "dhliaison")
    hs = _by_name(session, "hsadmin").district_id
    old_district = target.district_id
    _login(client, "city")
    page = client.get(f"/admin/users/{target.id}/edit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="陈思远"' in text and "dhliaison" in text
    assert 'name="csrf_token"' in text and 'name="password"' not in text
    resp = client.post(f"/admin/users/{target.id}/edit", data={
        "display_name": "陈思远（调任）", "role": "district_admin", "district_id": str(hs),
        "liaison_id": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users")
    session.expire_all()
    user = session.get(User, target.id)
    assert (user.display_name, user.role, user.district_id) == ("陈思远（调任）",
                                                                "district_admin", hs)
    assert user.liaison_id is None and user.username == "dhliaison"
    [event] = _user_events(session, "user.update")
    assert event.entity_id == user.id and "city" in event.actor
    changes = event.detail["after"]["修改"]
    assert changes["role"] == ["district_liaison", "district_admin"]
    assert changes["district_id"] == [old_district, hs]
    assert "username" not in changes


def test_edit_user_campus_role_drops_district(client, session, demo):
    target = _by_name(session, "dhliaison")
    whu = _by_name(session, "whuliaison").institution_id
    _login(client, "city")
    resp = client.post(f"/admin/users/{target.id}/edit", data={
        "display_name": "陈思远", "role": "campus_liaison", "institution_id": str(whu),
        "district_id": str(target.district_id)})
    assert resp.status_code == 302
    session.expire_all()
    user = session.get(User, target.id)
    assert user.institution_id == whu and user.district_id is None


@pytest.mark.parametrize("data, field, message", [
    ({"display_name": "新名字", "role": "district_admin"}, "district_id", "必须选择所属区"),
    ({"display_name": "新名字", "role": "campus_liaison"}, "institution_id",
     "必须选择所驻高校院所"),
    ({"display_name": "", "role": "city_admin"}, "display_name", "请填写姓名"),
    ({"display_name": "新名字", "role": "boss"}, "role", "请选择有效的角色"),
    ({"display_name": "新名字", "role": "city_admin", "liaison_id": "999999"}, "liaison_id",
     "所选联络员不存在"),
])
def test_edit_user_validation_keeps_input(client, session, demo, data, field, message):
    target = _by_name(session, "hsliaison")
    _login(client, "city")
    resp = client.post(f"/admin/users/{target.id}/edit", data=data)
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert message in text
    # The message sits next to its own field, which is the one marked invalid.
    assert re.search(rf'class="form-(?:select|control) is-invalid"[^>]*id="f-{field}"', text)
    if data["display_name"]:
        assert 'value="新名字"' in text
    if data["role"] in ("district_admin", "campus_liaison"):
        assert f'value="{data["role"]}" selected' in text
    session.expire_all()
    user = session.get(User, target.id)
    assert (user.display_name, user.role) == ("刘晓雯", "district_liaison")
    assert _user_events(session, "user.update") == []


def test_city_admin_cannot_demote_own_account(client, session, demo):
    me = _by_name(session, "city")
    dh = _by_name(session, "dhadmin").district_id
    _login(client, "city")
    resp = client.post(f"/admin/users/{me.id}/edit", data={
        "display_name": "市局管理员", "role": "district_admin", "district_id": str(dh)})
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "不能降低当前登录账号的角色" in text and 'value="市局管理员"' in text
    session.expire_all()
    assert session.get(User, me.id).role == "city_admin"
    # Renaming oneself is fine, and so is demoting another city admin.
    assert client.post(f"/admin/users/{me.id}/edit", data={
        "display_name": "市局管理员", "role": "city_admin"}).status_code == 302
    other = user_accounts.create_user(session, "city2", "Abcdefg1", "另一位管理员", "city_admin")
    session.commit()
    assert client.post(f"/admin/users/{other.id}/edit", data={
        "display_name": "另一位管理员", "role": "district_admin",
        "district_id": str(dh)}).status_code == 302
    session.expire_all()
    assert session.get(User, me.id).display_name == "市局管理员"
    assert session.get(User, other.id).role == "district_admin"
    # Disabling oneself stays refused too.
    assert client.post(f"/admin/users/{me.id}/toggle").status_code == 400
    session.expire_all()
    assert session.get(User, me.id).active is True


def test_update_user_service_refuses_self_demotion(session, demo):
    me = _by_name(session, "city")
    with pytest.raises(DomainError) as exc:
        user_accounts.update_user(session, me, "市科技局管理员", "campus_liaison",
                             institution_id=_by_name(session, "whuliaison").institution_id,
                             actor=me)
    assert exc.value.field == "role" and "不能降低" in exc.value.message
    assert user_accounts.update_user(session, me, "市科技局管理员", "city_admin", actor=me) == {}


def test_reset_password_lets_user_sign_in_with_new_password_only(app, session, demo):
    target = _by_name(session, "hsliaison")
    admin = app.test_client()
    _login(admin, "city")
    page = admin.get(f"/admin/users/{target.id}/password").get_data(as_text=True)
    forms = re.findall(rf'action="/admin/users/{target.id}/password"[^>]*>\s*'
                       r'<input type="hidden" name="csrf_token"', page)
    assert len(forms) == 2  # set-a-password and generate, each with its own token
    resp = admin.post(f"/admin/users/{target.id}/password",
                      data={"mode": "set", "password": "NewPass2026", "password2": "NewPass2026"})
    assert resp.status_code == 302
    session.expire_all()
    [event] = _user_events(session, "user.reset_password")
    assert event.entity_id == target.id and event.detail == {"after": {"用户名": "hsliaison",
                                                                        "方式": "管理员设定"}}
    assert "NewPass2026" not in str(event.detail)
    user = app.test_client()
    old = user.post("/login", data={"username": "hsliaison",
                                    "password": user_accounts.DEMO_PASSWORD})
    assert old.status_code != 302
    new = user.post("/login", data={"username": "hsliaison", "password": "NewPass2026"})
    assert new.status_code == 302


@pytest.mark.parametrize("data, field, message", [
    ({"password": "short1", "password2": "short1"}, "password", "密码至少 8 位"),
    ({"password": "onlyletters", "password2": "onlyletters"}, "password",
     "须同时包含英文字母和数字"),
    ({"password": "Abcdefg1", "password2": "Abcdefg2"}, "password2", "两次输入的密码不一致"),
])
def test_reset_password_validation(client, session, demo, data, field, message):
    target = _by_name(session, "hsliaison")
    _login(client, "city")
    resp = client.post(f"/admin/users/{target.id}/password", data={"mode": "set", **data})
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert message in text and f'aria-describedby="e-{field}"' in text
    assert data["password"] not in text
    session.expire_all()
    assert _user_events(session, "user.reset_password") == []
    assert user_accounts.authenticate(session, "hsliaison", user_accounts.DEMO_PASSWORD) is not None


def test_reset_password_generates_one_shown_once(app, client, session, demo):
    target = _by_name(session, "whuliaison")
    _login(client, "city")
    resp = client.post(f"/admin/users/{target.id}/password", data={"mode": "generate"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    text = resp.get_data(as_text=True)
    match = re.search(r"data-generated-password>([^<]+)</code>", text)
    assert match and "仅显示这一次" in text
    generated = match.group(1)
    assert user_accounts.validate_password(generated) is None
    assert generated not in client.get(f"/admin/users/{target.id}/password").get_data(
        as_text=True)
    assert generated not in client.get("/admin/users").get_data(as_text=True)
    session.expire_all()
    [event] = _user_events(session, "user.reset_password")
    assert event.detail["after"]["方式"] == "随机生成" and generated not in str(event.detail)
    assert user_accounts.authenticate(session, "whuliaison", generated) is not None
    assert user_accounts.authenticate(session, "whuliaison", user_accounts.DEMO_PASSWORD) is None


def test_generate_password_is_strong_and_random():
    passwords = {user_accounts.generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == 12 and user_accounts.validate_password(p) is None for p in passwords)


def test_user_forms_need_csrf_when_enabled(migrated, session, demo):
    from tests.conftest import TEST_CONFIG

    strict = create_app({**TEST_CONFIG, "WTF_CSRF_ENABLED": True, "DATABASE_URL": migrated.url})
    client = strict.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "city", "password": user_accounts.DEMO_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    target = _by_name(session, "hsliaison")
    edit = client.post(f"/admin/users/{target.id}/edit",
                       data={"display_name": "无令牌", "role": "city_admin"})
    reset = client.post(f"/admin/users/{target.id}/password",
                        data={"mode": "generate"})
    assert edit.status_code == 400 and reset.status_code == 400
    form = client.get(f"/admin/users/{target.id}/edit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    ok = client.post(f"/admin/users/{target.id}/edit", data={
        "display_name": "刘晓雯", "role": "district_liaison",
        "district_id": str(target.district_id), "csrf_token": token})
    assert ok.status_code == 302
    strict.extensions["db"].engine.dispose()
