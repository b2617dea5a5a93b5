"""Sign in and sign out; every attempt goes to the login log (登录日志) in its own unit of work."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user

from ..auth.decorators import login_required
from ..auth.login_sessions import record_login, sign_in, throttle
from ..db import get_session
from ..security import is_safe_next
from ..services import user_accounts

bp = Blueprint("auth", __name__)

BLOCKED = {
    "account": "该账号登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试。",
    "address": "本机登录尝试过于频繁，请 {minutes} 分钟后再试。",
}


def _form(status: int, error: str, username: str, next_url: str | None):
    return render_template("auth/login.html", error=error, username=username,
                           next=next_url), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in (failures throttled per account and address)."""
    next_url = request.values.get("next")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url if is_safe_next(next_url) else url_for("home.index"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    address = request.remote_addr or ""
    gate = throttle()
    blocked = gate.blocked(username, address) if gate else None
    if blocked:
        record_login(username, False, "登录尝试过于频繁，已拒绝")
        minutes = max(1, gate.limits.window // 60)
        return _form(429, BLOCKED[blocked].format(minutes=minutes), username, next_url)
    if not username or not password:
        record_login(username, False, "用户名或密码为空")
        return _form(400, "请输入用户名和密码。", username, next_url)
    user = user_accounts.authenticate(get_session(), username, password,
                                 production=current_app.config["ENV"] == "production")
    if user is None:
        if gate:
            gate.failed(username, address)
        record_login(username, False, "用户名或密码错误")
        return _form(401, "用户名或密码错误。", username, next_url)
    if gate:
        gate.succeeded(username)
    sign_in(user, remember=bool(request.form.get("remember")))
    record_login(username, True, "登录成功")
    return redirect(next_url if is_safe_next(next_url) else url_for("home.index"))


@bp.post("/logout")
@login_required
def logout():
    """Sign out and end every other session of this account."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    user_accounts.sign_out(get_session(), user)
    logout_user()
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("auth.login"))
