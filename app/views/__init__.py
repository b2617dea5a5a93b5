"""Blueprints, one per area; each module exposes a module-level `bp`."""

import importlib

from flask import Flask

# One line per area, in menu order.
AREAS = [
    "health",
    "login_pages",
    "account",
    "home_page",
    "demand_pages",
    "expert_pages",
    "match_pages",
    "meeting_pages",
    "programme_pages",
    "visit_pages",
    "registry_pages",
    "admin",
    "uploads",
    "api",
]


def register(app: Flask) -> None:
    """Register every area's blueprint (a missing module is an error, never a silent gap)."""
    for area in AREAS:
        module = importlib.import_module(f"{__name__}.{area}")
        register_fn = getattr(module, "init_app", None)
        if register_fn is not None:
            register_fn(app)
        else:
            app.register_blueprint(module.bp)
