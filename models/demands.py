"""Demands, matches and the history of their status changes."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Created, Searchable, Timestamps, Updated, UtcDateTime, owned, utcnow
from .experts import Expert
from .organisation import Enterprise, Liaison
from .reference import District, Industry, TechField

DEMAND_STATUSES = ("draft", "submitted", "returned", "published", "matched", "closed")
MATCH_STATUSES = (
    "proposed",
    "accepted",
    "declined",
    "introduced",
    "negotiating",
    "signed",
    "closed",
)


class Demand(Searchable, Base):
    """An enterprise technology demand (企业技术需求) and its life."""

    __tablename__ = "demand"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    liaison_id: Mapped[int | None] = mapped_column(ForeignKey("liaison.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text, default="")
    goals: Mapped[str] = mapped_column(Text, default="")
    investment: Mapped[float | None] = mapped_column(Float)  # 10k CNY
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"))
    tech_field_id: Mapped[int | None] = mapped_column(ForeignKey("tech_field.id"))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    cooperation_mode: Mapped[str | None] = mapped_column(String(20))
    deadline: Mapped[date | None] = mapped_column(Date)
    publishable: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    enterprise: Mapped[Enterprise] = relationship()
    district: Mapped[District] = relationship()
    liaison: Mapped[Liaison | None] = relationship()
    industry: Mapped[Industry | None] = relationship()
    tech_field: Mapped[TechField | None] = relationship()
    events: Mapped[list["DemandEvent"]] = owned("demand", "DemandEvent.at")
    matches: Mapped[list["Match"]] = relationship(back_populates="demand")

    @property
    def text(self) -> str:
        """Return the text matching reads: title, problem, goals and keywords."""
        return "\n".join(
            p for p in (self.title, self.problem, self.goals, " ".join(self.keywords or [])) if p
        )


class StatusChange:
    """Mixin: who changed a status, when, from what, to what and why (after the owner's key)."""

    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)


class DemandEvent(StatusChange, Base):
    """One status change of a demand: who, when, from what, to what, why.

    A publication records the reason given for publishing a demand the check called vague.
    """

    __tablename__ = "demand_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id", ondelete="CASCADE"), index=True)
    #: Why a demand the effectiveness check called vague was published anyway.
    quality_override: Mapped[str | None] = mapped_column(Text, sort_order=1)

    demand: Mapped[Demand] = relationship(back_populates="events")


class Match(Timestamps, Base):
    """A proposed demand-expert pairing (对接) and its outcome."""

    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("demand_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="proposed", index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    contract_amount: Mapped[float | None] = mapped_column(Float)  # 10k CNY
    explanation: Mapped[dict | None] = mapped_column(JSON)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    demand: Mapped[Demand] = relationship(back_populates="matches")
    expert: Mapped[Expert] = relationship()
    events: Mapped[list["MatchEvent"]] = owned("match", "MatchEvent.at")


class MatchEvent(StatusChange, Base):
    """One status change of a match: who, when, from what, to what, why."""

    __tablename__ = "match_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id", ondelete="CASCADE"), index=True)
    contract_amount: Mapped[float | None] = mapped_column(Float, sort_order=1)

    match: Mapped[Match] = relationship(back_populates="events")
