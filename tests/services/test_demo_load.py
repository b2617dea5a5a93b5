"""The demo data loads into a real database, and loading twice adds nothing."""

from sqlalchemy import func, select

from app.services import demo_loader
from models import Demand, Enterprise, Expert, Liaison, Match


def _counts(session):
    return {m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Expert, Enterprise, Demand, Liaison, Match)}


def test_demo_loads_twice_without_duplicates(app, session):
    added = demo_loader.load(session, n_experts=120, n_demands=60)
    session.commit()
    first = _counts(session)
    assert first["Expert"] == 120 and first["Demand"] == 60
    assert first["Liaison"] >= 200 and first["Match"] > 0
    assert added["专家"] == 120
    again = demo_loader.load(session, n_experts=120, n_demands=60)
    session.commit()
    assert _counts(session) == first
    assert "专家" not in again
    expert = session.scalars(select(Expert)).first()
    assert expert.tokens and expert.items and expert.items[0].tokens
    skipped = demo_loader.load(session, only_if_empty=True)
    assert skipped == {"已有数据，跳过": 0}


def test_demo_lives_in_this_year_with_a_mix_of_standings(app, session):
    """Seen from any day, the current year shows every standing, and the demo users are the
    roster's own liaisons (the name on the account is the one on their demands)."""
    from datetime import date

    from app.services.programme.rules import AT_RISK, MET, MISSED, ON_TRACK
    from app.services.programme.scoreboard import scoreboard
    from models import User

    day = date(2026, 9, 20)
    demo_loader.load(session, n_experts=120, today=day)
    session.flush()
    now = scoreboard(session, day.year, today=day)
    districts = {d.status for d in now.districts}
    assert {MET, ON_TRACK, AT_RISK} <= districts
    assert MISSED in {p.status for d in now.districts for p in d.liaisons}
    assert all(d.rules["training"].actual >= 0 for d in now.districts)
    last = scoreboard(session, day.year - 1, today=day)
    assert {MET, MISSED} <= {d.status for d in last.districts}

    for username in ("dhliaison", "hsliaison", "whuliaison", "hustliaison"):
        user = session.scalar(select(User).where(User.username == username))
        liaison = session.get(Liaison, user.liaison_id)
        assert user.display_name == liaison.name, username
        if liaison.kind == "district":
            assert liaison.district_id == user.district_id and liaison.end_date is None
            recorded = session.scalars(select(Demand.liaison_id).where(
                Demand.district_id == user.district_id)).all()
            assert user.liaison_id in recorded, username
        else:
            assert liaison.institution_id == user.institution_id
