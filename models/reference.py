"""Reference tables: districts and quotas, industries, technical fields, domain terms."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, UtcDateTime, owned, utcnow


class District(Base):
    """A responsible unit of attachment 1 (区 or 开发区) with its liaison quota."""

    __tablename__ = "district"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    quota_existing: Mapped[int] = mapped_column(Integer, default=0)
    quota_new: Mapped[int] = mapped_column(Integer, default=0)
    quota_total: Mapped[int] = mapped_column(Integer, default=0)

    quotas: Mapped[list["DistrictQuota"]] = owned("district", "DistrictQuota.year")
    parks: Mapped[list["Park"]] = relationship(back_populates="district")  # noqa: F821


class DistrictQuota(Base):
    """The quota of one district for one year (attachment 1 is the 2022 row)."""

    __tablename__ = "district_quota"
    __table_args__ = (UniqueConstraint("district_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    existing: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    district: Mapped[District] = relationship(back_populates="quotas")


class Industry(Base):
    """An industry division of GB/T 4754-2017 (国民经济行业分类), extendable by the city admin."""

    __tablename__ = "industry"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    section: Mapped[str | None] = mapped_column(String(4))
    section_name: Mapped[str | None] = mapped_column(String(60))
    is_custom: Mapped[bool] = mapped_column(default=False)


class TechField(Base):
    """A technical field (国家重点支持的高新技术领域), extendable by the city admin."""

    __tablename__ = "tech_field"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    is_custom: Mapped[bool] = mapped_column(default=False)


class DomainTerm(CreatedAt, Base):
    """A term the city admin adds to the tokenizer's user dictionary (next rebuild)."""

    __tablename__ = "domain_term"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(40), unique=True)


class SequenceCounter(Base):
    """A named counter incremented atomically (demand codes per year): no read-then-insert race."""

    __tablename__ = "sequence_counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class DataVersion(Base):
    """A counter per indexed collection; writers bump it, workers rebuild when behind."""

    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class BackgroundJob(Base):
    """A long job (import, embedding, index build, meeting plan) whose progress pages can poll."""

    __tablename__ = "background_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The job queue (app/job_queue.py): what to run, who runs it, its lease, and its full report.
    params: Mapped[dict | None] = mapped_column(JSON)
    report: Mapped[dict | None] = mapped_column(JSON)  # e.g. an import's row problems
    worker: Mapped[str | None] = mapped_column(String(100))  # host:pid of the consumer
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The file a job made for its owner to download (an export), read only by the download.
    output: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
