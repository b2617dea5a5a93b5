"""No known secret key; 8-hour sessions ended by logout, password change and reset; throttling."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from app import create_app
from app.config import PUBLISHED_KEYS, instance_secret_key
from app.services import reference_data, user_accounts
from models import LoginEvent, LoginFailure, User
from tests.conftest import ROOT, TEST_CONFIG

PASSWORD = "Harbor-lamp-42"
NEW_PASSWORD = "Quiet-river-77"


def _user(app, username="alice", role="city_admin") -> User:
    with app.extensions["db"].unit_of_work() as s:
        return user_accounts.create_user(s, username, PASSWORD, "测试用户", role)


def _login(client, username="alice", password=PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def _forge(key: str, payload: dict) -> str:
    """Sign a session cookie the way Flask does, with `key`."""
    forger = Flask("forger")
    forger.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(forger).dumps(payload)


@pytest.fixture
def app_factory(migrated):
    """Build extra apps on the test database (they stand for other workers or hosts)."""
    made = []

    def make(**config):
        application = create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, **config})
        made.append(application)
        return application

    yield make
    if made:
        with made[0].extensions["db"].Session.begin() as s:
            reference_data.clear_all(s)
    for application in made:
        application.extensions["db"].engine.dispose()


# --- no known key -------------------------------------------------------------------------
def test_instance_secret_key_is_random_private_and_reused(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    first = instance_secret_key(path)
    assert len(first) == 64 and first not in PUBLISHED_KEYS
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert instance_secret_key(path) == first  # reused on the next start
    assert instance_secret_key(tmp_path / "other") != first


def _scripts_run_secret() -> str:
    """Run the line of ./scripts/run that provides SECRET_KEY, without one in the environment."""
    line = next(x for x in (ROOT / "scripts" / "run").read_text().splitlines()
                if x.startswith("export SECRET_KEY="))
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    out = subprocess.run(["bash", "-c", f'{line}\necho "$SECRET_KEY"'], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def test_forged_cookie_with_the_old_committed_key_is_refused(app_factory):
    key = _scripts_run_secret()
    assert key and key != "dev-only-not-secret" and _scripts_run_secret() == key
    assert stat.S_IMODE(os.stat(ROOT / "instance" / "secret_key").st_mode) == 0o600
    config = {k: v for k, v in TEST_CONFIG.items() if k != "SECRET_KEY"}
    app = app_factory(**config, SECRET_KEY=key)  # as ./scripts/run configures it
    admin = _user(app)
    client = app.test_client()
    for user_id in ("1", f"{admin.id}", f"{admin.id}:1", "1:1"):
        client.set_cookie("session", _forge("dev-only-not-secret",
                                            {"_user_id": user_id, "_fresh": True}))
        resp = client.get("/admin/users")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), user_id
        api = client.get("/api/v1/demands", headers={"Accept": "application/json"})
        assert api.status_code == 401
    # the same forgery with the real key opens the page: the refusal above is the key's doing
    client.set_cookie("session", _forge(key, {"_user_id": admin.get_id(), "_fresh": True}))
    assert client.get("/admin/users").status_code == 200


@pytest.mark.parametrize("key", [None, "", "dev-only-not-secret", "change-me", "short-key-1"])
def test_production_refuses_a_missing_published_or_short_key(migrated, monkeypatch, key):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, "ENV": "production",
                    "SECRET_KEY": key})


def test_production_starts_with_a_random_key(app_factory):
    app = app_factory(ENV="production", SECRET_KEY="k" * 8 + os.urandom(16).hex())
    assert app.config["SESSION_COOKIE_SECURE"] is True


# --- lifetime and session versions ----------------------------------------------------------
def _expires(resp, name: str) -> datetime:
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith(name + "="))
    return parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))


def test_session_and_remember_cookie_last_eight_hours(app, client):
    assert app.permanent_session_lifetime == timedelta(hours=8)
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(hours=8)
    _user(app)
    resp = _login(client, remember="1")
    now = datetime.now(UTC)
    for name in ("session", "remember_token"):
        left = _expires(resp, name) - now
        assert timedelta(hours=7, minutes=58) < left <= timedelta(hours=8), name


def test_session_older_than_eight_hours_is_refused(app, client, monkeypatch):
    _user(app)
    _login(client)
    assert client.get("/").status_code == 200
    import itsdangerous.timed

    later = datetime.now(UTC).timestamp() + 8 * 3600 + 60
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert client.get("/").status_code == 302


def test_logout_ends_every_other_session_of_the_account(app):
    _user(app)
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop)
    _login(phone, remember="1")
    assert laptop.get("/").status_code == 200 and phone.get("/").status_code == 200
    assert laptop.post("/logout").status_code == 302
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302  # its session and its remember cookie both ended
    _login(phone)
    assert phone.get("/").status_code == 200  # a new sign-in works


def test_remember_cookie_alone_restores_until_the_version_changes(app):
    _user(app)
    browser, other = app.test_client(), app.test_client()
    _login(browser, remember="1")
    remember = browser.get_cookie("remember_token").value
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    assert fresh.get("/").status_code == 200  # browser closed and reopened
    _login(other)
    other.post("/logout")
    again = app.test_client()
    again.set_cookie("remember_token", remember)
    assert again.get("/").status_code == 302


def test_own_password_change_keeps_this_session_and_ends_the_others(app):
    _user(app)
    here, there = app.test_client(), app.test_client()
    _login(here, remember="1")
    _login(there)
    resp = here.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                                  "password2": NEW_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/account"
    assert here.get("/account").status_code == 200
    assert there.get("/").status_code == 302
    assert _login(app.test_client()).status_code == 401
    assert _login(app.test_client(), password=NEW_PASSWORD).status_code == 302


def test_admin_reset_ends_the_users_sessions(app):
    _user(app, "admin1")
    target = _user(app, "bob", role="city_admin")
    admin, bob = app.test_client(), app.test_client()
    _login(admin, "admin1")
    _login(bob, "bob")
    assert bob.get("/").status_code == 200
    resp = admin.post(f"/admin/users/{target.id}/password",
                      data={"mode": "set", "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert resp.status_code == 302
    assert bob.get("/").status_code == 302
    assert admin.get("/admin/users").status_code == 200


def test_cookie_without_a_session_version_is_refused(app, client):
    user = _user(app)
    with client.session_transaction() as s:
        s["_user_id"] = str(user.id)  # the format before session versions
        s["_fresh"] = True
    assert client.get("/").status_code == 302


# --- throttling shared by workers and hosts ------------------------------------------------
def _failures(app) -> int:
    with app.extensions["db"].unit_of_work() as s:
        return s.scalar(select(func.count(LoginFailure.id)))


def test_two_app_instances_on_one_database_share_the_account_counter(app_factory):
    first = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ACCOUNT=3)
    second = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ACCOUNT=3)
    _user(first)
    a, b = first.test_client(), second.test_client()
    assert [_login(c, password="wrong-pass1").status_code for c in (a, b, a)] == [401] * 3
    assert _failures(first) == 6  # one row for the account, one for the address, each time
    resp = _login(b)  # the right password, on the other instance: refused
    assert resp.status_code == 429
    assert "该账号登录失败次数过多" in resp.get_data(as_text=True)
    assert _login(a).status_code == 429
    with second.extensions["db"].unit_of_work() as s:
        messages = list(s.scalars(select(LoginEvent.message).order_by(LoginEvent.id)))
    assert messages == ["用户名或密码错误"] * 3 + ["登录尝试过于频繁，已拒绝"] * 2


def test_two_app_instances_share_the_address_counter(app_factory):
    first = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ADDRESS=4)
    second = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ADDRESS=4)
    _user(first)
    a, b = first.test_client(), second.test_client()
    codes = [_login(c, f"guess{i}", "wrong-pass1").status_code
             for i, c in enumerate((a, b, a, b))]
    assert codes == [401] * 4
    assert _login(b).status_code == 429  # a fifth attempt from the same address, any account
    other = second.test_client()
    resp = other.post("/login", data={"username": "alice", "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert resp.status_code == 302  # another address and a clean account get in


def test_success_resets_the_account_counter(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ACCOUNT=3)
    _user(app)
    client = app.test_client()
    for _ in range(2):
        assert _login(client, password="wrong-pass1").status_code == 401
    assert _login(client).status_code == 302
    client.post("/logout")
    for _ in range(2):
        assert _login(client, password="wrong-pass1").status_code == 401
    assert _login(client).status_code == 302  # 2 + 2 failures never reached 3 in a row


def test_a_limits_storage_uri_is_used_when_configured(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_MAX_FAILURES_PER_ACCOUNT=2,
                      RATELIMIT_STORAGE_URI="memory://")
    _user(app)
    client = app.test_client()
    assert [_login(client, password="wrong-pass1").status_code for _ in range(2)] == [401, 401]
    assert _login(client).status_code == 429
    assert _failures(app) == 0  # counted in the configured store, not the table
