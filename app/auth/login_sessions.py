"""Sessions: Flask-Login on the plain User model, a session version in every cookie, the login log.

The id that Flask-Login keeps in the session cookie and in the remember cookie is
``"<user id>:<session version>"``. Logout, a password change and an admin's reset bump the
version (``services.user_accounts.end_sessions``), so every cookie issued before stops loading a
user.
Both the session (refreshed on each request) and the remember cookie last 8 hours (app/config.py).
"""

from __future__ import annotations

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, LoginManager, login_user

from models import LoginEvent, User

from ..db import get_db, get_session
from ..errors import wants_json
from ..policy.roles import ROLE_LABELS
from .throttle import Limits, LoginThrottle, make_throttle

LOGIN_MESSAGE = "请先登录后再访问该页面。"

# models/ must not import flask_login, so the members Flask-Login reads are added here.
User.is_authenticated = property(lambda self: True)  # type: ignore[attr-defined]
User.is_anonymous = property(lambda self: False)  # type: ignore[attr-defined]
User.is_active = property(lambda self: bool(self.active))  # type: ignore[attr-defined]
User.role_label = property(lambda self: ROLE_LABELS.get(self.role, self.role))  # type: ignore[attr-defined]


def session_id(user: User) -> str:
    """Return the id kept in this user's cookies: user id and session version."""
    return f"{user.id}:{user.session_version or 1}"


User.get_id = session_id  # type: ignore[attr-defined]


def parse_session_id(value: str | None) -> tuple[int, int] | None:
    """Split a cookie's "<id>:<version>"; None for anything else (e.g. a pre-version cookie)."""
    user_id, sep, version = (value or "").partition(":")
    if not sep or not user_id.isdigit() or not version.isdigit():
        return None
    return int(user_id), int(version)


class AnonymousUser(AnonymousUserMixin):
    """The visitor who has not signed in: no role, no scope."""

    id = None
    role = None
    role_label = ""
    display_name = "访客"
    username = ""
    district_id = None
    institution_id = None
    liaison_id = None


def init_app(app: Flask) -> None:
    """Install Flask-Login and the shared failed-login throttle (lifetimes: app/config.py)."""
    cfg = app.config
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = LOGIN_MESSAGE
    manager.login_message_category = "warning"
    manager.session_protection = "basic"
    manager.anonymous_user = AnonymousUser
    manager.init_app(app)

    @manager.user_loader
    def _load(value: str) -> User | None:
        parsed = parse_session_id(value)
        if parsed is None:
            return None
        user = get_session().get(User, parsed[0])
        if user is None or not user.active or (user.session_version or 1) != parsed[1]:
            return None
        return user

    @manager.unauthorized_handler
    def _unauthorized():
        if wants_json():
            from ..errors import _problem

            resp = _problem(401, "请先登录", "需要登录或提供有效的 API 令牌。")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return resp
        flash(LOGIN_MESSAGE, "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    limits = Limits(per_account=int(cfg.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)),
                    per_address=int(cfg.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
                    window=int(cfg.get("LOGIN_FAILURE_WINDOW", 900)))
    database = app.extensions["db"]
    app.extensions["login_throttle"] = make_throttle(
        database.unit_of_work, cfg.get("RATELIMIT_STORAGE_URI"), limits)


def throttle() -> LoginThrottle | None:
    """Return this app's failed-login throttle, or None when rate limits are switched off."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    return current_app.extensions["login_throttle"]


def sign_in(user: User, remember: bool) -> None:
    """Start a fresh session for `user` (no fixation), 8 hours from its last request."""
    session.clear()
    login_user(user, remember=remember)
    session.permanent = True


def keep_current_session(user: User) -> None:
    """Re-issue this browser's cookies after the user's session version was bumped."""
    remembered = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME",
                                                                 "remember_token")))
    login_user(user, remember=remembered)
    session.permanent = True


def record_login(username: str, success: bool, message: str) -> None:
    """Write a login-log row in its own unit of work (a refused sign-in rolls the request back)."""
    with get_db().unit_of_work() as uow:
        uow.add(LoginEvent(username=(username or "")[:40], success=success,
                           ip=(request.remote_addr or "")[:45],
                           user_agent=(request.user_agent.string or "")[:300],
                           message=message[:200]))
