"""CSRF, rate limits, security headers and URL helpers (`safe_url`, `url_with`, `is_safe_next`).

Sign-in, sessions, the password policy, API tokens and the view decorators live in ``app/auth/``;
scoping, access, contact masking and status groups in ``app/policy/``: import them from there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, request, url_for
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from .auth import login_sessions
from .errors import wants_json
from .policy.privacy import mask_email, mask_phone
from .policy.roles import ROLE_LABELS
from .policy.statuses import STATUS_LABELS

CSRF_MESSAGE = "页面已过期或缺少安全令牌，请刷新页面后重试。"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


# --- init_app -----------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    """Install sign-in and sessions, CSRF protection, the rate limiter and the security headers."""
    cfg = app.config
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    cfg.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    if cfg.get("ENV") == "production" and "SESSION_COOKIE_SECURE" not in _env_overrides():
        cfg["SESSION_COOKIE_SECURE"] = True
    cfg.setdefault("REMEMBER_COOKIE_SECURE", cfg.get("SESSION_COOKIE_SECURE", False))
    cfg.setdefault("RATELIMIT_ENABLED", True)
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", True)

    login_sessions.init_app(app)

    # CSRF on every form except the API under /api/ (its decorator checks cookie writes).
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

    # Rate limits of other endpoints (sign-in has its own shared throttle in app/auth/).
    limiter = Limiter(
        key_func=_client_ip,
        app=app,
        storage_uri=cfg.get("RATELIMIT_STORAGE_URI") or "memory://",
        default_limits=[],
    )
    app.extensions["app_limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        from .errors import _problem, _render

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
        ROLE_LABELS=ROLE_LABELS, STATUS_LABELS=STATUS_LABELS,
    )
    from .auth.commands import init_app as init_cli

    init_cli(app)


def _env_overrides() -> dict:
    from .config import from_environment

    return from_environment()


def _client_ip() -> str:
    return request.remote_addr or "unknown"


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
    """Return url_for(endpoint) (a path is returned as it is); a mistyped endpoint fails loudly."""
    if endpoint.startswith("/"):
        return endpoint
    return url_for(endpoint, **values)


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
