"""系统管理: role gates, user creation form, API clients, dictionaries and the logs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.services import accounts
from models import ApiClient, AuditEvent, DomainTerm, Industry, LoginEvent, User

ADMIN_PAGES = [
    "/admin/users", "/admin/users/new", "/admin/api-clients", "/admin/dictionaries",
    "/admin/dictionaries?tab=terms", "/admin/audit-log", "/admin/login-log",
]


@pytest.fixture
def demo(session):
    accounts.ensure_demo_users(session)
    session.commit()


def _login(client, username):
    resp = client.post("/login", data={"username": username, "password": accounts.DEMO_PASSWORD})
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
    assert event.action == "create" and event.entity_id == user.id and "city" in event.actor


def test_api_client_token_shown_once_then_deactivated(client, session, demo):
    _login(client, "city")
    resp = client.post("/admin/api-clients", data={"name": "成果转化平台"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "仅显示这一次" in text
    c = session.scalar(select(ApiClient).where(ApiClient.name == "成果转化平台"))
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
    page1 = client.get("/admin/login-log?q=probe&result=0").get_data(as_text=True)
    assert "共 25 条" in page1 and "第 1 / 2 页" in page1
    page2 = client.get("/admin/login-log?q=probe&result=0&page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in page2
    only_ok = client.get("/admin/login-log?result=1").get_data(as_text=True)
    assert "probe" not in only_ok and "共 1 条" in only_ok  # the city admin's own sign-in
    export = client.get("/admin/login-log?q=probe&export=xlsx")
    assert export.mimetype.endswith("spreadsheetml.sheet") and export.data[:2] == b"PK"
    audit = client.get("/admin/audit-log?action=create").status_code
    assert audit == 200
