"""View decorators: role gates for pages, token-or-session authentication for the API.

A signed-in browser that writes through the API (POST, PUT, PATCH, DELETE under /api/) must send
the page's CSRF token in the ``X-CSRFToken`` header; a request with ``Authorization: Bearer`` is
not driven by a browser's cookies and needs none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_login import current_user

from ..db import get_session
from ..errors import Forbidden
from .tokens import authenticate_token

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BEARER = re.compile(r"^Bearer\s+(\S+)$", re.IGNORECASE)


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


def api_token_required(view: F) -> F:
    """Accept `Authorization: Bearer <token>` of an active ApiClient, or a signed-in user.

    Sets `g.api_client` (ApiClient or None) and `g.api_user` (the session user or None). A
    signed-in user's writes need the CSRF token in the X-CSRFToken header (CSRFError, 400).
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        g.api_client = None
        g.api_user = None
        match = _BEARER.match(request.headers.get("Authorization", "").strip())
        if match:
            client = authenticate_token(get_session(), match.group(1))
            if client is None:
                return _token_problem("API 令牌无效或已停用。")
            g.api_client = client
        elif current_user.is_authenticated:
            if request.method not in SAFE_METHODS and current_app.config.get(
                    "WTF_CSRF_ENABLED", True):
                current_app.extensions["csrf_protect"].protect()
            g.api_user = current_user._get_current_object()  # type: ignore[attr-defined]
        else:
            return _token_problem("需要提供 API 令牌：Authorization: Bearer <token>。")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _token_problem(detail: str):
    from ..errors import _problem

    resp = _problem(401, "请先登录", detail)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return resp
