"""Bounded, clear answers to hostile input before any view runs.

- Ids in URLs beyond the columns' range answer 404 (the ``int`` converter is bounded).
- A query string, form field or JSON string with NUL, a lone surrogate or another control
  character answers 400 naming the parameter; so does JSON nested deeper than MAX_JSON_DEPTH or
  a JSON body that does not parse.
- Request bodies are bounded: MAX_CONTENT_LENGTH (uploads), MAX_FORM_MEMORY_SIZE (one field of
  a multipart form), MAX_URLENCODED_BYTES (a plain form), MAX_JSON_BYTES (an API body).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from .services.fields import MAX_ID, bad_characters

MAX_JSON_DEPTH = 20
MAX_JSON_BYTES = 2 * 1024 * 1024
#: A url-encoded form (no file in it): 20,000 CJK characters per text field fit many times.
MAX_URLENCODED_BYTES = 1024 * 1024


class BoundedIntConverter(IntegerConverter):
    """The ``int`` URL converter, limited to ids a database column can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _walk(value: Any, path: str, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(f"JSON 嵌套层数过多（最多 {MAX_JSON_DEPTH} 层）。")
    if isinstance(value, str):
        problem = bad_characters(value)
        if problem:
            raise BadRequest(f"参数「{path or '请求体'}」{problem}。")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, path, depth + 1)
            _walk(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _walk(item, f"{path}.{n}" if path else str(n), depth + 1)


def check_request() -> None:
    """Refuse control characters, broken or deep JSON and over-long bodies (400 / 413)."""
    if (request.mimetype == "application/x-www-form-urlencoded"
            and (request.content_length or 0) > MAX_URLENCODED_BYTES):
        raise RequestEntityTooLarge()
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    for source in sources:
        for key, values in source.lists():
            for value in [key, *values]:
                problem = bad_characters(value)
                if problem:
                    raise BadRequest(f"参数「{key[:40]}」{problem}。")
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        if (request.content_length or 0) > MAX_JSON_BYTES:
            raise RequestEntityTooLarge()
        raw = request.get_data(cache=True)
        if not raw.strip():
            return
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadRequest("请求体不是有效的 JSON。") from None
        _walk(data, "")


def init_app(app: Flask) -> None:
    """Bound the URL ids and check every request before its view."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 256 * 1024)
    app.before_request(check_request)
