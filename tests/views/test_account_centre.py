"""The password policy on every path, 个人中心, `flask create-admin`, demo mode, API CSRF."""

from __future__ import annotations

import re

import pytest
from flask import jsonify
from sqlalchemy import func, select

from app import create_app
from app.auth.decorators import api_token_required
from app.auth.passwords import common_passwords, password_problem
from app.errors import DomainError
from app.services import reference_data, user_accounts
from models import AuditEvent, LoginEvent, User
from tests.conftest import TEST_CONFIG

PASSWORD = "Harbor-lamp-42"
NEW_PASSWORD = "Quiet-river-77"

WEAK = [
    ("password1", "常见弱密码"),
    ("aaaaaaa1", "至少包含 4 个不同的字符"),
    ("        ", "不能为空或只含空格"),
    ("\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000", "不能为空或只含空格"),
    ("Abc\u200bdef12", "U+200B"),
    ("Abc\tdefg12", "U+0009"),
    ("Abc\u00a0defg12", "U+00A0"),
    ("Short1", "密码至少 8 位（当前 6 位）"),
    ("onlyletters", "须同时包含英文字母和数字"),
    ("12345678901", "须同时包含英文字母和数字"),
    ("Qwerty2024", "常见弱密码"),
    ("Wuhan@2025", "常见弱密码"),
    ("x" * 120 + "Ab1" + "y" * 10, "不超过 128 位"),
]


@pytest.mark.parametrize("password,message", WEAK)
def test_policy_refuses_weak_passwords_with_a_chinese_reason(password, message):
    assert message in (password_problem(password) or "")


@pytest.mark.parametrize("password",
                         ["Harbor-lamp-42", "tiger lily 58", "光谷Kx7-长江桥", "Demo@2022"])
def test_policy_accepts_reasonable_passwords(password):
    assert password_problem(password) is None


def test_policy_refuses_the_username_and_ships_its_list():
    assert "不能包含用户名" in password_problem("Alice-2049x", "alice")
    words = common_passwords()
    assert len(words) > 10000 and "password1" in words and "1qaz2wsx" in words


def _user(session, username="alice", role="city_admin") -> User:
    user = user_accounts.create_user(session, username, PASSWORD, "测试用户", role)
    session.commit()
    return user


def _login(client, username="alice", password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def test_every_path_that_sets_a_password_applies_the_policy(client, runner, session):
    with pytest.raises(DomainError, match="常见弱密码"):
        user_accounts.create_user(session, "bob", "password1", "鲍勃", "city_admin")
    user = _user(session)
    _login(client)
    reset = client.post(f"/admin/users/{user.id}/password",
                        data={"mode": "set", "password": "aaaaaaa1", "password2": "aaaaaaa1"})
    assert reset.status_code == 422 and "至少包含 4 个不同的字符" in reset.get_data(as_text=True)
    own = client.post("/account/password", data={"current": PASSWORD, "password": "password1",
                                                  "password2": "password1"})
    assert own.status_code == 422 and "常见弱密码" in own.get_data(as_text=True)
    made = runner.invoke(args=["create-admin", "root1", "--password-stdin"], input="abc12345\n")
    assert made.exit_code == 1 and "常见弱密码" in made.output
    session.expire_all()
    assert user_accounts.authenticate(session, "alice", PASSWORD) is not None
    assert session.scalar(select(User).where(User.username == "root1")) is None


# --- 个人中心 ---------------------------------------------------------------------------------
def test_profile_shows_the_account_and_its_recent_logins(client, session):
    _user(session, "hsliaison", "city_admin")
    _login(client, "hsliaison", "wrong-pass1")
    _login(client, "hsliaison")
    _login(client.application.test_client(), "someoneelse", "wrong-pass1")
    page = client.get("/account")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "个人中心" in text and "hsliaison" in text
    assert "市科技局管理员" in text
    table = text[text.index("data-recent-logins"):]
    assert table.count("<tr>") == 1 + 2  # header, the success and the failure; not the other user
    assert "登录成功" in table and "用户名或密码错误" in table and "127.0.0.1" in table
    home = client.get("/").get_data(as_text=True)
    assert 'href="/account"' in home and "个人中心" in home  # the user menu links it


@pytest.mark.parametrize("data,field,message", [
    ({"current": "", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}, "current",
     "请输入当前密码"),
    ({"current": "Wrong-pass-1", "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
     "current", "当前密码不正确"),
    ({"current": PASSWORD, "password": NEW_PASSWORD, "password2": "Other-pass-9"}, "password2",
     "两次输入的密码不一致"),
    ({"current": PASSWORD, "password": PASSWORD, "password2": PASSWORD}, "password",
     "不能与当前密码相同"),
])
def test_change_password_errors_keep_the_old_password(client, session, data, field, message):
    _user(session)
    _login(client)
    resp = client.post("/account/password", data=data)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in text
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', text)
    assert NEW_PASSWORD not in text
    session.expire_all()
    assert user_accounts.authenticate(session, "alice", PASSWORD) is not None
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "user.change_password")) == 0


def test_change_password_is_audited(client, session):
    user = _user(session)
    _login(client)
    client.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD})
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "user.change_password")).one()
    assert event.entity_id == user.id and NEW_PASSWORD not in str(event.detail)
    assert "其他设备上的登录已全部退出" in client.get("/account").get_data(as_text=True)


# --- create-admin and demo mode -------------------------------------------------------------
def test_create_admin_prompts_twice_and_creates_a_city_admin(runner, session):
    result = runner.invoke(args=["create-admin", "chief", "--name", "王主任"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "已创建市科技局管理员 chief（王主任）" in result.output and PASSWORD not in result.output
    user = session.scalar(select(User).where(User.username == "chief"))
    assert user.role == "city_admin" and user_accounts.authenticate(session, "chief", PASSWORD)
    again = runner.invoke(args=["create-admin", "chief", "--password-stdin"],
                          input=f"{NEW_PASSWORD}\n")
    assert again.exit_code == 1 and "该用户名已被使用" in again.output


@pytest.fixture
def production(migrated):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "ENV": "production",
                      "SECRET_KEY": "p" * 48})
    with app.app_context():  # `flask` pushes one for every command
        yield app
    with app.extensions["db"].Session.begin() as s:
        reference_data.clear_all(s)
    app.extensions["db"].engine.dispose()


@pytest.mark.parametrize("args", [["load-demo", "--demo"], ["load-demo", "--if-empty", "--demo"]])
def test_load_demo_refuses_production_even_with_the_flag(production, args):
    result = production.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1 and "不能加载到生产环境" in result.output
    with production.extensions["db"].unit_of_work() as s:
        assert s.scalar(select(func.count(User.id))) == 0


def test_load_demo_needs_the_demo_flag(runner, session):
    result = runner.invoke(args=["load-demo", "--if-empty"])
    assert result.exit_code == 1 and "--demo" in result.output
    assert session.scalar(select(func.count(User.id))) == 0


def test_the_published_demo_password_never_signs_in_in_production(production):
    with production.extensions["db"].unit_of_work() as s:
        user_accounts.ensure_demo_users(s)  # e.g. a database carried over from a demo installation
    client = production.test_client()
    assert _login(client, "city", user_accounts.DEMO_PASSWORD).status_code == 401
    assert client.get("/admin/users").status_code == 302


def test_create_admin_works_in_production(production):
    result = production.test_cli_runner().invoke(
        args=["create-admin", "chief", "--password-stdin"], input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    client = production.test_client()
    assert _login(client, "chief").status_code == 302
    with production.extensions["db"].unit_of_work() as s:
        assert s.scalars(select(LoginEvent.message)).all() == ["登录成功"]


# --- CSRF on cookie-authenticated API writes ------------------------------------------------
@pytest.fixture
def csrf_app(migrated):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "WTF_CSRF_ENABLED": True})

    @api_token_required
    def probe():
        from flask import g

        return jsonify(client=g.api_client.name if g.api_client else None,
                       user=g.api_user.username if g.api_user else None)

    app.add_url_rule("/api/v1/_probe", "api_probe", probe, methods=["GET", "POST", "DELETE"])
    yield app
    with app.extensions["db"].Session.begin() as s:
        reference_data.clear_all(s)
    app.extensions["db"].engine.dispose()


def _token_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def test_cookie_api_writes_need_the_csrf_header_token_writes_do_not(csrf_app):
    with csrf_app.extensions["db"].unit_of_work() as s:
        admin = user_accounts.create_user(s, "alice", PASSWORD, "测试用户", "city_admin")
        _client, token = user_accounts.create_api_client(s, "平台", admin)
    browser = csrf_app.test_client()
    login_token = _token_of(browser.get("/login").get_data(as_text=True))
    assert browser.post("/login", data={"username": "alice", "password": PASSWORD,
                                        "csrf_token": login_token}).status_code == 302
    page_token = _token_of(browser.get("/account").get_data(as_text=True))
    assert browser.get("/api/v1/_probe").json == {"client": None, "user": "alice"}
    for method in ("post", "delete"):
        refused = getattr(browser, method)("/api/v1/_probe", json={})
        assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
        assert "安全令牌" in refused.json["detail"]
        ok = getattr(browser, method)("/api/v1/_probe", json={},
                                      headers={"X-CSRFToken": page_token})
        assert ok.status_code == 200 and ok.json["user"] == "alice"
    machine = csrf_app.test_client()
    resp = machine.post("/api/v1/_probe", json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json == {"client": "平台", "user": None}
    # a real write of the API: refused for the cookie without the header, checked with it
    bare = browser.post("/api/v1/demands", json={})
    assert bare.status_code == 400 and "安全令牌" in bare.json["detail"]
    checked = browser.post("/api/v1/demands", json={}, headers={"X-CSRFToken": page_token})
    assert checked.status_code == 422 and checked.json["field"] == "title"
    by_token = machine.post("/api/v1/demands", json={},
                            headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == 422 and by_token.json["field"] == "title"  # no CSRF asked


def test_openapi_declares_problem_json_errors_and_both_security_schemes(client):
    spec = client.get("/api/v1/openapi.json").json
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "session"
    assert {"cookieAuth": []} in spec["security"] and {"bearerAuth": []} in spec["security"]
    errors = 0
    for ops in spec["paths"].values():
        for op in ops.values():
            for code, resp in op.get("responses", {}).items() if isinstance(op, dict) else ():
                if "$ref" in resp:
                    resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[-1]]
                if code == "default" or code.startswith(("4", "5")):
                    assert list(resp["content"]) == ["application/problem+json"], code
                    errors += 1
    assert errors >= 14
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status", "detail"}
    served = client.get("/api/v1/demands")  # no token: the problem document it promises
    assert served.status_code == 401 and served.mimetype == "application/problem+json"
    assert {"title", "status", "detail"} <= set(served.json)
