"""The programme's books: trainings, typical cases, assessments."""

from datetime import date

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, association
from .organisation import Liaison
from .reference import District

training_attendee = association("training_attendee", "training", "liaison")


class Training(Base):
    """A training session (培训会) held by a district."""

    __tablename__ = "training"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(200))
    attendee_count: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(Text)

    district: Mapped[District] = relationship()
    attendees: Mapped[list[Liaison]] = relationship(secondary=training_attendee)


class Case(CreatedAt, Base):
    """A typical case (典型案例) reported by a district."""

    __tablename__ = "typical_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    liaison_id: Mapped[int | None] = mapped_column(ForeignKey("liaison.id"))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demand.id"))
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("matchmaking_meeting.id"))
    enterprise_name: Mapped[str | None] = mapped_column(String(120))
    expert_name: Mapped[str | None] = mapped_column(String(120))
    contract_amount: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | reported

    district: Mapped[District] = relationship()
    liaison: Mapped[Liaison | None] = relationship()


class Assessment(Base):
    """The yearly assessment (考核评价) of a liaison after one year of work.

    One per liaison and year; the result is a grade, the score is optional.
    """

    __tablename__ = "assessment"
    __table_args__ = (UniqueConstraint("liaison_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    liaison_id: Mapped[int] = mapped_column(ForeignKey("liaison.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(12))  # 优秀 | 合格 | 基本合格 | 不合格
    score: Mapped[float | None] = mapped_column(Float)
    reviewer: Mapped[str] = mapped_column(String(40))
    assessed_on: Mapped[date] = mapped_column(Date)
    comment: Mapped[str | None] = mapped_column(Text)

    liaison: Mapped[Liaison] = relationship()
