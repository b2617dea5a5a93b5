"""Structured logging: one JSON object a line when JSON_LOGS is on (under gunicorn)."""

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def init_app(app) -> None:  # noqa: ANN001
    """Configure the root logger once."""
    root = logging.getLogger()
    if getattr(root, "_liaison_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    if app.config.get("JSON_LOGS"):
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                          rename_fields={"asctime": "time", "levelname": "level"})
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if not app.config.get("TESTING") else logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    root._liaison_configured = True  # type: ignore[attr-defined]
