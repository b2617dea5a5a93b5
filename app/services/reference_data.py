"""Reference data: attachment 1 quotas, industries and technical fields."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Base, District, DistrictQuota, Industry, Liaison, TechField

DATA = Path(__file__).resolve().parents[2] / "models" / "data"
REFERENCE_TABLES = ("district", "district_quota", "industry", "tech_field", "alembic_version")


def _rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def attachment1() -> list[tuple[int, str, int, int, int]]:
    """Return attachment 1 as printed: (seq, district, existing, new, total)."""
    return [(int(s), n, int(e), int(w), int(t)) for s, n, e, w, t in _rows("quota_2022.tsv")]


def seed(session: Session) -> None:
    """Insert the reference rows that are missing (the migration does this on a new database)."""
    if session.scalar(select(func.count()).select_from(District)) == 0:
        for seq, name, existing, new, total in attachment1():
            d = District(id=seq, seq=seq, name=name, quota_existing=existing, quota_new=new,
                         quota_total=total)
            d.quotas.append(DistrictQuota(year=2022, existing=existing, new=new, total=total))
            session.add(d)
    if session.scalar(select(func.count()).select_from(Industry)) == 0:
        session.add_all(Industry(code=c, name=n, section=s, section_name=sn)
                        for c, n, s, sn in _rows("industries.tsv"))
    if session.scalar(select(func.count()).select_from(TechField)) == 0:
        session.add_all(TechField(code=c, name=n) for c, n in _rows("tech_fields.tsv"))
    session.flush()


def clear_all(session: Session) -> None:
    """Delete every row of every table (tests), then put the reference rows back."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(table.delete())
    session.flush()
    seed(session)


def quota_for(session: Session, district: District, year: int) -> DistrictQuota | None:
    """Return a district's quota row for a year, or the latest earlier one."""
    return session.scalars(
        select(DistrictQuota)
        .where(DistrictQuota.district_id == district.id, DistrictQuota.year <= year)
        .order_by(DistrictQuota.year.desc())
    ).first()


def headcount(session: Session, district_id: int, on: date) -> int:
    """Count the district liaisons serving on a day."""
    return session.scalar(
        select(func.count()).select_from(Liaison).where(
            Liaison.kind == "district", Liaison.district_id == district_id,
            (Liaison.start_date.is_(None)) | (Liaison.start_date <= on),
            (Liaison.end_date.is_(None)) | (Liaison.end_date >= on),
        )
    ) or 0
