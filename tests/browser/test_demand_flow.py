"""A demand through the pages in chromium: vague intake, hints, fix, submit, publish, match."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.services import user_accounts
from models import Demand, Enterprise, Match
from tests import factories as f

from .conftest import login

pytestmark = pytest.mark.browser

EXPERTS = [
    ("张热控", "武汉大学", "锂电池安全、热失控预警",
     ["动力锂电池热失控预警与电池管理系统研究", "电池包热失控早期气体检测方法"]),
    ("李传感", "华中科技大学", "气体传感器、多传感器融合",
     ["面向电池包的气体传感器阵列与多传感器融合预警", "MEMS 气体传感器低功耗设计"]),
    ("赵储能", "华中科技大学", "储能电站安全、电池管理系统",
     ["储能电池管理系统均衡与热管理", "储能电站火灾预警系统"]),
    ("周膜", "武汉大学", "水处理膜材料", ["反渗透膜污染控制与清洗工艺"]),
]


@pytest.fixture
def world(live_server):
    with live_server.app.extensions["db"].Session.begin() as session:
        user_accounts.ensure_demo_users(session)
        f.enterprise(session, "武汉锂安科技有限公司", "东湖高新区")
        with live_server.app.test_request_context():
            for name, inst, fields, items in EXPERTS:
                f.expert(session, name, items, inst=inst, fields=fields)


def test_liaison_records_fixes_submits_admin_publishes_liaison_sends(browser, page, live_server,
                                                                     world, artifacts):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())

    # 1. A district liaison records a vague demand and sees the hints as they type.
    login(page, "dhliaison", user_accounts.DEMO_PASSWORD)
    page.locator(".sidebar-menu").get_by_text("需求管理").click()
    page.locator(".sidebar-menu").get_by_text("登记需求").click()
    page.wait_for_url("**/demands/new")
    page.fill("#f-title", "电池技术升级")
    page.fill("#f-enterprise_name", "武汉锂安科技有限公司")
    page.check("#f-new_enterprise")
    page.fill("#f-problem", "希望提高产品质量，解决技术难题，寻求专家合作。")
    # Wait for the answer to the last keystrokes (the first answers may be for the title only).
    page.wait_for_function("""() => {
        const h = document.querySelector('#check-panel .hint[data-code="too_short"]');
        return h && !h.textContent.includes('（0字）');
    }""")
    panel = page.locator("#check-panel")
    assert panel.locator('[data-verdict="vague"]').is_visible()
    assert "预期目标缺少可衡量的指标" in panel.inner_text()
    assert panel.locator('.hint[data-field="investment"]').count() == 1
    assert "has-hint" in (page.locator("#f-goals").get_attribute("class") or "")
    page.screenshot(path=str(artifacts / "01_intake_hints.png"), full_page=True)

    # 2. The liaison fixes it; the hints go away as they type; then submits.
    page.fill("#f-title", "高镍三元锂电池包热失控预警系统开发")
    page.fill("#f-problem", "现有电池包热失控预警依赖温度阈值，预警时间不足30秒，无法满足整车安全"
                            "要求，需解决多传感器融合与早期气体检测难题。")
    page.fill("#f-goals", "热失控预警时间≥5分钟，误报率≤1%，系统成本低于2000元/套。")
    page.fill("#f-investment", "200")
    page.fill("#f-keywords", "热失控、电池管理系统、气体传感器")
    page.select_option("#f-tech_field_id", index=1)
    page.select_option("#f-cooperation_mode", "合作研发")
    page.locator('#check-panel [data-verdict="specific"]').wait_for()
    assert panel.locator(".hint").count() == 0
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_url(re.compile(r".*/demands/\d+$"))
    assert page.locator(".alert-success").get_by_text("已提交").is_visible()
    demand_url = page.url
    with live_server.app.extensions["db"].Session() as session:
        demand = session.scalar(select(Demand).join(Enterprise).where(
            Enterprise.name == "武汉锂安科技有限公司"))
        assert demand.status == "submitted"
        demand_id = demand.id

    # 3. The district admin publishes it from the review queue.
    admin_ctx = browser.new_context(base_url=live_server.url, locale="zh-CN",
                                    viewport={"width": 1366, "height": 820})
    admin = admin_ctx.new_page()
    admin.on("dialog", lambda dialog: dialog.accept())
    login(admin, "dhadmin", user_accounts.DEMO_PASSWORD)
    admin.locator(".sidebar-menu").get_by_text("需求管理").click()
    admin.locator(".sidebar-menu").get_by_text("需求审核").click()
    admin.wait_for_url("**/demands/review")
    item = admin.locator(f"#review-{demand_id}")
    assert item.get_by_text("高镍三元锂电池包热失控预警系统开发").is_visible()
    admin.screenshot(path=str(artifacts / "02_review_queue.png"), full_page=True)
    item.get_by_role("button", name="发布").click()
    admin.wait_for_url("**/demands/review")
    assert admin.locator(".alert-success").get_by_text("已发布").is_visible()
    assert admin.locator(f"#review-{demand_id}").count() == 0
    admin_ctx.close()

    # 4. The liaison searches experts: highlighted terms, shares, best item; sends two.
    page.goto(demand_url)
    assert page.locator(".timeline").get_by_text("已发布").first.is_visible()
    page.get_by_role("link", name="匹配专家").first.click()
    page.wait_for_url(f"**/demands/{demand_id}/experts")
    rows = page.locator("tr.expert-row")
    assert rows.count() >= 3
    first = rows.first
    assert first.locator("mark").count() > 0
    assert "最相关成果" in first.inner_text()
    assert "%" in first.locator(".term-shares").inner_text()
    assert "张热控" in first.inner_text()  # the thermal-runaway expert comes first
    assert page.locator("tr.expert-row.weak").get_by_text("周膜").count() <= 1
    page.screenshot(path=str(artifacts / "03_expert_search.png"), full_page=True)
    rows.nth(0).locator("input.pick").check()
    rows.nth(1).locator("input.pick").check()
    assert page.locator("#picked-count").inner_text() == "2"
    page.get_by_role("button", name="发送给驻校联络员").click()
    page.wait_for_url(f"**/demands/{demand_id}/experts*")
    sent = page.locator(".alert-success")
    assert sent.count() >= 1 and "已发送给" in sent.first.inner_text()
    assert page.locator("tr.expert-row .status-badge").count() == 2
    with live_server.app.extensions["db"].Session() as session:
        matches = session.scalars(select(Match).where(Match.demand_id == demand_id)).all()
        assert len(matches) == 2 and all(m.status == "proposed" for m in matches)
        assert session.get(Demand, demand_id).status == "matched"
    assert errors == [], errors
