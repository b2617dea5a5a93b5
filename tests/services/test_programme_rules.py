"""The rules of the notice computed on fixtures built for their edge cases."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import Conflict, DomainError
from app.services.programme import (
    book_entries,
    dashboard_figures,
    liaison_roster,
    quota,
    rules,
    scoreboard,
)
from models import (
    Assessment,
    Case,
    Liaison,
    Park,
    Training,
)
from tests.services.programme_world import (
    _by_name,
    _demand,
    _district,
    _dt,
    _enterprise,
    _full_district,
    _liaison,
)


# --- pure rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("start,end,year,expected", [
    (date(2021, 3, 1), None, 2022, 2),          # a full year owes 2
    (date(2022, 11, 1), None, 2022, 0),         # joined in November: < 1/4 year owes nothing
    (date(2022, 10, 1), None, 2022, 1),         # joined on 1 October: 92 days -> 0.504 -> 1
    (date(2022, 7, 1), None, 2022, 1),          # half a year owes 1
    (date(2022, 4, 1), None, 2022, 2),          # three quarters: 1.5 rounds up to 2
    (date(2021, 3, 1), date(2022, 6, 30), 2022, 1),  # replaced mid-year: 181 days -> 1
    (date(2021, 3, 1), date(2021, 12, 31), 2022, 0),  # left before the year
    (date(2023, 1, 1), None, 2022, 0),          # joined after the year
    (None, None, 2022, 2),                      # unknown start: treated as long-serving
])
def test_demand_target_is_pro_rated(start, end, year, expected):
    li = Liaison(kind="district", name="x", start_date=start, end_date=end)
    assert rules.demand_target(li, year) == expected


@pytest.mark.parametrize("headcount,target", [(0, 0), (1, 1), (6, 2), (7, 3), (10, 3),
                                              (15, 5), (50, 15), (20, 6)])
def test_case_target_is_thirty_percent_rounded_up(headcount, target):
    assert rules.case_target(headcount) == target


@pytest.mark.parametrize("start,end,due", [
    (date(2021, 3, 1), None, True),
    (date(2022, 1, 1), None, True),             # a full year by 31 December
    (date(2022, 1, 2), None, False),            # one day short
    (date(2021, 3, 1), date(2022, 12, 30), False),  # left before year end
    (date(2021, 3, 1), date(2022, 12, 31), True),   # served to the last day
    (None, None, True),
])
def test_assessment_due(start, end, due):
    li = Liaison(kind="district", name="x", start_date=start, end_date=end)
    assert rules.assessment_due(li, 2022) is due


def test_campus_liaisons_are_never_due():
    li = Liaison(kind="campus", name="x", start_date=date(2020, 1, 1))
    assert rules.assessment_due(li, 2022) is False


@pytest.mark.parametrize("today,actual,target,expected", [
    (date(2023, 3, 1), 0, 2, rules.MISSED),         # past year, not met
    (date(2023, 3, 1), 2, 2, rules.MET),
    (date(2022, 3, 1), 0, 2, rules.ON_TRACK),       # 16% of the year: round(0.33) = 0 expected
    (date(2022, 7, 1), 0, 2, rules.AT_RISK),        # half the year: 1 expected
    (date(2022, 7, 1), 1, 2, rules.ON_TRACK),
    (date(2022, 11, 26), 1, 2, rules.AT_RISK),      # 90%: 2 expected
    (date(2022, 6, 1), 0, 1, rules.ON_TRACK),       # a training: at risk from mid-year only
    (date(2022, 7, 3), 0, 1, rules.AT_RISK),
    (date(2021, 6, 1), 0, 2, rules.ON_TRACK),       # future year: nothing expected yet
    (date(2023, 3, 1), 0, 0, rules.NA),
    (date(2023, 3, 1), 1, 0, rules.MET),
])
def test_count_status(today, actual, target, expected):
    assert rules.count_status(actual, target, rules.YearWindow(2022, today)) == expected


def test_worst_status():
    assert rules.worst([rules.MET, rules.AT_RISK, rules.NA]) == rules.AT_RISK
    assert rules.worst([rules.MET, rules.MISSED, rules.AT_RISK]) == rules.MISSED
    assert rules.worst([]) == rules.NA


# --- scoreboard on fixtures -----------------------------------------------------------------
def test_full_district_past_year(session):
    people = _full_district(session, "江岸区", 10)
    for li in people[:9]:
        for m in (3, 8):
            _demand(session, "江岸区", li, created=_dt(2022, m, 1), published=_dt(2022, m))
    _demand(session, "江岸区", people[9], created=_dt(2022, 5, 1), published=_dt(2022, 5))
    session.add(Training(district=_district(session, "江岸区"), held_on=date(2022, 5, 1),
                         topic="需求挖掘", attendees=people[:5]))
    for i in range(3):
        session.add(Case(district=_district(session, "江岸区"), year=2022, title=f"案例{i}",
                         status="reported"))
    session.add(Case(district=_district(session, "江岸区"), year=2022, title="草稿",
                     status="draft"))
    for li in people:
        session.add(Assessment(liaison=li, year=2022, result="合格", reviewer="区局",
                               assessed_on=date(2022, 12, 20)))
    session.flush()

    board = scoreboard.scoreboard(session, 2022, today=date(2023, 2, 1))
    d = _by_name(board, "江岸区")
    assert d.headcount == 10
    assert (d.rules["quota"].target, d.rules["quota"].status) == (10, rules.MET)
    assert (d.rules["demands"].target, d.rules["demands"].actual) == (20, 19)
    assert d.rules["demands"].status == rules.MISSED  # 19 < 20: one liaison published only one
    assert (d.rules["training"].actual, d.rules["training"].status) == (1, rules.MET)
    assert (d.rules["cases"].target, d.rules["cases"].actual) == (3, 3)  # the draft is not counted
    assert d.rules["cases"].status == rules.MET
    assert (d.rules["assessment"].target, d.rules["assessment"].status) == (10, rules.MET)
    by_id = {s.liaison.id: s for s in d.liaisons}
    assert by_id[people[0].id].demands_status == rules.MET
    assert by_id[people[9].id].demands_status == rules.MISSED
    assert by_id[people[0].id].trainings_attended == 1
    assert by_id[people[9].id].trainings_attended == 0
    assert d.status == rules.MISSED
    # another district with no liaisons at all in the same board
    hy = _by_name(board, "汉阳区")
    assert hy.headcount == 0
    assert hy.rules["quota"].status == rules.MISSED and hy.rules["quota"].note == "缺额10人"
    for rule in ("demands", "training", "cases", "assessment"):
        assert hy.rules[rule].status == rules.NA, rule


def test_liaison_who_joined_in_november(session):
    old = _full_district(session, "蔡甸区", 5)
    nov = _liaison(session, "蔡甸区", "十一月", date(2022, 11, 1))
    for li in old:
        for m in (2, 9):
            _demand(session, "蔡甸区", li, created=_dt(2022, m, 1), published=_dt(2022, m))
    board = scoreboard.scoreboard(session, 2022, district_id=nov.district_id, today=date(2023, 1,
            5))
    d = board.districts[0]
    s = next(x for x in d.liaisons if x.liaison.id == nov.id)
    assert s.demand_target == 0 and s.demands_status == rules.NA
    assert s.days_served == 61
    assert s.assessment_due is False and s.assessment_status == rules.NA
    assert d.rules["demands"].target == 10  # 5 x 2, the November joiner adds 0
    assert d.rules["demands"].status == rules.MET
    assert d.headcount == 6 and d.rules["quota"].status == rules.MET
    assert d.rules["assessment"].target == 5  # the newcomer is not due
    # a demand published by the newcomer counts for them and the district
    _demand(session, "蔡甸区", nov, created=_dt(2022, 12, 1), published=_dt(2022, 12, 2))
    board = scoreboard.scoreboard(session, 2022, district_id=nov.district_id, today=date(2023, 1,
            5))
    s = next(x for x in board.districts[0].liaisons if x.liaison.id == nov.id)
    assert s.demands_published == 1 and s.demands_status == rules.MET
    assert board.districts[0].rules["demands"].actual == 11


def test_replaced_liaison(session):
    people = _full_district(session, "江夏区", 6)  # quota 6
    old = people[0]
    new = liaison_roster.replace_liaison(
        session, old, end_date=date(2022, 6, 30), end_reason="工作岗位调整",
        new=liaison_roster.LiaisonInput(name="接替人", phone="13900000000"), filed_on=date(2022, 7,
                                                                                        10))
    assert new.start_date == date(2022, 7, 1)
    assert new.replaces is old and new.filed_on == date(2022, 7, 10)
    assert old.end_date == date(2022, 6, 30) and old.end_reason == "工作岗位调整"
    _demand(session, "江夏区", old, created=_dt(2022, 3, 1), published=_dt(2022, 3, 2))
    # current year seen from November: the old liaison's service is over
    board = scoreboard.scoreboard(session, 2022, district_id=old.district_id, today=date(2022,
            11, 20))
    d = board.districts[0]
    st = {s.liaison.id: s for s in d.liaisons}
    assert st[old.id].demand_target == 1 and st[old.id].demands_status == rules.MET
    assert st[new.id].demand_target == 1
    assert st[new.id].demands_status == rules.AT_RISK  # 143/184 of their service gone, 0 published
    assert st[old.id].assessment_due is False and st[new.id].assessment_due is False
    assert d.headcount == 6  # the successor fills the slot, the old one is gone
    assert d.rules["assessment"].target == 5
    assert d.rules["quota"].status == rules.MET
    # an unmet target for a liaison who left is missed even though the year is not over
    _, other = people[1], liaison_roster.replace_liaison(
        session, people[1], end_date=date(2022, 5, 31), end_reason="调离",
        new=liaison_roster.LiaisonInput(name="接替人二"))
    board = scoreboard.scoreboard(session, 2022, district_id=old.district_id, today=date(2022,
            11, 20))
    st = {s.liaison.id: s for s in board.districts[0].liaisons}
    assert st[people[1].id].demands_status == rules.MISSED
    assert other.filed_on is None
    assert [r.id for r in liaison_roster.replacements(session, old.district_id)] == [new.id,
                                                                                     other.id]


def test_replacement_validation(session):
    li = _liaison(session, "新洲区", "甲", date(2021, 3, 1))
    with pytest.raises(DomainError):
        liaison_roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason=" ",
                          new=liaison_roster.LiaisonInput(name="乙"))
    with pytest.raises(DomainError):
        liaison_roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason="调离",
                          new=liaison_roster.LiaisonInput(name="乙"), filed_on=date(2021, 12, 1))
    liaison_roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason="调离",
                      new=liaison_roster.LiaisonInput(name="乙"))
    with pytest.raises(Conflict):
        liaison_roster.replace_liaison(session, li, end_date=date(2022, 2, 1), end_reason="调离",
                          new=liaison_roster.LiaisonInput(name="丙"))


def test_replacement_keeps_assignments(session):
    d = _district(session, "青山区")
    park = Park(name="青山测试园", district=d)
    session.add(park)
    ent = _enterprise(session, "青山区")
    li = _liaison(session, "青山区", "甲", date(2021, 3, 1))
    li.parks, li.enterprises = [park], [ent]
    session.flush()
    new = liaison_roster.replace_liaison(session, li, end_date=date(2022, 4, 1), end_reason="调离",
                            new=liaison_roster.LiaisonInput(name="乙"))
    assert [p.name for p in new.parks] == ["青山测试园"]
    assert [e.id for e in new.enterprises] == [ent.id]


def test_assignments_stay_in_district(session):
    other = Park(name="外区园", district=_district(session, "武昌区"))
    session.add(other)
    session.flush()
    with pytest.raises(DomainError, match="本区"):
        person = liaison_roster.LiaisonInput(name="甲", start_date=date(2022, 1, 1),
                                             park_ids=[other.id])
        liaison_roster.save_liaison(session, person, district_id=_district(session, "青山区").id)


def test_district_with_zero_liaisons_current_year(session):
    board = scoreboard.scoreboard(session, 2022, district_id=_district(session, "硚口区").id,
                         today=date(2022, 8, 1))
    d = board.districts[0]
    assert d.headcount == 0 and d.liaisons == []
    assert d.rules["quota"].status == rules.AT_RISK  # a vacancy can still be filled this year
    assert {r: d.rules[r].status for r in ("demands", "training", "cases", "assessment")} == \
        dict.fromkeys(("demands", "training", "cases", "assessment"), rules.NA)
    assert d.status == rules.AT_RISK


def test_year_with_no_data(session):
    board = scoreboard.scoreboard(session, 2019, today=date(2023, 1, 1))
    assert len(board.districts) == 14
    for d in board.districts:
        assert d.quota is None and d.headcount == 0
        assert all(r.status == rules.NA for r in d.rules.values())
        assert d.status == rules.NA
    assert all(t.status == rules.NA for t in board.totals.values())
    assert [s.count for s in dashboard_figures.funnel(session, 2019)] == [0, 0, 0, 0, 0]
    tr = dashboard_figures.trends(session, 2019)
    assert all(sum(v) == 0 for v in tr["series"].values()) and len(tr["months"]) == 12
    assert dashboard_figures.drill(session, 2019, "rule_demands").rows == []


def test_current_year_pace(session):
    people = _full_district(session, "黄陂区", 6)
    for li in people[:3]:
        _demand(session, "黄陂区", li, created=_dt(2022, 2, 1), published=_dt(2022, 3))
    early = scoreboard.scoreboard(session, 2022, district_id=people[0].district_id,
                         today=date(2022, 3, 31))
    late = scoreboard.scoreboard(session, 2022, district_id=people[0].district_id,
                        today=date(2022, 9, 30))
    # target 12; by end of March ~3 expected (3 published): on track; by September 9
    assert early.districts[0].rules["demands"].status == rules.ON_TRACK
    assert late.districts[0].rules["demands"].status == rules.AT_RISK
    assert early.districts[0].rules["training"].status == rules.ON_TRACK
    assert late.districts[0].rules["training"].status == rules.AT_RISK
    st = {s.liaison.id: s for s in early.districts[0].liaisons}
    assert st[people[0].id].demands_status == rules.ON_TRACK
    assert st[people[5].id].demands_status == rules.ON_TRACK  # 2 x 90/365 rounds to 0
    assert early.window.elapsed == pytest.approx(90 / 365)


def test_assessment_rule_and_due_list(session):
    a, b, c = _full_district(session, "江汉区", 3)
    newbie = _liaison(session, "江汉区", "新人", date(2022, 4, 1))
    session.add(Assessment(liaison=a, year=2022, result="优秀", reviewer="区局",
                           assessed_on=date(2022, 12, 1)))
    session.flush()
    board = scoreboard.scoreboard(session, 2022, district_id=a.district_id, today=date(2023, 1, 2))
    rule = board.districts[0].rules["assessment"]
    assert (rule.target, rule.actual, rule.status) == (3, 1, rules.MISSED)
    assert rule.note == "待考核2人"
    assert {p.liaison.id for p in board.districts[0].assessment_due_list} == {b.id, c.id}
    assert {li.id for li in book_entries.due_for_assessment(session, 2022,
                                                            a.district_id)} == {b.id, c.id}
    assert newbie.id not in {li.id for li in book_entries.due_for_assessment(session, 2022)}
    with pytest.raises(Conflict):
        book_entries.save_assessment(session, liaison_id=a.id, year=2022, result="合格",
                                     reviewer="x", assessed_on=date(2022, 12, 2))
    book_entries.save_assessment(session, liaison_id=b.id, year=2022, result="合格",
                                 reviewer="王科长", assessed_on=date(2022, 12, 2), score=88)
    assert {li.id for li in book_entries.due_for_assessment(session, 2022, a.district_id)} == {c.id}
    with pytest.raises(DomainError):
        book_entries.save_assessment(session, liaison_id=c.id, year=2022, result="很好",
                                     reviewer="x",
                          assessed_on=date(2022, 12, 2))


def test_cases_rule_counts_reported_only(session):
    _full_district(session, "武昌区", 7)
    d = _district(session, "武昌区")
    for status in ("reported", "reported", "draft", "draft"):
        session.add(Case(district=d, year=2022, title="案例", status=status))
    session.add(Case(district=d, year=2021, title="去年", status="reported"))
    session.flush()
    rule = scoreboard.scoreboard(session, 2022, district_id=d.id,
                        today=date(2023, 1, 1)).districts[0].rules["cases"]
    assert (rule.target, rule.actual, rule.status) == (3, 2, rules.MISSED)


def test_quota_table_and_save(session):
    _full_district(session, "江岸区", 9)
    table = quota.quota_table(session, 2022, on=date(2022, 6, 1))
    assert [(r.district.name, r.existing, r.new, r.total) for r in table.rows][:2] == [
        ("江岸区", 9, 1, 10), ("江汉区", 5, 5, 10)]
    assert (table.total("existing"), table.total("new"), table.total("total")) == (100, 100, 200)
    assert table.rows[0].actual == 9 and table.rows[0].gap == 1
    t2023 = quota.quota_table(session, 2023, on=date(2023, 6, 1))
    assert t2023.inherited and t2023.rows[0].source_year == 2022
    jiangan = _district(session, "江岸区")
    quota.save_quota(session, 2023, {jiangan.id: (10, 2)})
    t2023 = quota.quota_table(session, 2023, on=date(2023, 6, 1))
    assert (t2023.rows[0].total, t2023.rows[0].source_year) == (12, 2023)
    assert quota.quota_table(session, 2022).rows[0].total == 10  # 2022 untouched
    with pytest.raises(DomainError):
        quota.save_quota(session, 2023, {jiangan.id: (-1, 2)})


