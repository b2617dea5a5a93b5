"""Meeting services: plan, edit, lock, re-plan, confirm, bad input, outcomes, exports."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.errors import Conflict, DomainError, Forbidden, NotFound
from app.services.meetings import edit, exports, inputs, organiser_checks, outcomes, read
from app.services.meetings import plan as meeting_plan
from app.services.programme import book_entries
from models import District, Industry, Match, MatchEvent, MatchmakingMeeting, User
from tests import factories as f

TOPICS = {
    "battery": (
        ["动力锂电池热失控预警系统", "固态锂电池电解质界面改性", "锂电池管理系统荷电状态估计"],
        ["锂电池热失控机理与预警", "固态电解质锂离子电池材料", "电池管理系统与荷电状态估计算法"],
    ),
    "pharma": (
        ["单克隆抗体药物纯化工艺优化", "疫苗冻干保护剂配方开发", "小分子抗肿瘤药物合成路线优化"],
        ["抗体药物纯化与层析工艺", "疫苗冻干制剂与保护剂", "抗肿瘤小分子药物合成化学"],
    ),
    "photonics": (
        ["半导体激光器芯片封装散热", "光纤光栅传感器解调系统", "红外焦平面探测器读出电路"],
        ["半导体激光器芯片与封装热管理", "光纤光栅传感与解调技术", "红外探测器读出集成电路"],
    ),
}


def make_user(session, role: str, district: str | None = "洪山区") -> User:
    n = session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
    u = User(username=f"m{n + 1}_{role}", password_hash="x", display_name=f"用户{n + 1}",
             role=role)
    if district:
        u.district_id = session.scalar(select(District.id).where(District.name == district))
    session.add(u)
    session.flush()
    return u


def small_world(session, *, experts: bool = True, district: str = "洪山区") -> dict:
    """Nine published demands in three industries and nine experts, committed."""
    industries = list(session.scalars(select(Industry).order_by(Industry.code).limit(3)))
    demands = []
    for (topic, (titles, items)), ind in zip(TOPICS.items(), industries, strict=True):
        for k, title in enumerate(titles):
            ent = f.enterprise(session, f"武汉{topic}{k}科技有限公司", district)
            d = f.demand(session, title, problem=f"{title}中遇到的关键技术难题需要高校专家支持",
                         goals="形成可量产的工艺方案", status="published", district=district)
            d.enterprise = ent
            d.industry_id = ind.id
            demands.append(d)
        if experts:
            for k, item in enumerate(items):
                f.expert(session, f"{topic}专家{k}", [item, item + "应用研究"], inst=f"{topic}大学")
    session.commit()
    return {"demands": demands, "industries": industries}


#: A day in the future whenever the suite runs (a meeting may not be dated in the past).
HELD_ON = (clock.today() + timedelta(days=30)).isoformat()


def form(**over) -> dict:
    data = {"title": "洪山区专题对接会", "held_on": HELD_ON, "venue": "洪山区科创中心",
            "min_demands": "2", "max_demands": "4", "seats": "2",
            "max_sessions_per_expert": "1", "tables": "2", "slot_minutes": "20"}
    data.update(over)
    return data


def plan(session, user, **over):
    return meeting_plan.plan_meeting(session, user, inputs.parse_plan_form(form(**over), user))


@pytest.fixture
def world(app, session):
    return small_world(session)


@pytest.fixture
def admin(session):
    return make_user(session, "district_admin")


def test_plan_makes_sessions_with_experts_invitees_and_a_timetable(session, world, admin):
    meeting = plan(session, admin)
    assert meeting.status == "planned"
    assert len(meeting.sessions) == 3
    placed = [sd.demand_id for ms in meeting.sessions for sd in ms.demands]
    assert sorted(placed) == sorted(d.id for d in world["demands"])
    seen_experts = Counter()
    for ms in meeting.sessions:
        assert 2 <= len(ms.demands) <= 4
        assert ms.theme_words
        # one industry per session: the topics are far apart
        assert len({session.get(type(world["demands"][0]), sd.demand_id).industry_id
                    for sd in ms.demands}) == 1
        experts = [i for i in ms.invitations if i.kind == "expert"]
        assert len(experts) == 2
        seen_experts.update(i.expert_id for i in experts)
        assert {i.kind for i in ms.invitations} >= {"expert", "institution", "enterprise"}
        # demand owners are invited (and can be checked in) as enterprises of their session
        assert read.owner_ids(ms) <= {i.enterprise_id for i in ms.invitations
                                   if i.kind == "enterprise"}
        # every demand meets someone; nobody is double-booked in a slot
        assert {s.demand_id for s in ms.slots} == {sd.demand_id for sd in ms.demands}
        by_slot = Counter((s.slot, s.expert_id) for s in ms.slots)
        assert max(by_slot.values()) == 1
        assert max(Counter((s.slot, s.table_no) for s in ms.slots).values()) == 1
        assert all(s.table_no < 2 for s in ms.slots)
        assert read.local(ms.starts_at).hour == 9 and ms.ends_at > ms.starts_at
    assert max(seen_experts.values()) == 1  # at most one session per expert
    # experts are invited to the session of their own topic
    for ms in meeting.sessions:
        topics = {read.names(session, meeting).experts[i.expert_id].name[:-3]
                  for i in ms.invitations if i.kind == "expert"}
        assert len(topics) == 1


def test_replan_keeps_locked_session_placement_and_seat(session, world, admin):
    meeting = plan(session, admin)
    s1, s2, s3 = meeting.sessions
    edit.set_lock(session, admin, meeting, "session", s1.id, True)
    kept = ({sd.demand_id for sd in s1.demands}, {i.expert_id for i in s1.invitations
                                                  if i.kind == "expert"},
            {(s.demand_id, s.expert_id, s.slot, s.table_no) for s in s1.slots})
    moved_demand = s2.demands[0].demand_id
    s3_before = {sd.demand_id for sd in s3.demands}
    edit.move_demand(session, admin, meeting, moved_demand, s3.id)
    assert all(sd.locked for sd in s2.demands) and all(sd.locked for sd in s3.demands)
    seat = next(i for i in s3.invitations if i.kind == "expert")
    edit.set_lock(session, admin, meeting, "seat", seat.id, True)
    seat_expert, s3_id = seat.expert_id, s3.id
    session.commit()

    notes = meeting_plan.replan(session, admin, meeting)
    session.commit()
    assert notes == []
    by_id = {ms.id: ms for ms in meeting.sessions}
    assert s1.id in by_id and by_id[s1.id].locked
    assert ({sd.demand_id for sd in s1.demands},
            {i.expert_id for i in s1.invitations if i.kind == "expert"},
            {(s.demand_id, s.expert_id, s.slot, s.table_no) for s in s1.slots}) == kept
    assert s3_id in by_id
    # the edited session keeps its own demands plus the moved one (the edit is not undone)
    assert {sd.demand_id for sd in by_id[s3_id].demands} == s3_before | {moved_demand}
    assert next(sd for sd in by_id[s3_id].demands if sd.demand_id == moved_demand).locked
    assert seat_expert in {i.expert_id for i in by_id[s3_id].invitations if i.kind == "expert"}
    placed = [sd.demand_id for ms in meeting.sessions for sd in ms.demands]
    assert sorted(placed) == sorted(d.id for d in world["demands"])


def test_edits_refuse_locked_sessions_and_limits(session, world, admin):
    meeting = plan(session, admin)
    s1, s2, _ = meeting.sessions
    edit.set_lock(session, admin, meeting, "session", s1.id, True)
    with pytest.raises(Conflict, match="已锁定"):
        edit.move_demand(session, admin, meeting, s2.demands[0].demand_id, s1.id)
    expert = next(i for i in s2.invitations if i.kind == "expert")
    with pytest.raises(DomainError, match="场次上限 1"):
        edit.add_expert(session, admin, meeting, meeting.sessions[2].id, expert.expert_id)
    # removing an expert keeps them out of that session on the next re-plan
    edit.set_lock(session, admin, meeting, "session", s1.id, False)
    removed = expert.expert_id
    edit.remove_expert(session, admin, meeting, expert.id)
    assert removed not in {i.expert_id for i in s2.invitations if i.kind == "expert"}
    assert len([i for i in s2.invitations if i.kind == "expert"]) == 1
    meeting_plan.replan(session, admin, meeting)
    for ms in meeting.sessions:
        if ms.id == s2.id:
            assert removed not in {i.expert_id for i in ms.invitations if i.kind == "expert"}


def test_replan_error_names_sessions_and_changes_nothing(session, world, admin):
    meeting = plan(session, admin)
    s1, s2, s3 = meeting.sessions
    for sd in list(s1.demands)[:2]:
        edit.move_demand(session, admin, meeting, sd.demand_id, s3.id)  # s3 now holds 5 > 4
    session.commit()
    before = read.counts(session)
    with pytest.raises(DomainError) as err:
        meeting_plan.replan(session, admin, meeting)
    assert f"第{s3.seq}场" in err.value.message and "K" not in err.value.message
    assert "最多需求数调到 5" in err.value.message
    assert read.counts(session) == before


def test_move_expert_locks_the_seat_and_rebuilds_timetables(session, world, admin):
    meeting = plan(session, admin)
    s1, s2, _ = meeting.sessions
    inv = next(i for i in s1.invitations if i.kind == "expert")
    moved = edit.move_expert(session, admin, meeting, inv.id, s2.id)
    assert moved.locked and moved.session is s2
    assert len([i for i in s2.invitations if i.kind == "expert"]) == 3
    assert moved.expert_id not in {s.expert_id for s in s1.slots}
    inst = read.names(session, meeting).experts[moved.expert_id].institution_id
    assert inst in {i.institution_id for i in s2.invitations if i.kind == "institution"}


def test_confirm_refuses_further_planning(session, world, admin):
    meeting = plan(session, admin)
    edit.confirm(session, admin, meeting)
    session.commit()
    before = read.counts(session)
    with pytest.raises(Conflict, match="不能再调整"):
        meeting_plan.replan(session, admin, meeting)
    with pytest.raises(Conflict):
        edit.move_demand(session, admin, meeting, meeting.sessions[0].demands[0].demand_id,
                      meeting.sessions[1].id)
    with pytest.raises(Conflict):
        edit.set_lock(session, admin, meeting, "session", meeting.sessions[0].id, True)
    with pytest.raises(Conflict):
        edit.confirm(session, admin, meeting)
    assert read.counts(session) == before
    assert meeting.status == "confirmed"


@pytest.mark.parametrize("over, field, text", [
    ({"industry_ids": "999999"}, "industry_ids", "行业不存在"),
    ({"period_from": "2001-01-01", "period_to": "2001-12-31"}, "demands", "没有找到符合条件"),
    ({"n_sessions": "12"}, "n_sessions", "场次数（12）多于符合条件的需求数（9）"),
    ({"min_demands": "5", "max_demands": "3"}, "max_demands", "最少需求数（5）大于最多需求数（3）"),
    ({"min_demands": "4", "max_demands": "4"}, "min_demands", "无法分成每场 4–4 项"),
    ({"n_sessions": "2", "max_demands": "3"}, "n_sessions", "分成 2 场无法满足"),
    ({"seats": "4"}, "seats", "专家席位"),
    ({"held_on": "2020-01-01"}, "held_on", "不能安排在过去"),
    ({"rooms": "1号厅:八十"}, "rooms", "容纳人数应为正整数"),
    ({"rooms": "1号厅"}, "rooms", "名称:容纳人数"),
    ({"slot_times": "10:00-09:00"}, "slot_times", "结束时间不晚于开始时间"),
    ({"slot_times": "09:00-10:30, 10:00-11:00"}, "slot_times", "重叠"),
    ({"people": "专家 查无此人 | 1"}, "people", "没有名为“查无此人”的专家"),
    ({"people": "专家 battery专家0 | 99"}, "people", "1–4 之间的时段序号"),
    ({"people": "老师 张三"}, "people", "第 1 行应以"),
    ({"title": ""}, "title", "请填写对接会名称"),
])
def test_bad_input_is_refused_and_nothing_is_written(session, world, admin, over, field, text):
    before = read.counts(session)
    with pytest.raises(DomainError) as err:
        plan(session, admin, **over)
    assert err.value.field == field
    assert text in err.value.message
    assert read.counts(session) == before  # autoflush: pending rows would be counted too
    assert before["matchmaking_meeting"] == 0


def test_one_demand_is_refused(session, world, admin):
    pick = world["demands"][0]
    before = read.counts(session)
    inp = inputs.parse_plan_form(form(), admin, {"demand_ids": [str(pick.id)]})
    with pytest.raises(DomainError, match="只选择了 1 项需求") as err:
        meeting_plan.plan_meeting(session, admin, inp)
    assert err.value.field == "demands"
    assert read.counts(session) == before


def test_zero_experts_is_refused(app, session, admin):
    small_world(session, experts=False)
    before = read.counts(session)
    with pytest.raises(DomainError, match="没有可邀请的专家") as err:
        plan(session, admin)
    assert err.value.field == "seats"
    assert read.counts(session) == before


def test_district_admin_sees_only_own_district(session, world, admin):
    other = make_user(session, "district_admin", "江岸区")
    city = make_user(session, "city_admin", None)
    meeting = plan(session, admin)
    assert meeting.district_id == admin.district_id
    with pytest.raises(NotFound):
        organiser_checks.get_meeting(session, other, meeting.id)
    assert organiser_checks.get_meeting(session, city, meeting.id) is meeting
    # another district's admin can neither name Hongshan nor reach its demands
    with pytest.raises(Forbidden, match="本区"):
        plan(session, other, district_id=str(admin.district_id))
    with pytest.raises(DomainError, match="没有找到符合条件"):
        plan(session, other)
    with pytest.raises(Forbidden):
        plan(session, make_user(session, "district_liaison"))


def test_outcomes_and_followup_feed_the_match_and_a_case(session, world, admin):
    meeting = plan(session, admin)
    with pytest.raises(Conflict, match="确认后"):
        outcomes.record_outcome(session, admin, meeting, meeting.sessions[0].slots[0].id,
                                "interested")
    edit.confirm(session, admin, meeting)
    invs = [i.id for ms in meeting.sessions for i in ms.invitations][:3]
    assert outcomes.check_in(session, admin, meeting, invs) == 3
    slot = meeting.sessions[0].slots[0]
    outcomes.record_outcome(session, admin, meeting, slot.id, "interested")
    match = session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                               Match.expert_id == slot.expert_id))
    assert match.status == "introduced"
    assert match.demand.status == "matched"
    with pytest.raises(DomainError, match="合同金额"):
        outcomes.record_followup(session, admin, meeting, slot.id, agreement=True, amount=None)
    outcomes.record_followup(session, admin, meeting, slot.id, agreement=True, amount="120",
                      on=date(2027, 6, 10), note="签订技术开发合同")
    assert (match.status, match.contract_amount) == ("signed", 120.0)
    events = list(session.scalars(select(MatchEvent).where(MatchEvent.match_id == match.id)
                                  .order_by(MatchEvent.id)))
    assert [(e.from_status, e.to_status) for e in events] == [(None, "introduced"),
                                                              ("introduced", "signed")]
    assert meeting.title in events[-1].reason and events[-1].contract_amount == 120.0
    assert (slot.followup_agreement, slot.followup_amount) == (True, 120.0)
    case = book_entries.draft_case_from_match(session, match.id)
    assert case.meeting_id == meeting.id and meeting.title in case.summary
    other = meeting.sessions[1].slots[0]
    outcomes.record_outcome(session, admin, meeting, other.id, "not_interested")
    closed = outcomes.record_followup(session, admin, meeting, other.id, agreement=False,
                                      note="需求变更")
    assert closed.status == "closed" and "未达成合作" in closed.reason


def test_agenda_and_invitation_workbooks_read_back(session, world, admin):
    meeting = plan(session, admin)
    wb = load_workbook(io.BytesIO(exports.agenda_xlsx(session, meeting)))
    assert wb.sheetnames == ["议程", "分场需求", "一对一洽谈"]
    rows = list(wb["议程"].iter_rows(values_only=True))
    assert rows[0][:5] == ("日期", "时间", "会议室", "容纳人数", "分场")
    assert len(rows) - 1 == 3
    # by day, time slot, then room: the three small sessions share the first slot, in the
    # smallest rooms that seat them (4号厅 40, 2号厅 and 3号厅 60; 1号厅 80 stays free)
    assert [r[2] for r in rows[1:]] == ["2号厅", "3号厅", "4号厅"]
    assert all(r[1].endswith("09:00–" + r[1][-5:]) for r in rows[1:])
    assert all(r[8] <= r[3] for r in rows[1:])  # everyone invited fits the room
    demands = list(wb["分场需求"].iter_rows(values_only=True))
    assert {r[6] for r in demands[1:]} == {d.title for d in world["demands"]}
    slots = list(wb["一对一洽谈"].iter_rows(values_only=True))
    assert len(slots) - 1 == sum(len(ms.slots) for ms in meeting.sessions)
    assert slots[1][1] == "09:30"  # 09:00 + 30 minutes of demand presentations
    wb = load_workbook(io.BytesIO(exports.invitations_xlsx(session, meeting, admin)))
    assert wb.sheetnames == ["专家", "相关企业", "创投机构", "高校院所", "需求企业"]
    owners = list(wb["需求企业"].iter_rows(values_only=True))
    assert len(owners) - 1 == 9 and owners[0][-1] == "签到"
    experts = list(wb["专家"].iter_rows(values_only=True))
    assert len(experts) - 1 == 6 and {r[4] for r in experts[1:]} == {
        "battery大学", "pharma大学", "photonics大学"}


def test_ics_per_session_follows_rfc5545(session, world, admin):
    meeting = plan(session, admin, title="测试会,含逗号;和分号", venue="武汉\\光谷")
    ms = meeting.sessions[0]
    data = exports.session_ics(session, meeting, ms)
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    data.decode("utf-8")  # folding never splits a character
    lines = exports.unfold(data)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    props = dict(line.split(":", 1) for line in lines)
    assert props["VERSION"] == "2.0"
    assert props["DTSTART"] == HELD_ON.replace("-", "") + "T010000Z"  # 09:00 in Wuhan
    assert props["DTEND"] > props["DTSTART"]
    assert props["UID"].startswith(f"meeting-{meeting.id}-session-{ms.id}@")
    assert props["SUMMARY"].startswith("测试会\\,含逗号\\;和分号·")
    assert props["LOCATION"] == f"武汉\\\\光谷，{ms.room}"
    assert "\\n" in props["DESCRIPTION"] and "一对一洽谈" in props["DESCRIPTION"]


def test_ics_of_one_persons_own_agenda(session, world, admin):
    meeting = plan(session, admin)
    ms = meeting.sessions[1]
    expert = next(i.expert_id for i in ms.invitations if i.kind == "expert")
    name, data = exports.person_ics(session, meeting, "expert", expert)
    lines = exports.unfold(data)
    events = [i for i, line in enumerate(lines) if line == "BEGIN:VEVENT"]
    mine = [s for s in ms.slots if s.expert_id == expert]
    assert len(events) == 1 + len(mine) > 1  # the session, then each of their 1:1 meetings
    summaries = [line for line in lines if line.startswith("SUMMARY:")]
    assert ms.title.split("：")[0] in summaries[0] and summaries[1].startswith("SUMMARY:一对一洽谈")
    assert not any(o.title in "".join(summaries) for o in meeting.sessions if o is not ms)
    owner = session.get(type(world["demands"][0]), ms.demands[0].demand_id).enterprise_id
    assert exports.person_ics(session, meeting, "enterprise", owner)[0]
    with pytest.raises(DomainError, match="不在本次对接会中"):
        exports.person_ics(session, meeting, "expert", 10**9)


def test_ics_needs_a_date(session, world, admin):
    meeting = plan(session, admin, held_on="")
    with pytest.raises(DomainError, match="尚未确定日期"):
        exports.session_ics(session, meeting, meeting.sessions[0])


def test_fold_and_escape():
    assert exports.ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    folded = exports.fold("DESCRIPTION:" + "汉" * 60)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == "DESCRIPTION:" + "汉" * 60


def test_a_meeting_at_nine_reads_nine_after_a_round_trip(session, world, admin):
    """09:00 Beijing is stored as 01:00 UTC and reads back as 09:00 (SQLite and PostgreSQL)."""
    meeting = plan(session, admin, slot_times="09:00-10:30, 10:45-12:15", intro_minutes="30",
                   slot_minutes="20")
    meeting_id = meeting.id
    session.commit()
    session.expire_all()  # read the columns back from the database, not from memory
    again = session.get(MatchmakingMeeting, meeting_id)
    first = again.sessions[0]
    assert first.starts_at.utcoffset() == timedelta(0)  # aware UTC from the column type
    assert (first.starts_at.hour, first.starts_at.minute) == (1, 0)
    assert read.local(first.starts_at).strftime("%H:%M") == "09:00"
    assert clock.fmt(first.starts_at, "%H:%M") == "09:00"
    assert read.slot_time(again, first, 0).strftime("%H:%M") == "09:30"
    lines = exports.unfold(exports.session_ics(session, again, first))
    day = HELD_ON.replace("-", "")
    assert f"DTSTART:{day}T010000Z" in lines
