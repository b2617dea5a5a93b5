"""Blueprints, one per area; each module exposes a module-level `bp`."""

import importlib

from flask import Flask

# One line per area; a module that is not written yet is skipped.
AREAS = [
    "health",
    "auth",
    "account",
    "home",
    "demands",
    "experts",
    "matches",
    "meetings",
    "programme",
    "visits",
    "registries",
    "admin",
    "uploads",
    "api",
]


def register(app: Flask) -> None:
    """Register every area's blueprint that exists."""
    for area in AREAS:
        name = f"{__name__}.{area}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        register_fn = getattr(module, "init_app", None)
        if register_fn is not None:
            register_fn(app)
        else:
            app.register_blueprint(module.bp)
