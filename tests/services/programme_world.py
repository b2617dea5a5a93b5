"""Helpers shared by the tests split out of test_programme_rules.py."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from sqlalchemy import select

from app.services.programme import scoreboard
from models import (
    Demand,
    District,
    Enterprise,
    Liaison,
)

_seq = itertools.count(1)


# --- helpers (own to this module) ------------------------------------------------------------
def _district(session, name: str) -> District:
    return session.scalar(select(District).where(District.name == name))


def _liaison(session, district: str, name: str, start: date | None,
             end: date | None = None, **kw) -> Liaison:
    li = Liaison(kind="district", name=name, district=_district(session, district),
                 start_date=start, end_date=end, phone="13800000000", **kw)
    session.add(li)
    session.flush()
    return li


def _enterprise(session, district: str) -> Enterprise:
    name = f"规则测试{district}企业"
    ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
    if ent is None:
        ent = Enterprise(name=name, district=_district(session, district), is_key=True)
        session.add(ent)
        session.flush()
    return ent


def _demand(session, district: str, liaison: Liaison | None, *,
            created: datetime, published: datetime | None = None,
            status: str | None = None) -> Demand:
    ent = _enterprise(session, district)
    d = Demand(code=f"R{next(_seq):05d}", enterprise=ent, district_id=ent.district_id,
               liaison=liaison, title=f"需求{next(_seq)}", problem="技术难题", goals="目标",
               status=status or ("published" if published else "draft"),
               publishable=True, created_at=created, published_at=published)
    session.add(d)
    session.flush()
    return d


def _full_district(session, district: str, n: int, start: date = date(2021, 3, 1)):
    return [_liaison(session, district, f"{district}{i}", start) for i in range(n)]


def _dt(y: int, m: int, d: int = 15) -> datetime:
    return datetime(y, m, d, 10, tzinfo=UTC)


def _by_name(board: scoreboard.Scoreboard, name: str) -> scoreboard.DistrictStatus:
    return next(d for d in board.districts if d.district.name == name)
