"""The JSON API under /api/v1 (flask-smorest): demands, experts, matches and ranking.

Authentication: ``Authorization: Bearer <token>`` of an ApiClient (the city's platform and other
systems), or the session of a signed-in user. API clients read published demands only, push
experts and rank; users act with their role and scope through the workflow services. Errors are
``application/problem+json`` (see app/errors.py), validation errors name the failing field.
The OpenAPI document is /api/v1/openapi.json, the browsable page /api/v1/docs (Swagger UI served
from app/static/vendor/swagger-ui, no CDN).

This package holds the blueprint `bp`, the flask-smorest setup and the helpers the routes share;
the marshmallow schemas are in `schemas`, the routes in `demand_api` (with ranking),
`expert_api` and `match_api`, imported by `register()` when the app is configured.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, url_for
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser

from models import Institution, TechField

from ...errors import DomainError, Forbidden
from ...policy import access
from ...services.listing import count_rows
from .schemas import ProblemSchema

PREFIX = "/api/v1"
# Route modules in registration order (the order of the OpenAPI document's paths).
ROUTE_MODULES = ("demand_api", "expert_api", "match_api")


# --- errors: validation problems in Chinese, naming the field --------------------------------
class ValidationProblem(DomainError):
    """Query or body parameters failed validation (422)."""

    status = 422


def _first_field(messages: Any, path: str = "") -> str | None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "querystring", "form", "view_args"):
                return _first_field(value, path)
            name = f"{path}.{key}" if path else str(key)
            deeper = _first_field(value, name)
            return deeper or name
    return path or None


def _first_message(messages: Any) -> str:
    if isinstance(messages, dict):
        for value in messages.values():
            return _first_message(value)
    if isinstance(messages, list) and messages:
        return _first_message(messages[0])
    return str(messages)


class ChineseParser(FlaskParser):
    """Raise a problem+json 422 naming the first failing field instead of webargs' abort."""

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):  # noqa: ANN001
        field = _first_field(error.messages)
        raise ValidationProblem(f"参数「{field}」有误：{_first_message(error.messages)}",
                                field=field, errors=[error.messages])

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):  # noqa: ANN001
        raise DomainError("请求体不是有效的 JSON。", field="body")


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with the Chinese parser."""

    ARGUMENTS_PARSER = ChineseParser()


PROBLEM_JSON = "application/problem+json"


class LocalApi(Api):
    """flask-smorest Api that leaves error handling to app/errors.py and serves a CSP-clean UI."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # app/errors.py already answers problem+json under /api/ and HTML elsewhere.
        return None

    def _register_responses(self) -> None:
        # Document the error responses with the media type app/errors.py sends.
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default

    def _openapi_swagger_ui(self):
        base = self._swagger_ui_url
        html = (
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{self.spec.title}</title>"
            f"<link rel=\"stylesheet\" href=\"{base}swagger-ui.css\"></head><body>"
            "<div id=\"swagger-ui\"></div>"
            f"<script src=\"{base}swagger-ui-bundle.js\"></script>"
            f"<script src=\"{base}swagger-ui-standalone-preset.js\"></script>"
            f"<script src=\"{url_for('api_docs_init')}\"></script>"
            "</body></html>"
        )
        return Response(html, mimetype="text/html")


bp = ApiBlueprint("api", __name__, url_prefix=PREFIX,
                  description="需求、专家、对接与匹配接口（令牌认证）")


# --- helpers ------------------------------------------------------------------------------------
def _user() -> Any:
    """Return the signed-in user of this API call, or None for an API client."""
    return getattr(g, "api_user", None)


def _need_user() -> Any:
    user = _user()
    if user is None:
        raise Forbidden("API 令牌只能读取已发布需求、推送专家和查询匹配；"
                        "该操作需要以用户身份登录。")
    return user


def _paged(query, args: dict, session, item: Callable[[Any], dict],
           collection: str | None = None) -> dict:
    """Return the page ``args`` asks for of ``query`` as a list payload, rows dumped by ``item``
    (``collection``: the data version of the rows, to cache the total: ``count_rows``)."""
    total = count_rows(session, query, collection)
    rows = session.scalars(query.limit(args["per_page"])
                           .offset((args["page"] - 1) * args["per_page"])).unique().all()
    return {"items": [item(row) for row in rows], "page": args["page"],
            "per_page": args["per_page"], "total": int(total or 0)}


def _check_field(session, field_id: int | None, name: str = "field") -> None:
    if field_id is not None and session.get(TechField, field_id) is None:
        raise ValidationProblem(f"参数「{name}」有误：技术领域 {field_id} 不存在。", field=name)


def _check_institution(session, inst_id: int | None, name: str = "institution") -> None:
    if inst_id is not None and session.get(Institution, inst_id) is None:
        raise ValidationProblem(f"参数「{name}」有误：单位 {inst_id} 不存在。", field=name)


def require_scope(scope: str) -> None:
    """Refuse an API token without `scope` (signed-in users are judged by their role)."""
    if g.api_client is not None and not access.token_allows(g.api_client, scope):
        label = access.TOKEN_SCOPES[scope]
        raise Forbidden(f"该 API 令牌没有「{label}」权限，请联系市科技局开通。")


# --- docs page script (no inline script: the CSP forbids it) ---------------------------------
def docs_init():
    """Start Swagger UI on the OpenAPI document."""
    spec = json.dumps(url_for("api-docs.openapi_json"))
    body = (
        "window.addEventListener('load', function () {\n"
        f"  window.ui = SwaggerUIBundle({{url: {spec}, dom_id: '#swagger-ui',\n"
        "    presets: [SwaggerUIBundle.presets.apis], deepLinking: true});\n"
        "});\n"
    )
    return Response(body, mimetype="text/javascript")


# --- registration -------------------------------------------------------------------------------
def register() -> None:
    """Import the route modules so that their routes are on `bp` (once; later calls are no-ops)."""
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def init_app(app: Flask) -> None:
    """Configure flask-smorest, serve the OpenAPI document and the docs page, register `bp`."""
    static = app.static_url_path or "/static"
    defaults = {
        "API_TITLE": "武汉市科技成果转化联络服务 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": f"{static}/vendor/swagger-ui/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "令牌认证：Authorization: Bearer <token>；或已登录浏览器的会话 "
                                    "Cookie，其写操作须在 X-CSRFToken 请求头中带页面的 CSRF 令牌。"
                                    "错误以 application/problem+json 返回。"},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session",
                               "description": "登录后的会话；写操作另需 X-CSRFToken 请求头"}}},
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        },
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)
    register()
    api = LocalApi(app)
    api.register_blueprint(bp)
    app.add_url_rule(f"{PREFIX}/docs/init.js", "api_docs_init", docs_init)
    app.extensions["api"] = api
