"""Declarative base, naming convention and small shared column helpers."""

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, MetaData, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, Relationship, defer, mapped_column, relationship
from sqlalchemy.types import LargeBinary, String, Text, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time in UTC (a callable default, never a value computed at import)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC on every database, always read back aware in UTC.

    SQLite has no time zones and hands timestamps back naive; PostgreSQL converts to the
    connection's zone. Both read back here as aware UTC, so the same instant never reads 8 hours
    apart. A naive value is refused: it names no instant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Convert an aware value to UTC (naive UTC on SQLite); refuse naive values."""
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return the stored instant as an aware UTC value."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every model; constraint names are stable on SQLite and PostgreSQL."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: When a row was written first and last (``onupdate``); for a column in the middle of a table.
Created = Annotated[datetime, mapped_column(UtcDateTime(), default=utcnow)]
Updated = Annotated[datetime, mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)]


class CreatedAt:
    """Mixin: ``created_at`` as the table's last column."""

    created_at: Mapped[Created]


class Timestamps:
    """Mixin: ``created_at`` and ``updated_at`` as the table's last two columns."""

    created_at: Mapped[Created]
    updated_at: Mapped[Updated]


class Searchable:
    """Mixin: the stored tokens and the e5 vector (with its model id) matching reads."""

    tokens: Mapped[str] = mapped_column(Text, default="")  # segmented once at write time
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    vector_model: Mapped[str | None] = mapped_column(String(80))

    @classmethod
    def list_options(cls) -> tuple:
        """Loader options of list pages: the stored tokens and the vector are not read (a
        page of 20 sorted out of 10k rows sorted them all; reading them on a listed row is an
        error, not a query per row)."""
        return (defer(cls.tokens, raiseload=True), defer(cls.vector, raiseload=True))


def association(name: str, left: str, right: str) -> Table:
    """Return the link table ``name`` of ``left`` and ``right`` rows, deleted with either."""
    return Table(
        name,
        Base.metadata,
        *(
            Column(f"{side}_id", ForeignKey(f"{side}.id", ondelete="CASCADE"), primary_key=True)
            for side in (left, right)
        ),
    )


def owned(back_populates: str, order_by: str | None = None) -> Relationship[Any]:
    """Return a one-to-many relationship whose children live and die with their parent."""
    if order_by is None:
        return relationship(back_populates=back_populates, cascade="all, delete-orphan")
    return relationship(
        back_populates=back_populates, cascade="all, delete-orphan", order_by=order_by
    )
