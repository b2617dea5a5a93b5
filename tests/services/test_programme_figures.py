"""The dashboard's funnel, trends and drill-downs, case drafts, trainings, and years and months
in Beijing time, on fixtures."""


from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from app.errors import Conflict, DomainError
from app.services import programme_exports
from app.services.programme import book_entries, dashboard_figures, rules, scoreboard
from models import (
    Expert,
    Institution,
    Match,
    MatchEvent,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
)
from tests.services.programme_world import (
    _by_name,
    _demand,
    _district,
    _dt,
    _liaison,
)


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
    fun = {s.key: s for s in dashboard_figures.funnel(session, 2022)}
    assert [fun[k].count for k in rules.FUNNEL_STAGES] == [4, 3, 3, 2, 1]
    assert fun["signed"].amount == 120.0
    hs = _district(session, "洪山区").id
    funnel = dashboard_figures.funnel(session, 2022, district_id=hs)
    assert [s.count for s in funnel] == [4, 3, 3, 2, 1]
    wc = _district(session, "武昌区").id
    funnel = dashboard_figures.funnel(session, 2022, district_id=wc)
    assert [s.count for s in funnel] == [0, 0, 0, 0, 0]
    tr = dashboard_figures.trends(session, 2022)["series"]
    assert tr["recorded"][:5] == [1, 0, 2, 0, 1]
    assert tr["published"][:4] == [1, 1, 0, 2]  # January's is the 2021 cohort's
    assert tr["signed"][8] == 1 and tr["amount"][8] == 120.0
    for stage in rules.FUNNEL_STAGES:
        assert len(dashboard_figures.drill(session, 2022,
                                           f"funnel_{stage}").rows) == fun[stage].count
    assert len(dashboard_figures.drill(session, 2022, "trend_published", month=4).rows) == 2
    assert len(dashboard_figures.drill(session, 2022, "trend_signed", month=9).rows) == 1
    board = scoreboard.scoreboard(session, 2022, today=date(2023, 1, 1))
    for d in board.districts:
        rows = dashboard_figures.drill(session, 2022, "rule_demands",
                                       district_id=d.district.id).rows
        assert len(rows) == d.rules["demands"].actual
    assert _by_name(board, "洪山区").signed == 1
    assert _by_name(board, "洪山区").contract_amount == 120.0
    assert len(dashboard_figures.drill(session, 2022, "liaisons", liaison_id=li.id).rows) == 1
    with pytest.raises(DomainError):
        dashboard_figures.drill(session, 2022, "nonsense")
    with pytest.raises(DomainError):
        dashboard_figures.drill(session, 2022, "trend_recorded", month=13)


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
    case = book_entries.draft_case_from_match(session, m.id)
    assert case.status == "draft" and case.year == 2022
    assert case.district_id == d.district_id and case.liaison_id == li.id
    assert case.match_id == m.id and case.demand_id == d.id and case.meeting_id == meeting.id
    assert case.enterprise_name == d.enterprise.name
    assert "张教授" in case.expert_name and case.contract_amount == 80.0
    for piece in ("王联络", d.enterprise.name, "光电子专题对接会", "80万元", d.title):
        assert piece in case.summary, piece
    assert book_entries.draft_case_from_match(session, m.id).id == case.id  # one draft per match
    assert m not in book_entries.finished_matches(session)
    # a draft does not count for the rule until it is reported
    rule = scoreboard.scoreboard(session, 2022, district_id=d.district_id,
                        today=date(2023, 1, 1)).districts[0].rules["cases"]
    assert rule.actual == 0
    book_entries.save_case(session, case=case, district_id=case.district_id, year=2022,
                           title=case.title,
                summary=case.summary, liaison_id=li.id, status="reported")
    rule = scoreboard.scoreboard(session, 2022, district_id=d.district_id,
                        today=date(2023, 1, 1)).districts[0].rules["cases"]
    assert rule.actual == 1
    open_match = _match(session, _demand(session, "东湖高新区", li, created=_dt(2022, 5)), ex,
                        "negotiating")
    with pytest.raises(Conflict):
        book_entries.draft_case_from_match(session, open_match.id)


def test_training_attendees_from_district_only(session):
    a = _liaison(session, "江岸区", "甲", date(2021, 1, 1))
    b = _liaison(session, "江汉区", "乙", date(2021, 1, 1))
    with pytest.raises(DomainError, match="本区"):
        book_entries.save_training(session, district_id=a.district_id, held_on=date(2022, 5, 1),
                        topic="培训", attendee_ids=[a.id, b.id])
    t = book_entries.save_training(session, district_id=a.district_id, held_on=date(2022, 5, 1),
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
        rows = dashboard_figures.drill(session, year, "rule_demands", district_id=did).rows
        assert [r[0] for r in rows] == [demand.code]
        funnel = dashboard_figures.funnel(session, year, district_id=did)
        assert [s.count for s in funnel] == [1, 1, 1, 1, 1]
        series = dashboard_figures.trends(session, year, district_id=did)["series"]
        expected = [0] * 12
        expected[month - 1] = 1
        assert series["recorded"] == expected, year
        assert series["published"] == expected, year
        assert series["signed"] == expected, year
        for metric in ("trend_recorded", "trend_published", "trend_signed"):
            hit = dashboard_figures.drill(session, year, metric, district_id=did, month=month).rows
            assert [r[0] for r in hit] == [demand.code], (year, metric)
            other = 12 if month == 1 else 1
            assert dashboard_figures.drill(session, year, metric, district_id=did,
                                           month=other).rows == []
        ws = load_workbook(io.BytesIO(programme_exports.demands_xlsx(session, year,
                district_id=did))).active
        codes = [c for row in ws.iter_rows(values_only=True) for c in row if c == demand.code]
        assert codes == [demand.code], year

    assert dashboard_figures.drill(session, 2023, "rule_demands",
            district_id=did).rows[0][6] == date(2023, 1, 1)
    assert dashboard_figures.drill(session, 2022, "rule_demands",
            district_id=did).rows[0][6] == date(2022, 12, 31)
    assert {2022, 2023} <= set(dashboard_figures.data_years(session, today=date(2024, 6, 1)))
    signed_new = next(m for m in new.matches if m.status == "signed")
    assert book_entries.draft_case_from_match(session, signed_new.id).year == 2023
