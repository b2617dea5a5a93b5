"""Liveness and readiness: database reachability and the matching signals."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..db import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def show():
    """Report whether the database answers and which matching signals are on."""
    body = {"status": "ok", "database": "ok"}
    status = 200
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as exc:  # report, never raise: this is the probe
        body.update(status="error", database=f"unreachable: {type(exc).__name__}")
        status = 503
    probe = current_app.extensions.get("health_probes", {})
    for key, fn in probe.items():
        try:
            body[key] = fn()
        except Exception as exc:  # a probe failing is a finding, not a crash of the probe
            body[key] = f"error: {type(exc).__name__}"
    return jsonify(body), status


@bp.get("/favicon.ico")
def favicon():
    """Answer browsers' favicon request without a 404 in the log (the pages declare no icon)."""
    return "", 204
