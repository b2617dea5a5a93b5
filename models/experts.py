"""Experts and their items (projects, papers, patents, awards)."""

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Searchable, Timestamps, owned
from .organisation import Institution
from .reference import TechField


class Expert(Searchable, Timestamps, Base):
    """A university or institute expert (专家), academicians included."""

    __tablename__ = "expert"
    # updated_at: the experts saved since an index base was read (its delta) are found by it
    __table_args__ = (UniqueConstraint("institution_id", "name"),
                      Index("ix_expert_updated_at", "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(60))
    research_fields: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    is_academician: Mapped[bool] = mapped_column(default=False)
    team: Mapped[str | None] = mapped_column(String(120))
    tech_field_id: Mapped[int | None] = mapped_column(ForeignKey("tech_field.id"))
    phone: Mapped[str | None] = mapped_column(String(30))  # private
    email: Mapped[str | None] = mapped_column(String(120))  # private

    institution: Mapped[Institution] = relationship()
    tech_field: Mapped[TechField | None] = relationship()
    items: Mapped[list["ExpertItem"]] = owned("expert", "ExpertItem.position")


class ExpertItem(Base):
    """One project, paper, patent or award of an expert, scored one by one by matching."""

    __tablename__ = "expert_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10))  # project | paper | patent | award
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    tokens: Mapped[str] = mapped_column(Text, default="")
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)

    expert: Mapped[Expert] = relationship(back_populates="items")
