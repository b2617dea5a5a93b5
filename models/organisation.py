"""Parks, enterprises, institutions, investors and the liaison roster."""

from datetime import date
from typing import Optional

from sqlalchemy import JSON, Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, association
from .reference import District, Industry

liaison_park = association("liaison_park", "liaison", "park")

liaison_enterprise = association("liaison_enterprise", "liaison", "enterprise")

investor_industry = association("investor_industry", "investor", "industry")


class Park(Base):
    """An industrial park or incubator (产业园区 / 孵化器) in a district."""

    __tablename__ = "park"
    __table_args__ = (UniqueConstraint("district_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="park")  # park | incubator
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"))

    district: Mapped[District] = relationship(back_populates="parks")


class Enterprise(CreatedAt, Base):
    """An enterprise; key enterprises (重点企业) are assigned to liaisons."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)
    park_id: Mapped[int | None] = mapped_column(ForeignKey("park.id"))
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"))
    is_key: Mapped[bool] = mapped_column(default=False)
    contact_person: Mapped[str | None] = mapped_column(String(40))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    contact_email: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(200))

    district: Mapped[District] = relationship()
    park: Mapped[Park | None] = relationship()
    industry: Mapped[Industry | None] = relationship()


class Institution(Base):
    """A university or research institute (高校院所)."""

    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="university")  # university | institute
    city: Mapped[str | None] = mapped_column(String(20))


class Investor(Base):
    """A venture-capital firm (创投机构) with its investment preferences."""

    __tablename__ = "investor"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    stages: Mapped[list[str]] = mapped_column(JSON, default=list)
    ticket_min: Mapped[float | None] = mapped_column(Float)  # 10k CNY
    ticket_max: Mapped[float | None] = mapped_column(Float)
    focus: Mapped[str | None] = mapped_column(Text)
    contact_person: Mapped[str | None] = mapped_column(String(40))
    contact_phone: Mapped[str | None] = mapped_column(String(30))

    industries: Mapped[list[Industry]] = relationship(secondary=investor_industry)


class Liaison(CreatedAt, Base):
    """A liaison: district-dispatched (区派) or stationed at an institution (市派驻高校院所)."""

    __tablename__ = "liaison"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # district | campus
    name: Mapped[str] = mapped_column(String(40))
    employer_post: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(120))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("liaison.id"))
    filed_on: Mapped[date | None] = mapped_column(Date)  # replacement filed with the city

    district: Mapped[District | None] = relationship()
    institution: Mapped[Institution | None] = relationship()
    replaces: Mapped[Optional["Liaison"]] = relationship(remote_side=[id])
    parks: Mapped[list[Park]] = relationship(secondary=liaison_park)
    enterprises: Mapped[list[Enterprise]] = relationship(secondary=liaison_enterprise)

    def active_on(self, day: date) -> bool:
        """Return whether the liaison served on the given day."""
        started = self.start_date is None or self.start_date <= day
        return started and (self.end_date is None or self.end_date >= day)
