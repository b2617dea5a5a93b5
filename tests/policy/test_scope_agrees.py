"""The where-clauses and the one-record predicates agree, row for row, on a real database."""

from types import SimpleNamespace as NS

from sqlalchemy import select

from app.policy import access
from app.policy.roles import Role
from app.policy.scope import demand_scope, match_scope
from app.services.workflow import sent_institution_ids
from models import Demand, Match
from tests import factories


def _world(session):
    whu = factories.institution(session, "武汉大学")
    hust = factories.institution(session, "华中科技大学")
    e_whu = factories.expert(session, "甲专家", ["锂电池热管理"], inst="武汉大学")
    e_hust = factories.expert(session, "乙专家", ["锂电池回收"], inst="华中科技大学")
    demands = [
        factories.demand(session, "东湖私有", district="东湖高新区", publishable=False),
        factories.demand(session, "东湖公开", district="东湖高新区", status="published"),
        factories.demand(session, "洪山草稿", district="洪山区", status="draft"),
        factories.demand(session, "洪山公开", district="洪山区", status="matched"),
    ]
    for d, e, status in [(demands[0], e_whu, "declined"), (demands[1], e_hust, "signed"),
                         (demands[3], e_whu, "proposed")]:
        session.add(Match(demand=d, expert=e, status=status))
    session.flush()
    dh, hs = demands[0].district_id, demands[2].district_id
    users = [NS(role=Role.CITY_ADMIN, district_id=None, institution_id=None),
             NS(role=Role.DISTRICT_ADMIN, district_id=dh, institution_id=None),
             NS(role=Role.DISTRICT_LIAISON, district_id=hs, institution_id=None),
             NS(role=Role.CAMPUS_LIAISON, district_id=None, institution_id=whu.id),
             NS(role=Role.CAMPUS_LIAISON, district_id=None, institution_id=hust.id),
             NS(role=None, district_id=None, institution_id=None)]
    return users


def test_demand_and_match_scopes_agree_with_the_predicates(session):
    users = _world(session)
    all_demands = list(session.scalars(select(Demand)))
    all_matches = list(session.scalars(select(Match)))
    for user in users:
        listed = set(session.scalars(select(Demand.id).where(demand_scope(
            user, include_published=True))))
        opened = {d.id for d in all_demands
                  if access.can_view_demand(user, d, sent_institution_ids(session, d.id))}
        if user.role in (Role.DISTRICT_ADMIN, Role.DISTRICT_LIAISON, Role.CITY_ADMIN,
                         Role.CAMPUS_LIAISON):
            assert listed == opened, user
        listed_m = set(session.scalars(select(Match.id).where(match_scope(user))))
        assert listed_m == {m.id for m in all_matches if access.can_view_match(user, m)}, user
    hust = users[4]
    # the other university sees none of the matches of 武汉大学's experts, on any demand
    assert all(m.expert.institution_id != hust.institution_id or access.can_view_match(hust, m)
               for m in all_matches)
    assert {m.status for m in all_matches if access.can_view_match(hust, m)} == {"signed"}
