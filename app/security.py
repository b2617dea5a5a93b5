"""Sign-in, CSRF, rate limits, security headers, role gates, API tokens, scoping and masking.

Page authors call: `roles_required`, `api_token_required`, `demand_filter`, `can_see_demand`,
`can_see_contact`, `can_see_expert_contact`, `reveal_contact`, `mask_phone`, `mask_email`,
`safe_url` (also a Jinja global) and `hash_password` / `check_password`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import AnonymousUserMixin, LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from werkzeug.security import check_password_hash, generate_password_hash

from models import ApiClient, User, utcnow

from .db import get_session
from .errors import Forbidden, wants_json
from .policy.roles import DISTRICT_ROLES as _DISTRICT_ROLES
from .policy.roles import ROLE_LABELS
from .policy.statuses import PUBLIC_DEMAND_STATUSES

F = TypeVar("F", bound=Callable[..., Any])

DISTRICT_ROLES = tuple(sorted(_DISTRICT_ROLES))
PUBLIC_STATUSES = PUBLIC_DEMAND_STATUSES
LOGIN_MESSAGE = "请先登录后再访问该页面。"
RATE_LIMIT_MESSAGE = "登录尝试过于频繁，请稍后再试。"
CSRF_MESSAGE = "页面已过期或缺少安全令牌，请刷新页面后重试。"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


# --- Flask-Login on the plain model ---------------------------------------------------------
# models/ must not import flask_login, so the four members Flask-Login reads are added here.
User.is_authenticated = property(lambda self: True)  # type: ignore[attr-defined]
User.is_anonymous = property(lambda self: False)  # type: ignore[attr-defined]
User.is_active = property(lambda self: bool(self.active))  # type: ignore[attr-defined]
User.get_id = lambda self: str(self.id)  # type: ignore[attr-defined]
User.role_label = property(lambda self: ROLE_LABELS.get(self.role, self.role))  # type: ignore[attr-defined]


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


# --- passwords --------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """Hash a password with werkzeug (scrypt)."""
    return generate_password_hash(password)


def check_password(pw_hash: str, password: str) -> bool:
    """Check a password against its hash."""
    return check_password_hash(pw_hash, password)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which an API token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- init_app -----------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    """Install Flask-Login, CSRF protection, the rate limiter and the security headers."""
    cfg = app.config
    cfg.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=8))
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    cfg.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=7))
    if cfg.get("ENV") == "production" and "SESSION_COOKIE_SECURE" not in _env_overrides():
        cfg["SESSION_COOKIE_SECURE"] = True
    cfg.setdefault("REMEMBER_COOKIE_SECURE", cfg.get("SESSION_COOKIE_SECURE", False))
    cfg.setdefault("RATELIMIT_ENABLED", True)
    cfg.setdefault("RATELIMIT_LOGIN", "10 per minute")
    cfg.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", True)

    # Flask-Login
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = LOGIN_MESSAGE
    manager.login_message_category = "warning"
    manager.session_protection = "basic"
    manager.anonymous_user = AnonymousUser
    manager.init_app(app)

    @manager.user_loader
    def _load(user_id: str) -> User | None:
        try:
            user = get_session().get(User, int(user_id))
        except (TypeError, ValueError):
            return None
        return user if user is not None and user.active else None

    @manager.unauthorized_handler
    def _unauthorized():
        if wants_json():
            from .errors import _problem

            resp = _problem(401, "请先登录", "需要登录或提供有效的 API 令牌。")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return resp
        flash(LOGIN_MESSAGE, "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    # CSRF on every form except the token-authenticated API under /api/.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf = CSRFProtect(app)
    app.extensions["csrf_protect"] = csrf

    @app.before_request
    def _csrf():
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        if request.path.startswith("/api/"):
            return None
        csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        from .errors import _problem, _render

        if wants_json():
            return _problem(400, "请求有误", CSRF_MESSAGE)
        return _render(400, CSRF_MESSAGE)

    # Rate limits: one limiter per app (tests build many apps); limits are attached by views.
    limiter = Limiter(
        key_func=_client_ip,
        app=app,
        storage_uri=cfg["RATELIMIT_STORAGE_URI"],
        default_limits=[],
    )
    app.extensions["app_limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        from .errors import _problem, _render

        if request.endpoint == "auth.login" and not wants_json():
            _log_rate_limited()
            return render_template("auth/login.html", error=RATE_LIMIT_MESSAGE,
                                   username=request.form.get("username", "")), 429
        if wants_json():
            return _problem(429, "请求过于频繁", "操作过于频繁，请稍后再试。")
        return _render(429, "操作过于频繁，请稍后再试。")

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)  # a view may set a stricter/looser one
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user and getattr(current_user, "is_authenticated", False):
            h.setdefault("Cache-Control", "no-store")
        return resp

    app.jinja_env.globals.update(
        safe_url=safe_url, url_with=url_with, mask_phone=mask_phone, mask_email=mask_email,
        ROLE_LABELS=ROLE_LABELS,
    )


def _env_overrides() -> dict:
    from .config import from_environment

    return from_environment()


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _log_rate_limited() -> None:
    from models import LoginEvent

    session = get_session()
    session.add(LoginEvent(username=(request.form.get("username") or "")[:40], success=False,
                           ip=_client_ip()[:45], user_agent=(request.user_agent.string or "")[:300],
                           message="登录尝试过于频繁，已拒绝"))
    session.commit()


def limit_view(app: Flask, endpoint: str, limit_config_key: str, methods: list[str]) -> None:
    """Put the rate limit `app.config[limit_config_key]` on an already registered endpoint."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    limiter: Limiter = app.extensions["app_limiter"]
    view = app.view_functions[endpoint]
    app.view_functions[endpoint] = limiter.limit(
        lambda: current_app.config[limit_config_key], methods=methods
    )(view)


# --- URLs ---------------------------------------------------------------------------------------
def safe_url(endpoint: str, **values: Any) -> str:
    """Return url_for(endpoint), or '#' when that page does not exist (yet)."""
    if endpoint.startswith("/"):
        return endpoint
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return "#"


def url_with(**changes: Any) -> str:
    """Return the current URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode(args, doseq=True)
    return request.path + ("?" + query if query else "")


def is_safe_next(target: str | None) -> bool:
    """Return whether a ?next= target stays on this site."""
    if not target:
        return False
    parts = urlsplit(target)
    return (not parts.scheme and not parts.netloc and target.startswith("/")
            and not target.startswith("//") and "\\" not in target)


# --- decorators ---------------------------------------------------------------------------------
def roles_required(*roles: str) -> Callable[[F], F]:
    """Let signed-in users with one of `roles` in; others get 403, visitors the login page."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if roles and current_user.role not in roles:
                raise Forbidden("您的角色无权访问该页面或执行该操作。")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def login_required(view: F) -> F:
    """Let any signed-in user in (same as roles_required() without roles)."""
    return roles_required()(view)


_BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


def api_token_required(view: F) -> F:
    """Accept `Authorization: Bearer <token>` of an active ApiClient, or a signed-in user.

    Sets `g.api_client` (ApiClient or None) and `g.api_user` (the session user or None).
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        g.api_client = None
        g.api_user = None
        header = request.headers.get("Authorization", "")
        match = _BEARER.match(header.strip())
        if match:
            client = authenticate_token(get_session(), match.group(1))
            if client is None:
                return _token_problem("API 令牌无效或已停用。")
            g.api_client = client
        elif current_user.is_authenticated:
            g.api_user = current_user._get_current_object()  # type: ignore[attr-defined]
        else:
            return _token_problem("需要提供 API 令牌：Authorization: Bearer <token>。")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def authenticate_token(session: Session, token: str) -> ApiClient | None:
    """Return the active ApiClient of a plain token and stamp its last use, else None."""
    client = session.scalar(select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None or not client.active:
        return None
    now = utcnow()
    last = client.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or (now - last).total_seconds() > 60:
        client.last_used_at = now
        session.commit()  # a separate, tiny write before the view runs
    return client


def _token_problem(detail: str):
    from .errors import _problem

    resp = _problem(401, "请先登录", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return resp


# --- scope and privacy live in app/policy; these names stay importable from here ----------
from .policy.access import can_view_demand as can_see_demand  # noqa: E402
from .policy.privacy import can_read_expert_contact as can_see_expert_contact  # noqa: E402
from .policy.privacy import can_see_contact, mask_email, mask_phone  # noqa: E402
from .policy.scope import demand_scope as demand_filter  # noqa: E402
from .services.contacts import reveal_contact  # noqa: E402

__all__ = ["can_see_contact", "can_see_demand", "can_see_expert_contact", "demand_filter",
           "mask_email", "mask_phone", "reveal_contact"]
