"""The whole flow in chromium: intake with hints, review, expert search, campus review, outcome.

A district liaison records a vague demand and sees the effectiveness hints, fixes it and submits
it; the district admin publishes it; the liaison ranks experts and sends two; the campus liaison
accepts one, declines the other with a reason, records the introduction and a signed contract;
the district liaison sees the outcome on the demand and on the match. Every step is saved as
artifacts/flow_NN_*.png.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.services import user_accounts
from models import Demand, Match
from tests import factories

from .conftest import login

pytestmark = pytest.mark.browser

TITLE = "动力电池包热失控早期预警系统开发"
PROBLEM = ("公司生产储能电池包，现有电池管理系统只监测电压和温度，热失控发生前难以及早发现，"
           "去年出现2次电芯鼓包起火事故。目前依靠人工巡检，漏检率高。希望与高校合作开发基于"
           "气体传感器和多参数融合的热失控早期预警算法。")
GOALS = "预警提前时间≥5分钟，误报率≤1%，漏报率≤0.5%，完成100套电池包的示范应用。"


@pytest.fixture
def flow_data(live_server):
    with live_server.app.extensions["db"].Session.begin() as session:
        user_accounts.ensure_demo_users(session)
        session.flush()
        factories.expert(session, "李储能", [
            "动力电池热失控早期预警 气体传感器 多参数融合 电池管理系统",
            "锂离子电池热失控机理与抑制"], inst="武汉大学", fields="电池安全；热失控预警",
            field="新能源与节能")
        factories.expert(session, "王传感", [
            "电池包气体传感器阵列 热失控特征气体检测", "半导体气体传感器"],
            inst="武汉大学", fields="气体传感器；电池安全监测", field="电子信息")
        factories.expert(session, "赵光谱", ["植物病害高光谱遥感识别"], inst="华中科技大学",
                         fields="遥感", field="电子信息")
    return live_server


def _as(browser, live_server, username: str):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                  viewport={"width": 1366, "height": 860})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm prompts
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login(page, username, user_accounts.DEMO_PASSWORD)
    return context, page, errors


def test_full_flow(browser, flow_data, artifacts):
    server = flow_data
    shots = artifacts

    # 1. the district liaison records a vague demand and sees the hints
    ctx, page, errors = _as(browser, server, "dhliaison")
    page.goto("/demands/new")
    page.fill("#f-title", "提升产品质量")
    page.fill("#f-enterprise_name", "武汉光谷储能科技有限公司")
    page.check("#f-new_enterprise")
    page.fill("#f-problem", "希望提升产品质量，找高校专家合作。")
    page.locator("#check-panel .hint").first.wait_for()
    hints = page.locator("#check-panel .hint-message").all_inner_texts()
    assert any("预期目标" in h for h in hints) and any("标题过于笼统" in h for h in hints)
    assert page.locator("#check-panel [data-verdict=vague]").is_visible()
    page.screenshot(path=str(shots / "flow_01_intake_hints.png"), full_page=True)

    # 2. fixes it and submits it
    page.fill("#f-title", TITLE)
    page.select_option("#f-tech_field_id", label="新能源与节能")
    page.fill("#f-problem", PROBLEM)
    page.fill("#f-goals", GOALS)
    page.fill("#f-investment", "200")
    page.fill("#f-keywords", "热失控、电池管理系统、气体传感器")
    page.check("#f-publishable")
    page.locator("#check-panel .verdict[data-verdict=specific]").wait_for()
    page.click("button[name=action][value=submit]")
    page.wait_for_url(re.compile(r"/demands/\d+$"))
    assert "已提交" in page.locator(".alert-success").inner_text()
    demand_url = page.url
    page.screenshot(path=str(shots / "flow_02_submitted.png"), full_page=True)
    ctx.close()

    # 3. the district admin publishes it
    ctx, page, errors_admin = _as(browser, server, "dhadmin")
    page.goto("/demands/review")
    item = page.locator(".review-item", has_text=TITLE)
    item.get_by_role("button", name="发布").click()
    page.wait_for_url("**/demands/review")
    assert "已发布" in page.locator(".alert-success").inner_text()
    page.goto(demand_url)
    assert page.locator(".status-badge[data-status=published]").first.is_visible()
    page.screenshot(path=str(shots / "flow_03_published.png"), full_page=True)
    ctx.close()

    # 4. the liaison ranks experts and sends two
    ctx, page, errors2 = _as(browser, server, "dhliaison")
    page.goto(demand_url + "/experts")
    rows = page.locator("tr.expert-row")
    names = [rows.nth(i).locator("a.expert-link").inner_text() for i in range(min(rows.count(), 3))]
    assert names[:2] == ["李储能", "王传感"] or names[:2] == ["王传感", "李储能"]
    for name in ("李储能", "王传感"):
        page.locator("tr.expert-row", has_text=name).locator("input.pick").check()
    page.fill("input[name=note]", "企业希望年内完成样机")
    page.click("#send-btn")
    page.wait_for_url(re.compile(r"/demands/\d+/experts"))
    assert "武汉大学" in page.locator(".alert-success").first.inner_text()
    page.screenshot(path=str(shots / "flow_04_experts_sent.png"), full_page=True)
    ctx.close()

    # 5. the campus liaison sees both in the queue, accepts one and declines the other
    ctx, page, errors3 = _as(browser, server, "whuliaison")
    page.goto("/matches/campus")
    cards = page.locator(".queue-card", has_text=TITLE)
    assert cards.count() == 2
    assert page.get_by_text("企业希望年内完成样机").first.is_visible()
    page.screenshot(path=str(shots / "flow_05_campus_queue.png"), full_page=True)
    accept_card = page.locator(".queue-card", has_text="李储能")
    accept_card.locator("form[data-action=accept] input[name=reason]").fill("专家下周与企业面谈")
    accept_card.locator("form[data-action=accept] button").click()
    page.wait_for_url("**/matches/campus?tab=pending")
    decline_card = page.locator(".queue-card", has_text="王传感")
    decline_card.locator("form[data-action=decline] button").click()  # no reason: refused
    assert page.locator("form[data-action=decline] .invalid-feedback").inner_text() \
        == "请填写拒绝的原因。"
    decline_card = page.locator(".queue-card", has_text="王传感")
    decline_card.locator("form[data-action=decline] textarea").fill("专家近期出国访学，无法承接")
    decline_card.locator("form[data-action=decline] button").click()
    page.wait_for_url("**/matches/campus?tab=pending")
    assert page.locator(".queue-card", has_text=TITLE).count() == 0

    # 6. records the introduction and the signed contract on the match page
    page.goto("/matches/campus?tab=active")
    page.locator(".queue-card", has_text="李储能").get_by_role("link", name=TITLE).click()
    page.wait_for_url(re.compile(r"/matches/\d+$"))
    match_url = page.url
    page.fill("form[data-action=introduce] input[name=reason]", "已组织双方在企业现场会谈")
    page.click("form[data-action=introduce] button")
    page.wait_for_url(match_url)
    page.fill("form[data-action=sign] input[name=contract_amount]", "120")
    page.fill("form[data-action=sign] input[name=reason]", "签订技术开发合同")
    page.click("form[data-action=sign] button")
    page.wait_for_url(match_url)
    assert page.locator("#match-status .status-badge").get_attribute("data-status") == "signed"
    assert page.locator("#enterprise-contact").count() in (0, 1)
    page.screenshot(path=str(shots / "flow_06_contract_signed.png"), full_page=True)
    ctx.close()

    # 7. the district liaison sees the outcome on the demand and on the match
    ctx, page, errors4 = _as(browser, server, "dhliaison")
    page.goto(demand_url)
    table = page.locator(".match-table")
    assert "合同金额 120 万元" in table.locator("tr", has_text="李储能").inner_text()
    assert "专家近期出国访学" in table.locator("tr", has_text="王传感").inner_text()
    page.screenshot(path=str(shots / "flow_07_outcome.png"), full_page=True)
    page.goto(match_url)
    steps = page.locator("#match-timeline .timeline-item")
    assert [steps.nth(i).get_attribute("data-status") for i in range(steps.count())] == [
        "proposed", "accepted", "introduced", "signed"]
    assert "王立成" in page.locator("#match-timeline").inner_text()
    page.screenshot(path=str(shots / "flow_08_outcome_timeline.png"), full_page=True)
    ctx.close()

    with server.app.extensions["db"].Session() as session:
        demand = session.scalar(select(Demand).where(Demand.title == TITLE))
        statuses = {m.expert.name: m.status for m in session.scalars(
            select(Match).where(Match.demand_id == demand.id))}
    assert statuses == {"李储能": "signed", "王传感": "declined"}
    # typing fast makes htmx (hx-sync="this:replace") abort superseded checks: not an error
    errors = [e for e in errors if not e.startswith("htmx:")]
    # the refused decline answers 400 with the form and its message: the only expected one
    assert errors3 == ["Failed to load resource: the server responded with a status of 400 "
                       "(BAD REQUEST)"]
    assert errors + errors_admin + errors2 + errors4 == []
