"""The operation log (操作日志): who did what to which record, from which address."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import AuditEvent


def _request_context() -> tuple[Any, str | None]:
    """Return (signed-in user or None, client IP or None) when inside a request."""
    try:
        from flask import g, has_request_context, request
        from flask_login import current_user
    except ImportError:  # pragma: no cover - flask is always installed with the app
        return None, None
    if not has_request_context():
        return None, None
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is None and getattr(g, "api_client", None) is not None:
        user = g.api_client
    return user, request.remote_addr


def _actor(user: Any) -> str:
    if user is None:
        return "系统"
    if hasattr(user, "username"):
        return f"{user.display_name}({user.username})"[:80]
    if hasattr(user, "token_prefix"):  # an ApiClient
        return f"API:{user.name}"[:80]
    return str(user)[:80]


def audit(session: Session, action: str, entity: str, entity_id: int | None = None,
          detail: dict | None = None, *, user: Any = None, ip: str | None = None) -> AuditEvent:
    """Add an AuditEvent for the current user and IP (or the ones given); never commits."""
    ctx_user, ctx_ip = _request_context()
    user = user if user is not None else ctx_user
    event = AuditEvent(
        user_id=getattr(user, "id", None) if hasattr(user, "username") else None,
        actor=_actor(user),
        action=action[:40],
        entity=entity[:40],
        entity_id=entity_id,
        detail=detail,
        ip=(ip or ctx_ip or None) and (ip or ctx_ip)[:45],
    )
    session.add(event)
    return event
