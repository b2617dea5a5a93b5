"""Sign in and sign out; every attempt goes to the login log (登录日志)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from models import LoginEvent

from ..db import get_session
from ..security import is_safe_next, limit_view, login_required
from ..services import accounts
from ..services.audit import audit

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint and put the login rate limit on POST /login."""
    app.register_blueprint(bp)
    limit_view(app, "auth.login", "RATELIMIT_LOGIN", ["POST"])


def _log(username: str, success: bool, message: str) -> None:
    get_session().add(LoginEvent(
        username=(username or "")[:40], success=success, ip=(request.remote_addr or "")[:45],
        user_agent=(request.user_agent.string or "")[:300], message=message[:200]))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    next_url = request.values.get("next")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_url if is_safe_next(next_url) else url_for("home.index"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url)
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    db = get_session()
    if not username or not password:
        _log(username, False, "用户名或密码为空")
        db.commit()
        return render_template("auth/login.html", error="请输入用户名和密码。",
                               username=username, next=next_url), 400
    user = accounts.authenticate(db, username, password)
    if user is None:
        _log(username, False, "用户名或密码错误")
        db.commit()
        return render_template("auth/login.html", error="用户名或密码错误。",
                               username=username, next=next_url), 401
    session.clear()  # a fresh session on sign-in (no fixation)
    login_user(user, remember=bool(request.form.get("remember")))
    session.permanent = True
    _log(username, True, "登录成功")
    db.commit()
    return redirect(next_url if is_safe_next(next_url) else url_for("home.index"))


@bp.post("/logout")
@login_required
def logout():
    """Sign out."""
    db = get_session()
    audit(db, "logout", "user", current_user.id)
    db.commit()
    logout_user()
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("auth.login"))
