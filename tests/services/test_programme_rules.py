"""The rules of the notice computed on fixtures built for their edge cases."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.errors import Conflict, DomainError
from app.services import programme_exports
from app.services.programme import books, dashboard, quota, roster, rules, scoreboard
from models import (
    Assessment,
    Case,
    Demand,
    District,
    Enterprise,
    Expert,
    Institution,
    Liaison,
    Match,
    MatchEvent,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    Park,
    Training,
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
    new = roster.replace_liaison(
        session, old, end_date=date(2022, 6, 30), end_reason="工作岗位调整",
        new=roster.LiaisonInput(name="接替人", phone="13900000000"), filed_on=date(2022, 7, 10))
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
    _, other = people[1], roster.replace_liaison(
        session, people[1], end_date=date(2022, 5, 31), end_reason="调离",
        new=roster.LiaisonInput(name="接替人二"))
    board = scoreboard.scoreboard(session, 2022, district_id=old.district_id, today=date(2022,
            11, 20))
    st = {s.liaison.id: s for s in board.districts[0].liaisons}
    assert st[people[1].id].demands_status == rules.MISSED
    assert other.filed_on is None
    assert [r.id for r in roster.replacements(session, old.district_id)] == [new.id, other.id]


def test_replacement_validation(session):
    li = _liaison(session, "新洲区", "甲", date(2021, 3, 1))
    with pytest.raises(DomainError):
        roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason=" ",
                          new=roster.LiaisonInput(name="乙"))
    with pytest.raises(DomainError):
        roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason="调离",
                          new=roster.LiaisonInput(name="乙"), filed_on=date(2021, 12, 1))
    roster.replace_liaison(session, li, end_date=date(2022, 1, 1), end_reason="调离",
                      new=roster.LiaisonInput(name="乙"))
    with pytest.raises(Conflict):
        roster.replace_liaison(session, li, end_date=date(2022, 2, 1), end_reason="调离",
                          new=roster.LiaisonInput(name="丙"))


def test_replacement_keeps_assignments(session):
    d = _district(session, "青山区")
    park = Park(name="青山测试园", district=d)
    session.add(park)
    ent = _enterprise(session, "青山区")
    li = _liaison(session, "青山区", "甲", date(2021, 3, 1))
    li.parks, li.enterprises = [park], [ent]
    session.flush()
    new = roster.replace_liaison(session, li, end_date=date(2022, 4, 1), end_reason="调离",
                            new=roster.LiaisonInput(name="乙"))
    assert [p.name for p in new.parks] == ["青山测试园"]
    assert [e.id for e in new.enterprises] == [ent.id]


def test_assignments_stay_in_district(session):
    other = Park(name="外区园", district=_district(session, "武昌区"))
    session.add(other)
    session.flush()
    with pytest.raises(DomainError, match="本区"):
        roster.save_liaison(session, roster.LiaisonInput(name="甲", start_date=date(2022, 1, 1),
                                                park_ids=[other.id]),
                       district_id=_district(session, "青山区").id)


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
    assert [s.count for s in dashboard.funnel(session, 2019)] == [0, 0, 0, 0, 0]
    tr = dashboard.trends(session, 2019)
    assert all(sum(v) == 0 for v in tr["series"].values()) and len(tr["months"]) == 12
    assert dashboard.drill(session, 2019, "rule_demands").rows == []


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
    assert {li.id for li in books.due_for_assessment(session, 2022, a.district_id)} == {b.id, c.id}
    assert newbie.id not in {li.id for li in books.due_for_assessment(session, 2022)}
    with pytest.raises(Conflict):
        books.save_assessment(session, liaison_id=a.id, year=2022, result="合格", reviewer="x",
                          assessed_on=date(2022, 12, 2))
    books.save_assessment(session, liaison_id=b.id, year=2022, result="合格", reviewer="王科长",
                      assessed_on=date(2022, 12, 2), score=88)
    assert {li.id for li in books.due_for_assessment(session, 2022, a.district_id)} == {c.id}
    with pytest.raises(DomainError):
        books.save_assessment(session, liaison_id=c.id, year=2022, result="很好", reviewer="x",
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


# --- funnel, trends, drill-down and case drafts ---------------------------------------------
def _expert(session) -> Expert:
    inst = Institution(name="规则测试大学")
    e = Expert(name="张教授", institution=inst, title="教授")
    session.add(e)
    session.flush()
    return e


def _match(session, demand, expert, status, amount=None, at=None) -> Match:
    m = Match(demand=demand, expert=expert, status=status, contract_amount=amount)
    m.events = [MatchEvent(at=at or _dt(2022, 5), from_status=None, to_status="proposed")]
    if status != "proposed":
        m.events.append(MatchEvent(at=at or _dt(2022, 5), from_status="proposed",
                                   to_status=status))
    session.add(m)
    session.flush()
    return m


def test_funnel_trends_and_drill_agree(session):
    li = _liaison(session, "洪山区", "甲", date(2021, 1, 1))
    ex = _expert(session)
    ex2 = Expert(name="李研究员", institution=ex.institution)
    session.add(ex2)
    d1 = _demand(session, "洪山区", li, created=_dt(2022, 1), published=_dt(2022, 2))
    d2 = _demand(session, "洪山区", li, created=_dt(2022, 3), published=_dt(2022, 4))
    d3 = _demand(session, "洪山区", li, created=_dt(2022, 3), published=_dt(2022, 4))
    _demand(session, "洪山区", li, created=_dt(2022, 5))  # recorded only
    _demand(session, "武昌区", None, created=_dt(2021, 12), published=_dt(2022, 1))
    _match(session, d1, ex, "signed", 120.0, at=_dt(2022, 9))
    _match(session, d1, ex2, "declined")
    _match(session, d2, ex, "introduced")
    _match(session, d3, ex, "proposed")
    fun = {s.key: s for s in dashboard.funnel(session, 2022)}
    assert [fun[k].count for k in rules.FUNNEL_STAGES] == [4, 3, 3, 2, 1]
    assert fun["signed"].amount == 120.0
    hs = _district(session, "洪山区").id
    assert [s.count for s in dashboard.funnel(session, 2022, district_id=hs)] == [4, 3, 3, 2, 1]
    wc = _district(session, "武昌区").id
    assert [s.count for s in dashboard.funnel(session, 2022, district_id=wc)] == [0, 0, 0, 0, 0]
    tr = dashboard.trends(session, 2022)["series"]
    assert tr["recorded"][:5] == [1, 0, 2, 0, 1]
    assert tr["published"][:4] == [1, 1, 0, 2]  # January's is the 2021 cohort's
    assert tr["signed"][8] == 1 and tr["amount"][8] == 120.0
    for stage in rules.FUNNEL_STAGES:
        assert len(dashboard.drill(session, 2022, f"funnel_{stage}").rows) == fun[stage].count
    assert len(dashboard.drill(session, 2022, "trend_published", month=4).rows) == 2
    assert len(dashboard.drill(session, 2022, "trend_signed", month=9).rows) == 1
    board = scoreboard.scoreboard(session, 2022, today=date(2023, 1, 1))
    for d in board.districts:
        rows = dashboard.drill(session, 2022, "rule_demands", district_id=d.district.id).rows
        assert len(rows) == d.rules["demands"].actual
    assert _by_name(board, "洪山区").signed == 1
    assert _by_name(board, "洪山区").contract_amount == 120.0
    assert len(dashboard.drill(session, 2022, "liaisons", liaison_id=li.id).rows) == 1
    with pytest.raises(DomainError):
        dashboard.drill(session, 2022, "nonsense")
    with pytest.raises(DomainError):
        dashboard.drill(session, 2022, "trend_recorded", month=13)


def test_draft_case_from_match(session):
    li = _liaison(session, "东湖高新区", "王联络", date(2021, 1, 1))
    ex = _expert(session)
    d = _demand(session, "东湖高新区", li, created=_dt(2022, 3), published=_dt(2022, 4))
    m = _match(session, d, ex, "signed", 80.0, at=_dt(2022, 10))
    meeting = MatchmakingMeeting(title="光电子专题对接会", district_id=d.district_id,
                                 held_on=date(2022, 6, 8))
    sess = MeetingSession(meeting=meeting, seq=1, title="光通信")
    sess.slots.append(MeetingSlot(demand_id=d.id, expert_id=ex.id, slot=1, table_no=1))
    session.add(meeting)
    session.flush()
    case = books.draft_case_from_match(session, m.id)
    assert case.status == "draft" and case.year == 2022
    assert case.district_id == d.district_id and case.liaison_id == li.id
    assert case.match_id == m.id and case.demand_id == d.id and case.meeting_id == meeting.id
    assert case.enterprise_name == d.enterprise.name
    assert "张教授" in case.expert_name and case.contract_amount == 80.0
    for piece in ("王联络", d.enterprise.name, "光电子专题对接会", "80万元", d.title):
        assert piece in case.summary, piece
    assert books.draft_case_from_match(session, m.id).id == case.id  # one draft per match
    assert m not in books.finished_matches(session)
    # a draft does not count for the rule until it is reported
    rule = scoreboard.scoreboard(session, 2022, district_id=d.district_id,
                        today=date(2023, 1, 1)).districts[0].rules["cases"]
    assert rule.actual == 0
    books.save_case(session, case=case, district_id=case.district_id, year=2022, title=case.title,
                summary=case.summary, liaison_id=li.id, status="reported")
    rule = scoreboard.scoreboard(session, 2022, district_id=d.district_id,
                        today=date(2023, 1, 1)).districts[0].rules["cases"]
    assert rule.actual == 1
    open_match = _match(session, _demand(session, "东湖高新区", li, created=_dt(2022, 5)), ex,
                        "negotiating")
    with pytest.raises(Conflict):
        books.draft_case_from_match(session, open_match.id)


def test_training_attendees_from_district_only(session):
    a = _liaison(session, "江岸区", "甲", date(2021, 1, 1))
    b = _liaison(session, "江汉区", "乙", date(2021, 1, 1))
    with pytest.raises(DomainError, match="本区"):
        books.save_training(session, district_id=a.district_id, held_on=date(2022, 5, 1),
                        topic="培训", attendee_ids=[a.id, b.id])
    t = books.save_training(session, district_id=a.district_id, held_on=date(2022, 5, 1),
                        topic="培训", attendee_ids=[a.id], attendee_count=0)
    assert t.attendee_count == 1  # never fewer than the named attendees


# --- years and months are Beijing time (UTC+8) -------------------------------------------------
@pytest.mark.parametrize("year,month,lo,hi", [
    (2023, None, datetime(2022, 12, 31, 16, tzinfo=UTC), datetime(2023, 12, 31, 16, tzinfo=UTC)),
    (2023, 1, datetime(2022, 12, 31, 16, tzinfo=UTC), datetime(2023, 1, 31, 16, tzinfo=UTC)),
    (2022, 12, datetime(2022, 11, 30, 16, tzinfo=UTC), datetime(2022, 12, 31, 16, tzinfo=UTC)),
    (2024, 2, datetime(2024, 1, 31, 16, tzinfo=UTC), datetime(2024, 2, 29, 16, tzinfo=UTC)),
])
def test_period_bounds_are_beijing_midnights_in_utc(year, month, lo, hi):
    assert rules.period_bounds(year, month) == (lo, hi)
    assert rules.period_bounds(year, month)[0].utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value,local_day", [
    (datetime(2022, 12, 31, 16, 30, tzinfo=UTC), date(2023, 1, 1)),
    (datetime(2022, 12, 31, 15, 30, tzinfo=UTC), date(2022, 12, 31)),
    (datetime(2022, 12, 31, 16, 30), date(2023, 1, 1)),  # naive UTC, as SQLite returns it
])
def test_local_date(value, local_day):
    assert rules.local_date(value) == local_day


def test_new_year_edge_is_counted_in_beijing_time(session):
    li = _liaison(session, "青山区", "跨年", date(2021, 1, 1))
    ex = _expert(session)
    after = datetime(2022, 12, 31, 16, 30, tzinfo=UTC)  # 2023-01-01 00:30 in Beijing
    before = datetime(2022, 12, 31, 15, 30, tzinfo=UTC)  # 2022-12-31 23:30 in Beijing
    new = _demand(session, "青山区", li, created=after, published=after)
    old = _demand(session, "青山区", li, created=before, published=before)
    _match(session, new, ex, "signed", 30.0, at=after)
    _match(session, old, ex, "signed", 20.0, at=before)
    did = li.district_id

    for year, demand, month in ((2023, new, 1), (2022, old, 12)):
        board = scoreboard.scoreboard(session, year, district_id=did, today=date(2024, 6, 1))
        district = board.districts[0]
        assert district.rules["demands"].actual == 1, year
        assert district.liaisons[0].demands_published == 1, year
        assert district.signed == 1, year
        rows = dashboard.drill(session, year, "rule_demands", district_id=did).rows
        assert [r[0] for r in rows] == [demand.code]
        assert [s.count for s in dashboard.funnel(session, year, district_id=did)] == [1, 1, 1,
                1, 1]
        series = dashboard.trends(session, year, district_id=did)["series"]
        expected = [0] * 12
        expected[month - 1] = 1
        assert series["recorded"] == expected, year
        assert series["published"] == expected, year
        assert series["signed"] == expected, year
        for metric in ("trend_recorded", "trend_published", "trend_signed"):
            hit = dashboard.drill(session, year, metric, district_id=did, month=month).rows
            assert [r[0] for r in hit] == [demand.code], (year, metric)
            other = 12 if month == 1 else 1
            assert dashboard.drill(session, year, metric, district_id=did, month=other).rows == []
        ws = load_workbook(io.BytesIO(programme_exports.demands_xlsx(session, year,
                district_id=did))).active
        codes = [c for row in ws.iter_rows(values_only=True) for c in row if c == demand.code]
        assert codes == [demand.code], year

    assert dashboard.drill(session, 2023, "rule_demands",
            district_id=did).rows[0][6] == date(2023, 1, 1)
    assert dashboard.drill(session, 2022, "rule_demands",
            district_id=did).rows[0][6] == date(2022, 12, 31)
    assert {2022, 2023} <= set(dashboard.data_years(session, today=date(2024, 6, 1)))
    signed_new = next(m for m in new.matches if m.status == "signed")
    assert books.draft_case_from_match(session, signed_new.id).year == 2023
