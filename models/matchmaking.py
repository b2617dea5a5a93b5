"""Matchmaking meetings (需求对接会), their sessions, invitations and 1:1 slots."""

from datetime import date, datetime
from typing import Annotated

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, UtcDateTime, owned
from .demands import Demand
from .experts import Expert
from .reference import District, Industry

MEETING_STATUSES = ("draft", "planned", "confirmed", "held")
INVITATION_KINDS = ("expert", "enterprise", "investor", "institution")

#: The session a seat, a placed demand or a 1:1 slot belongs to (gone with the session).
SessionId = Annotated[
    int, mapped_column(ForeignKey("meeting_session.id", ondelete="CASCADE"), index=True)
]


class MatchmakingMeeting(CreatedAt, Base):
    """A topical matchmaking meeting organised by a district (or the city)."""

    __tablename__ = "matchmaking_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    held_on: Mapped[date | None] = mapped_column(Date)
    venue: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    district: Mapped[District | None] = relationship()
    sessions: Mapped[list["MeetingSession"]] = owned("meeting", "MeetingSession.seq")


class MeetingSession(Base):
    """One topical session of a meeting, grouped by industry and topic."""

    __tablename__ = "meeting_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("matchmaking_meeting.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200), default="")
    theme_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"))
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    locked: Mapped[bool] = mapped_column(default=False)
    #: The agenda: the time slot (``D1S2`` = day 1, slot 2) and room the session is held in;
    #: ``pinned`` keeps it there through re-plans (the organiser put it there).
    slot_key: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str | None] = mapped_column(String(100))
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())

    meeting: Mapped[MatchmakingMeeting] = relationship(back_populates="sessions")
    industry: Mapped[Industry | None] = relationship()
    demands: Mapped[list["SessionDemand"]] = owned("session")
    invitations: Mapped[list["Invitation"]] = owned("session")
    slots: Mapped[list["MeetingSlot"]] = owned("session", "MeetingSlot.slot")


class SessionDemand(Base):
    """A demand placed in a session; locked placements survive a re-plan."""

    __tablename__ = "session_demand"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[SessionId]
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"))
    locked: Mapped[bool] = mapped_column(default=False)

    session: Mapped[MeetingSession] = relationship(back_populates="demands")
    demand: Mapped[Demand] = relationship()


class Invitation(Base):
    """An invitee of a session: expert, related enterprise, investor or institution."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[SessionId]
    kind: Mapped[str] = mapped_column(String(12))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("expert.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    investor_id: Mapped[int | None] = mapped_column(ForeignKey("investor.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    affinity: Mapped[float | None] = mapped_column(Float)
    locked: Mapped[bool] = mapped_column(default=False)
    attended: Mapped[bool | None] = mapped_column()

    session: Mapped[MeetingSession] = relationship(back_populates="invitations")
    expert: Mapped[Expert | None] = relationship()


class MeetingSlot(Base):
    """A 1:1 meeting of a demand and an expert at a time slot and table, and its outcomes."""

    __tablename__ = "meeting_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[SessionId]
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    slot: Mapped[int] = mapped_column(Integer)
    table_no: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(20))  # interested | not_interested
    followup: Mapped[str | None] = mapped_column(Text)
    followup_agreement: Mapped[bool | None] = mapped_column()
    followup_amount: Mapped[float | None] = mapped_column(Float)
    followup_on: Mapped[date | None] = mapped_column(Date)

    session: Mapped[MeetingSession] = relationship(back_populates="slots")
    demand: Mapped[Demand] = relationship()
    expert: Mapped[Expert] = relationship()
