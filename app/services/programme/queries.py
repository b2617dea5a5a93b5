"""Queries the scoreboard, dashboard and books share: districts, liaisons, signings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Demand,
    District,
    Liaison,
    Match,
)

from ... import clock
from ...errors import NotFound
from .rules import (
    YearWindow,
    in_year,
)


def district_liaisons(session: Session, district_ids: Sequence[int], year: int) -> list[Liaison]:
    """Return the district liaisons who served at some point of `year`."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    return list(session.scalars(
        select(Liaison)
        .where(Liaison.kind == "district", Liaison.district_id.in_(district_ids),
               (Liaison.start_date.is_(None)) | (Liaison.start_date <= end),
               (Liaison.end_date.is_(None)) | (Liaison.end_date >= start))
        .order_by(Liaison.district_id, Liaison.start_date, Liaison.id)
    ))


def published_in_year(session: Session, district_ids: Sequence[int],
                       window: YearWindow) -> list[Demand]:
    """Return the districts' demands published during the window's year."""
    lo, hi = window.bounds()
    return list(session.scalars(
        select(Demand).where(Demand.district_id.in_(district_ids),
                             Demand.published_at.is_not(None),
                             Demand.published_at >= lo, Demand.published_at < hi)
    ))


def districts_of(session: Session, district_id: int | None) -> list[District]:
    """Return one district (NotFound if unknown) or, for None, every district in order."""
    stmt = select(District).order_by(District.seq)
    if district_id is not None:
        stmt = stmt.where(District.id == district_id)
    rows = list(session.scalars(stmt))
    if district_id is not None and not rows:
        raise NotFound("区不存在。")
    return rows


def signed_at(m: Match) -> datetime | None:
    """Return when the match was signed, in Beijing time (its year and month count)."""
    for e in m.events:
        if e.to_status == "signed":
            return clock.local_time(e.at)
    return clock.local_time(m.updated_at) if m.status == "signed" else None


def signed_matches(session: Session, district_ids: Sequence[int] | None,
                    window: YearWindow) -> list[Match]:
    """Return the matches signed during the year (by their signing event)."""
    stmt = (select(Match).join(Demand)
            .options(selectinload(Match.events), selectinload(Match.demand))
            .where(Match.status == "signed"))
    if district_ids is not None:
        stmt = stmt.where(Demand.district_id.in_(district_ids))
    return [m for m in session.scalars(stmt) if in_year(signed_at(m), window.year)]
