"""API tokens: only their sha256 is stored; no Flask."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiClient, utcnow

PREFIX = "lm_"
STAMP_EVERY = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which an API token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """Return a fresh random token (shown to the admin once, stored only as its hash)."""
    return PREFIX + secrets.token_urlsafe(32)


def authenticate_token(session: Session, token: str) -> ApiClient | None:
    """Return the active ApiClient of a plain token, stamping its last use; else None.

    The stamp is written with the request's unit of work (at most once a minute); never commits.
    """
    client = session.scalar(select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None or not client.active:
        return None
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at > STAMP_EVERY:
        client.last_used_at = now
    return client
