"""The demo data loads into a real database, and loading twice adds nothing."""

from sqlalchemy import func, select

from app.services import demo
from models import Demand, Enterprise, Expert, Liaison, Match


def _counts(session):
    return {m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Expert, Enterprise, Demand, Liaison, Match)}


def test_demo_loads_twice_without_duplicates(app, session):
    added = demo.load(session, n_experts=120, n_demands=60)
    session.commit()
    first = _counts(session)
    assert first["Expert"] == 120 and first["Demand"] == 60
    assert first["Liaison"] >= 200 and first["Match"] > 0
    assert added["专家"] == 120
    again = demo.load(session, n_experts=120, n_demands=60)
    session.commit()
    assert _counts(session) == first
    assert "专家" not in again
    expert = session.scalars(select(Expert)).first()
    assert expert.tokens and expert.items and expert.items[0].tokens
    skipped = demo.load(session, only_if_empty=True)
    assert skipped == {"已有数据，跳过": 0}
