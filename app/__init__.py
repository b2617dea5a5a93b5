"""The web layer: application factory, the only package that imports Flask."""

from __future__ import annotations

import importlib
import os
from typing import Any

from flask import Flask

from . import config as config_module


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create and configure an app; tests pass their own config."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE))
    app.config.from_object(config_module.Config)
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)
    if app.config["ENV"] == "production" and (
        not os.environ.get("SECRET_KEY") and not (config or {}).get("SECRET_KEY")
    ):
        raise RuntimeError("SECRET_KEY must be set in production")

    from . import cli, db, errors, logs

    logs.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    for name in ("security", "lifecycle", "jobs"):
        module = _optional(f"app.{name}")
        if module is not None:
            module.init_app(app)
    from .views import register

    register(app)
    return app


def _optional(name: str):
    """Import a module of the app if it exists (areas grow one by one)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
