"""Meeting pages: role gates, scope, plan form errors, proposal, edits, exports, follow-up."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services import user_accounts
from app.services.meetings import read
from models import BackgroundJob, Match, MatchmakingMeeting
from tests.services.test_meeting_service import form, small_world


@pytest.fixture
def demo(app, session):
    user_accounts.ensure_demo_users(session)
    session.commit()
    small_world(session)  # published demands of 洪山区 (hsadmin's district)


def login(client, username: str) -> None:
    resp = client.post("/login", data={"username": username,
                                       "password": user_accounts.DEMO_PASSWORD})
    assert resp.status_code == 302


def plan_via_form(client, **over):
    return client.post("/meetings/new", data=form(**over))


def planned_meeting(client, session) -> MatchmakingMeeting:
    """Sign in 洪山区's admin and plan a meeting through the form; return it."""
    login(client, "hsadmin")
    plan_via_form(client)
    return session.scalar(select(MatchmakingMeeting))


def test_anonymous_is_sent_to_login(client, demo):
    resp = client.get("/meetings/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("username", ["hsliaison", "whuliaison"])
def test_other_roles_get_403(client, demo, username):
    login(client, username)
    assert client.get("/meetings/").status_code == 403
    assert client.get("/meetings/new").status_code == 403
    assert plan_via_form(client).status_code == 403


def test_district_admin_plans_and_sees_the_proposal(client, session, demo):
    login(client, "hsadmin")
    page = client.get("/meetings/new")
    assert page.status_code == 200 and "生成分场方案" in page.get_data(as_text=True)
    resp = plan_via_form(client)
    assert resp.status_code == 302
    meeting = session.scalar(select(MatchmakingMeeting))
    assert resp.headers["Location"].endswith(f"/meetings/{meeting.id}")
    html = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    # collapsed: one summary line per session with its counts, no timetable until expanded
    assert html.count('class="list-group-item session-card') == 3
    assert html.count('class="small text-muted ms-auto session-counts"') == 3
    assert "号桌" not in html and "<option" not in html.split('id="sessions"')[1]
    # the agenda grid places every session in a slot and a room
    assert 'id="agenda-grid"' in html and html.count('class="small agenda-cell"') == 3
    for ms in meeting.sessions:
        assert ms.title in html and ms.slot_key and ms.room
        body = client.get(f"/meetings/{meeting.id}/sessions/{ms.id}").get_data(as_text=True)
        for w in ms.theme_words:
            assert w in body
        assert "一对一洽谈安排" in body and "号桌" in body
        assert 'list="session-picker"' in body and "<select name=\"to_session_id\"" not in body
    listing = client.get("/meetings/").get_data(as_text=True)
    assert meeting.title in listing


def test_other_district_admin_gets_404_and_city_sees_it(client, session, demo):
    login(client, "hsadmin")
    plan_via_form(client)
    meeting_id = session.scalar(select(MatchmakingMeeting.id))
    client.post("/logout")
    login(client, "dhadmin")
    assert client.get(f"/meetings/{meeting_id}").status_code == 404
    assert client.get(f"/meetings/{meeting_id}/agenda.xlsx").status_code == 404
    assert client.post(f"/meetings/{meeting_id}/replan").status_code == 404
    assert "洪山区专题对接会" not in client.get("/meetings/").get_data(as_text=True)
    client.post("/logout")
    login(client, "city")
    assert client.get(f"/meetings/{meeting_id}").status_code == 200


@pytest.mark.parametrize("over, text", [
    ({"industry_ids": "999999"}, "所选行业不存在"),
    ({"period_from": "2001-01-01", "period_to": "2001-12-31"}, "没有找到符合条件的已发布需求"),
    ({"n_sessions": "12"}, "场次数（12）多于符合条件的需求数（9）"),
    ({"min_demands": "5", "max_demands": "3"}, "每场最少需求数（5）大于最多需求数（3）"),
    ({"max_demands": "abc"}, "每场最多需求数应为整数"),
    ({"held_on": "2020-01-01"}, "新的对接会不能安排在过去"),
    ({"rooms": "1号厅:3.5"}, "容纳人数应为正整数"),
])
def test_bad_input_shows_the_message_on_the_form_and_saves_nothing(client, session, demo, over,
                                                                   text):
    login(client, "hsadmin")
    before = read.counts(session)
    resp = plan_via_form(client, **over)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert text in html
    assert 'value="洪山区专题对接会"' in html  # what the user typed is kept
    session.expire_all()
    assert read.counts(session) == before


def test_a_plan_the_planner_refuses_shows_why_and_writes_no_sessions(client, session, demo):
    login(client, "hsadmin")
    resp = plan_via_form(client, seats="4")  # 3 sessions x 4 seats, 9 experts
    assert resp.status_code == 302
    meeting = session.scalar(select(MatchmakingMeeting))
    assert meeting.status == "draft" and meeting.sessions == []
    html = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert 'id="plan-error"' in html and "需要 12 个专家席位，但可用 9 个" in html
    assert read.counts(session)["meeting_session"] == 0


def test_edit_lock_replan_confirm_and_exports(client, session, demo):
    meeting = planned_meeting(client, session)
    s1, s2, s3 = meeting.sessions
    demand_id = s2.demands[0].demand_id
    resp = client.post(f"/meetings/{meeting.id}/demands/{demand_id}/move",
                       data={"to_session_id": s3.id})
    assert resp.status_code == 302
    resp = client.post(f"/meetings/{meeting.id}/lock",
                       data={"kind": "session", "id": s1.id, "locked": "1"})
    assert resp.status_code == 302
    session.expire_all()
    kept = {sd.demand_id for sd in s1.demands}
    assert client.post(f"/meetings/{meeting.id}/replan").status_code == 302
    session.expire_all()
    assert session.get(type(s1), s1.id).locked
    assert {sd.demand_id for sd in session.get(type(s1), s1.id).demands} == kept
    assert demand_id in {sd.demand_id for sd in session.get(type(s3), s3.id).demands}

    assert client.post(f"/meetings/{meeting.id}/confirm").status_code == 302
    session.expire_all()
    assert session.get(MatchmakingMeeting, meeting.id).status == "confirmed"
    client.post(f"/meetings/{meeting.id}/replan")
    html = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "不能再调整方案" in html
    assert 'id="replan-btn"' not in html

    agenda = client.get(f"/meetings/{meeting.id}/agenda.xlsx")
    assert agenda.status_code == 200
    assert agenda.mimetype.endswith("spreadsheetml.sheet")
    assert load_workbook(io.BytesIO(agenda.data)).sheetnames == ["议程", "分场需求", "一对一洽谈"]
    inv = client.get(f"/meetings/{meeting.id}/invitations.xlsx")
    assert load_workbook(io.BytesIO(inv.data)).sheetnames[:4] == ["专家", "相关企业", "创投机构",
                                                                   "高校院所"]
    ics = client.get(f"/meetings/{meeting.id}/sessions/{s1.id}.ics")
    assert ics.mimetype == "text/calendar"
    assert b"BEGIN:VEVENT\r\n" in ics.data and b"STATUS:CONFIRMED" in ics.data
    printed = client.get(f"/meetings/{meeting.id}/print").get_data(as_text=True)
    assert "@media print" in printed and s1.title in printed


def test_checkin_outcome_and_followup_pages(client, session, demo):
    meeting = planned_meeting(client, session)
    assert client.get(f"/meetings/{meeting.id}/checkin").status_code == 200
    client.post(f"/meetings/{meeting.id}/confirm")
    session.expire_all()
    inv_ids = [i.id for ms in meeting.sessions for i in ms.invitations][:2]
    resp = client.post(f"/meetings/{meeting.id}/checkin", data={"attended": inv_ids})
    assert resp.status_code == 302
    session.expire_all()
    attended = [i.id for ms in meeting.sessions for i in ms.invitations if i.attended]
    assert attended == inv_ids
    slot = meeting.sessions[0].slots[0]
    client.post(f"/meetings/{meeting.id}/outcomes",
                data={"slot_id": slot.id, "what": "outcome", "outcome": "interested"})
    bad = client.post(f"/meetings/{meeting.id}/outcomes",
                      data={"slot_id": slot.id, "what": "followup", "agreement": "1",
                            "followup_amount": "", "followup": "已签约"})
    assert bad.status_code == 422 and "达成合作须填写合同金额" in bad.get_data(as_text=True)
    ok = client.post(f"/meetings/{meeting.id}/outcomes",
                     data={"slot_id": slot.id, "what": "followup", "agreement": "1",
                           "followup_amount": "88", "followup_on": "2027-06-01"})
    assert ok.status_code == 302
    session.expire_all()
    match = session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                               Match.expert_id == slot.expert_id))
    assert (match.status, match.contract_amount) == ("signed", 88.0)
    page = client.get(f"/meetings/{meeting.id}/outcomes").get_data(as_text=True)
    assert "生成典型案例草稿" in page


def test_preview_counts_demands(client, demo):
    login(client, "hsadmin")
    html = client.get("/meetings/preview?min_demands=2&max_demands=4").get_data(as_text=True)
    assert 'data-count="9"' in html
    html = client.get("/meetings/preview?period_from=2001-01-01&period_to=2001-01-02"
                      ).get_data(as_text=True)
    assert 'data-count="0"' in html




def test_planning_runs_in_the_background_with_a_progress_bar(app, client, session, demo):
    """With background jobs on, the form returns at once; the job row carries the progress."""
    import time



    app.config["BACKGROUND_JOBS"] = True
    login(client, "hsadmin")
    resp = plan_via_form(client)
    assert resp.status_code == 302
    meeting_id = session.scalar(select(MatchmakingMeeting.id))
    first = client.get(f"/meetings/{meeting_id}/progress")
    assert first.status_code == 200 and 'role="progressbar"' in first.get_data(as_text=True)
    deadline = time.monotonic() + 60
    while True:
        session.expire_all()
        job = session.scalar(select(BackgroundJob).where(BackgroundJob.kind == "meeting_plan"))
        if job.status in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (job.status, job.done, job.total) == ("done", 4, 4)
    done = client.get(f"/meetings/{meeting_id}/progress")
    assert done.headers.get("HX-Refresh") == "true"  # the page reloads to show the plan
    meeting = session.get(MatchmakingMeeting, meeting_id)
    assert meeting.status == "planned" and len(meeting.sessions) == 3


def test_moves_pins_and_refused_edits(client, session, demo):
    meeting = planned_meeting(client, session)
    s1, s2, s3 = meeting.sessions
    demand_id = s1.demands[0].demand_id
    # the searchable picker sends what the organiser typed or picked: "第3场 …"
    resp = client.post(f"/meetings/{meeting.id}/demands/{demand_id}/move",
                       data={"to_session": f"第{s3.seq}场 {s3.title}"})
    assert resp.status_code == 302
    session.expire_all()
    assert demand_id in {sd.demand_id for sd in s3.demands}
    # theme words follow the demands that are now in the session
    texts = " ".join(sd.demand.text for sd in s3.demands)
    assert s3.theme_words and all(w in texts for w in s3.theme_words)
    # pin the third session to the last slot of the day, in the big hall
    resp = client.post(f"/meetings/{meeting.id}/sessions/{s3.id}/place",
                       data={"slot_key": "D1S4", "room": "1号厅"})
    assert resp.status_code == 302
    session.expire_all()
    assert (s3.slot_key, s3.room, s3.pinned) == ("D1S4", "1号厅", True)
    assert s3.starts_at is not None and read.local(s3.starts_at).strftime("%H:%M") == "15:45"
    before = read.counts(session)
    bad = client.post(f"/meetings/{meeting.id}/demands/{demand_id}/move",
                      data={"to_session": "第99场"}, follow_redirects=True)
    assert "没有第99场" in bad.get_data(as_text=True)
    taken = client.post(f"/meetings/{meeting.id}/sessions/{s1.id}/place",
                        data={"slot_key": "D1S4", "room": "1号厅"}, follow_redirects=True)
    assert "已固定给第3场" in taken.get_data(as_text=True)
    session.expire_all()
    assert read.counts(session) == before and (s1.slot_key, s1.pinned) != ("D1S4", True)


def test_a_refused_replan_job_leaves_the_plan_as_it_was(client, session, demo):
    meeting = planned_meeting(client, session)
    before = {ms.id: sorted(sd.demand_id for sd in ms.demands) for ms in meeting.sessions}
    meeting.params = {**meeting.params, "n_sessions": 2, "max_demands": 3}  # 9 demands: no way
    session.commit()
    assert client.post(f"/meetings/{meeting.id}/replan").status_code == 302
    session.expire_all()
    job = session.get(BackgroundJob, meeting.params["job_id"])
    assert job.status == "failed" and "分成 2 场无法满足" in job.message
    after = {ms.id: sorted(sd.demand_id for sd in ms.demands) for ms in meeting.sessions}
    assert after == before and meeting.status == "planned"
    html = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "上次重新分场失败，方案未改动" in html
