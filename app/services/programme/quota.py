"""Attachment 1: the quota table of a year and the headcount actually serving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    District,
    DistrictQuota,
)

from ... import clock
from ...errors import DomainError, NotFound
from ..reference_data import headcount, quota_for
from .queries import (
    districts_of,
)


# --- quota table ----------------------------------------------------------------------------
@dataclass
class QuotaRow:
    """One district of the quota table, with the headcount actually serving on a day."""

    district: District
    existing: int
    new: int
    total: int
    actual: int
    source_year: int | None  # the year whose quota row applies (None: no quota yet)

    @property
    def gap(self) -> int:
        """Return how many liaisons are missing against the total (0 when filled)."""
        return max(0, self.total - self.actual)


@dataclass
class QuotaTable:
    """Attachment 1 for a year: rows, totals and the day the headcount was taken."""

    year: int
    on: date
    rows: list[QuotaRow]

    def total(self, attr: str) -> int:
        """Return the sum of a column (existing, new, total, actual, gap)."""
        return sum(getattr(r, attr) for r in self.rows)

    @property
    def inherited(self) -> bool:
        """Return whether some rows come from an earlier year (no row of this year yet)."""
        return any(r.source_year != self.year for r in self.rows)


def quota_table(session: Session, year: int, *, on: date | None = None) -> QuotaTable:
    """Return the quota table of a year and each district's headcount on `on`."""
    if on is None:
        today = clock.today()
        on = today if today.year == year else date(year, 12, 31) if year < today.year \
            else date(year, 1, 1)
    rows = []
    for d in districts_of(session, None):
        q = quota_for(session, d, year)
        rows.append(QuotaRow(d, q.existing if q else 0, q.new if q else 0, q.total if q else 0,
                             headcount(session, d.id, on), q.year if q else None))
    return QuotaTable(year, on, rows)


def save_quota(session: Session, year: int,
               values: dict[int, tuple[int, int]]) -> list[DistrictQuota]:
    """Write the quota rows of a year: {district_id: (existing, new)}; total = existing + new."""
    if not 2000 <= year <= 2100:
        raise DomainError("年份不正确。", field="year")
    districts = {d.id: d for d in districts_of(session, None)}
    errors = []
    for did, (existing, new) in values.items():
        if did not in districts:
            raise NotFound("区不存在。")
        if existing < 0 or new < 0:
            errors.append({"row": districts[did].seq, "column": districts[did].name,
                           "message": "人数不能为负数"})
    if errors:
        raise DomainError("指标人数不能为负数。", errors=errors)
    current = {q.district_id: q for q in session.scalars(
        select(DistrictQuota).where(DistrictQuota.year == year))}
    out = []
    for did, (existing, new) in values.items():
        q = current.get(did)
        if q is None:
            q = DistrictQuota(district_id=did, year=year)
            session.add(q)
        q.existing, q.new, q.total = existing, new, existing + new
        q.updated_at = clock.now()
        out.append(q)
    session.flush()
    return out
