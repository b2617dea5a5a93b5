"""Plan a matchmaking meeting in chromium: form, proposal, move, lock, re-plan, confirm, export."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from app.services import accounts
from tests.test_meeting_service import small_world

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def world(live_server):
    with live_server.app.extensions["db"].Session() as session:
        accounts.ensure_demo_users(session)
        session.commit()
        with live_server.app.app_context():
            small_world(session)


def test_plan_edit_lock_replan_confirm_and_download(page, world, artifacts):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "hsadmin", accounts.DEMO_PASSWORD)
    page.locator(".sidebar-menu").get_by_text("对接会", exact=True).click()
    page.locator(".sidebar-menu").get_by_text("对接会列表").click()
    page.wait_for_url("**/meetings/")
    page.get_by_role("link", name="策划对接会").click()
    page.wait_for_url("**/meetings/new")

    page.fill("#f-title", "洪山区新能源与生物医药专题对接会")
    page.fill("#f-held_on", "2026-12-10")
    page.fill("#f-venue", "洪山区科技成果转化中心报告厅")
    page.click("#preview-btn")
    page.locator("#preview-count[data-count='9']").wait_for()
    page.fill("#f-min_demands", "2")
    page.fill("#f-max_demands", "4")
    page.fill("#f-seats", "2")
    page.fill("#f-tables", "2")
    page.click("#plan-submit")
    page.wait_for_url("**/meetings/*")
    cards = page.locator(".session-card")
    assert cards.count() == 3
    assert page.get_by_text("已生成分场方案：3 个分场，9 项需求").is_visible()
    assert page.locator(".theme-word").count() >= 3
    assert page.locator("table.timetable").count() == 3
    page.screenshot(path=str(artifacts / "meeting_planned.png"), full_page=True)

    # move the first demand of session 2 to session 3
    second = cards.nth(1)
    row = second.locator("tr[data-demand]").first
    demand_id = row.get_attribute("data-demand")
    row.locator("select[name=to_session_id]").select_option(label="移到第3场")
    row.get_by_role("button", name="移动").click()
    page.get_by_text("需求已移到目标分场").wait_for()
    third = page.locator(".session-card").nth(2)
    moved = third.locator(f"tr[data-demand='{demand_id}']")
    assert moved.count() == 1
    assert moved.locator("button.js-lock.btn-warning").count() == 1  # the placement is locked

    # lock session 1, then re-plan the rest
    first = page.locator(".session-card").first
    first_demands = sorted(first.locator("tr[data-demand]").evaluate_all(
        "rows => rows.map(r => r.dataset.demand)"))
    first.locator("button.js-lock[data-kind=session]").click()
    page.get_by_text("已锁定：").wait_for()
    assert page.locator(".session-card").first.get_attribute("class").count("locked") == 1
    page.click("#replan-btn")
    page.get_by_text("已重新分场").wait_for()
    first = page.locator(".session-card").first
    assert sorted(first.locator("tr[data-demand]").evaluate_all(
        "rows => rows.map(r => r.dataset.demand)")) == first_demands
    # the moved demand stays where the organiser put it
    third = page.locator(".session-card").nth(2)
    assert third.locator(f"tr[data-demand='{demand_id}']").count() == 1
    page.screenshot(path=str(artifacts / "meeting_replanned.png"), full_page=True)

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
    assert wb.sheetnames == ["议程", "一对一洽谈"]
    assert wb["议程"].max_row == 10  # header + nine demands
    assert errors == []
