"""The web layer: application factory, the only package that imports Flask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import config as config_module

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create and configure an app; tests pass their own config."""
    from flask import Flask

    app = Flask(__name__, instance_path=str(config_module.INSTANCE))
    app.config.from_object(config_module.Config)
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)
    app.config["SECRET_KEY"] = config_module.resolve_secret_key(
        app.config["ENV"], app.config.get("SECRET_KEY"))

    from . import cli, db, errors, guards, job_queue, lifecycle, logs, security

    logs.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    guards.init_app(app)
    cli.init_app(app)
    security.init_app(app)
    lifecycle.init_app(app)
    job_queue.init_app(app)
    # Template filters, in one place: every time a user reads is Beijing time.
    from . import clock

    app.jinja_env.filters["cst"] = clock.fmt
    from .views import register

    register(app)
    return app
