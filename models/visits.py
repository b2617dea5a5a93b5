"""The visit log (走访记录): a liaison's visit to a park or an enterprise."""

from datetime import date

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, association
from .demands import Demand
from .organisation import Enterprise, Liaison, Park
from .reference import District

visit_demand = association("visit_demand", "visit", "demand")


class Visit(CreatedAt, Base):
    """One visit: when, who went, where (a park or an enterprise), whom they met, what they
    found, which demands it raised and what follows."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    liaison_id: Mapped[int] = mapped_column(ForeignKey("liaison.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    park_id: Mapped[int | None] = mapped_column(ForeignKey("park.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), index=True)
    people_met: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    liaison: Mapped[Liaison] = relationship()
    district: Mapped[District] = relationship()
    park: Mapped[Park | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    demands: Mapped[list[Demand]] = relationship(secondary=visit_demand)
