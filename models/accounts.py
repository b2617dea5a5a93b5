"""Users, API clients, the audit log and the login log."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Created, CreatedAt, UtcDateTime, utcnow
from .organisation import Institution, Liaison
from .reference import District

ROLES = ("district_liaison", "district_admin", "campus_liaison", "city_admin")


class User(CreatedAt, Base):
    """A person who signs in, with a role scoped to a district or an institution."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    liaison_id: Mapped[int | None] = mapped_column(ForeignKey("liaison.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # In every session cookie and remember cookie; bumped by logout, password change and reset,
    # which ends every other session of the account.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    district: Mapped[District | None] = relationship()
    institution: Mapped[Institution | None] = relationship()
    liaison: Mapped[Liaison | None] = relationship()


class ApiClient(Base):
    """A system that calls the JSON API with a token (only its hash is stored).

    The token's scopes say what it may do; a pushing token writes only the experts of its
    institutions.
    """

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[Created]
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: What the token may do: "read" (published demands, experts), "rank", "push_experts".
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["read", "rank"])
    #: Institutions whose experts a "push_experts" token may write (none: it writes nothing).
    institution_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class AuditEvent(Base):
    """An operation-log entry (操作日志), including reads of full contact data."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column()
    detail: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))


class LoginEvent(Base):
    """A login-log entry (登录日志)."""

    __tablename__ = "login_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(40))
    success: Mapped[bool] = mapped_column()
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str | None] = mapped_column(String(200))


class LoginFailure(Base):
    """A recent failed sign-in, counted per account and per address by every worker and host."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120))  # "account:<username>" or "address:<ip>"
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
