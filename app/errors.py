"""Domain exceptions and the one place that turns them into JSON or HTML.

The exceptions need no Flask (services raise them); the handlers import it when registered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the service was broken; `message` is shown to the user in Chinese."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, errors: list | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or []


class NotFound(DomainError):
    """The thing does not exist, or the user may not know that it does."""

    status = 404


class Forbidden(DomainError):
    """The user's role may not do this."""

    status = 403


class Conflict(DomainError):
    """The change clashes with the current state (for example an illegal transition)."""

    status = 409


class ImportFailed(DomainError):
    """An import file has errors; nothing was written."""

    status = 422


def wants_json() -> bool:
    """Return whether the client is an API client rather than a browser."""
    from flask import request

    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


def _problem(status: int, title: str, detail: str, **extra) -> tuple:
    from flask import jsonify

    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


TITLES = {400: "请求有误", 401: "请先登录", 403: "无权操作", 404: "未找到", 405: "不支持的方法",
          409: "状态冲突", 413: "请求内容过大", 422: "数据校验未通过", 429: "请求过于频繁",
          500: "服务器内部错误"}


def _render(status: int, detail: str):
    from flask import render_template

    try:
        return render_template("error.html", status=status, title=TITLES.get(status, "出错了"),
                               detail=detail), status
    except Exception:  # template layer not available: plain text still tells the user
        return f"{status} {TITLES.get(status, '出错了')}: {detail}", status


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if wants_json():
            extra = {}
            if exc.field:
                extra["field"] = exc.field
            if exc.errors:
                extra["errors"] = exc.errors
            return _problem(exc.status, TITLES.get(exc.status, "出错了"), exc.message, **extra)
        return _render(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        detail = {404: "页面或记录不存在，或您无权查看。", 405: "不支持该请求方法。",
                  413: "提交的内容或文件过大，请删减后重试。",
                  429: "操作过于频繁，请稍后再试。"}.get(
            status, exc.description or "")
        if status == 400 and exc.description:
            detail = exc.description
        if wants_json():
            data = getattr(exc, "data", None)
            if data and "messages" in data:  # webargs / flask-smorest validation
                return _problem(422, TITLES[422], "字段校验未通过", errors=data["messages"])
            return _problem(status, TITLES.get(status, "出错了"), detail)
        return _render(status, detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from .db import get_session

        log.exception("unhandled error")
        try:
            get_session().rollback()
        except Exception:  # the session may be the thing that failed
            pass
        if wants_json():
            return _problem(500, TITLES[500], "服务器内部错误，操作未保存，请稍后重试。")
        return _render(500, "服务器内部错误，操作未保存，请稍后重试。")
