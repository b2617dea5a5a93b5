"""Plan a matchmaking meeting in chromium: form, proposal, move, lock, re-plan, confirm, export."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from app.services import user_accounts
from tests.services.test_meeting_service import HELD_ON, small_world

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def world(live_server):
    with live_server.app.extensions["db"].Session() as session:
        user_accounts.ensure_demo_users(session)
        session.commit()
        with live_server.app.app_context():
            small_world(session)


def test_plan_edit_lock_replan_confirm_and_download(page, world, artifacts):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "hsadmin", user_accounts.DEMO_PASSWORD)
    page.locator(".sidebar-menu").get_by_text("对接会", exact=True).click()
    page.locator(".sidebar-menu").get_by_text("对接会列表").click()
    page.wait_for_url("**/meetings/")
    page.get_by_role("link", name="策划对接会").click()
    page.wait_for_url("**/meetings/new")

    page.fill("#f-title", "洪山区新能源与生物医药专题对接会")
    page.fill("#f-held_on", HELD_ON)
    page.fill("#f-venue", "洪山区科技成果转化中心报告厅")
    page.click("#preview-btn")
    page.locator("#preview-count[data-count='9']").wait_for()
    page.fill("#f-min_demands", "2")
    page.fill("#f-max_demands", "4")
    page.fill("#f-seats", "2")
    page.fill("#f-tables", "2")
    page.fill("#f-n_days", "2")
    page.fill("#f-slot_times", "09:00-10:30, 14:00-15:30")
    page.fill("#f-rooms", "报告厅:80, 第一会议室:30")
    page.click("#plan-submit")
    page.wait_for_url("**/meetings/*")
    assert page.get_by_text("已提交规划：9 项需求").is_visible()
    cards = page.locator("details.session-card")
    assert cards.count() == 3
    # collapsed: counts per session, no demand rows or timetables until one is opened
    assert page.locator(".session-counts").count() == 3
    assert page.locator("tr[data-demand]").count() == 0
    grid = page.locator("#agenda-grid")
    assert grid.locator("td.agenda-cell").count() == 3
    assert grid.locator("table.agenda").count() == 2  # two days
    grid.screenshot(path=str(artifacts / "meeting_agenda_grid.png"))
    page.screenshot(path=str(artifacts / "meeting_collapsed.png"), full_page=True)

    # open session 2 (its body loads on expand), move its first demand to session 3
    second = cards.nth(1)
    second.locator("summary").click()
    row = second.locator("tr[data-demand]").first
    row.wait_for()
    assert page.locator("details.session-card[open]").count() == 1
    demand_id = row.get_attribute("data-demand")
    assert row.locator("select").count() == 0  # one searchable picker, not a list per row
    row.locator("input[name=to_session]").fill("第3场")
    row.get_by_role("button", name="移动").click()
    page.get_by_text("需求已移到第3场").wait_for()
    third = page.locator("details.session-card").nth(2)
    third.locator("summary").click()
    moved = third.locator(f"tr[data-demand='{demand_id}']")
    moved.wait_for()
    assert moved.locator("button.js-lock.btn-warning").count() == 1  # the placement is locked
    assert page.locator("details.session-card[open]").count() == 1  # one open at a time
    page.screenshot(path=str(artifacts / "meeting_expanded.png"), full_page=True)

    # lock session 1, then re-plan the rest
    first = page.locator("details.session-card").first
    first.locator("summary").click()
    first.locator("tr[data-demand]").first.wait_for()
    first_demands = sorted(first.locator("tr[data-demand]").evaluate_all(
        "rows => rows.map(r => r.dataset.demand)"))
    first.locator("button.js-lock[data-kind=session]").click()
    page.get_by_text("已锁定：").wait_for()
    assert "locked" in page.locator("details.session-card").first.get_attribute("class")
    page.click("#replan-btn")
    page.get_by_text("已提交重新分场").wait_for()
    first = page.locator("details.session-card").first
    first.locator("summary").click()
    first.locator("tr[data-demand]").first.wait_for()
    assert sorted(first.locator("tr[data-demand]").evaluate_all(
        "rows => rows.map(r => r.dataset.demand)")) == first_demands

    # confirm (accepting the confirmation dialog), then download the agenda
    page.click("#confirm-btn")
    page.get_by_text("方案已确认").wait_for()
    assert page.locator("#replan-btn").count() == 0
    assert page.locator(".status-badge[data-status=confirmed]").count() == 1
    with page.expect_download() as info:
        page.click("#agenda-xlsx")
    path = artifacts / "meeting_agenda.xlsx"
    info.value.save_as(str(path))
    wb = load_workbook(path)
    assert wb.sheetnames == ["议程", "分场需求", "一对一洽谈"]
    assert wb["议程"].max_row == 4  # header + three sessions, by day, slot and room
    assert errors == []
