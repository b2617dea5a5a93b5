"""The effectiveness check in chromium: the review queue's verdicts, hints and override reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.services import user_accounts
from models import Demand, DemandEvent, TechField
from tests import factories as f

from .conftest import login

pytestmark = pytest.mark.browser

VAGUE = "喷涂线技术升级"
SPECIFIC = "养殖场水泡粪固液分离设备改进"
REASON = "已与企业电话核实：喷涂废水目前每月整槽更换，目标延长到3个月，企业将补充书面说明"


@pytest.fixture
def world(live_server):
    with live_server.app.extensions["db"].Session.begin() as session:
        user_accounts.ensure_demo_users(session)
        field = session.scalar(select(TechField).order_by(TechField.id).limit(1))
        vague = f.demand(session, VAGUE,
                         "公司喷涂线需要技术升级，希望与高校专家合作，提高产品质量。",
                         district="东湖高新区", keywords=["技术", "创新"])
        specific = f.demand(session, SPECIFIC,
                            "养殖场水泡粪的固液分离，目标是降低分离后液体的含固率，现有的几种分离"
                            "设备效果均不太理想。", district="东湖高新区", keywords=["固液分离"],
                            investment=None)
        for d in (vague, specific):
            d.tech_field_id = field.id
            d.submitted_at = clock.now() - timedelta(days=1)
        f.enterprise(session, "武汉测试东湖高新区科技有限公司", "东湖高新区")
        return {"vague": vague.id, "specific": specific.id}


def test_review_queue_shows_verdicts_and_records_an_override(page, live_server, world, artifacts):
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "dhadmin", user_accounts.DEMO_PASSWORD)
    page.goto("/demands/review")
    vague = page.locator(f"#review-{world['vague']}")
    specific = page.locator(f"#review-{world['specific']}")
    assert vague.locator('[data-verdict="vague"]').is_visible()
    assert specific.locator('[data-verdict="specific"]').is_visible()
    assert vague.locator('.hint[data-code="generic_keywords"]').is_visible()
    assert "技术、创新" in vague.inner_text()
    assert specific.locator(".override-form").count() == 0  # a specific demand needs no reason

    vague.locator(".override-form button").click()  # no reason: refused, nothing published
    page.wait_for_url("**/publish")
    assert "请填写不少于 5 字的发布理由" in page.locator(f"#review-{world['vague']}").inner_text()
    page.screenshot(path=str(artifacts / "quality_review_refused.png"), full_page=True)

    page.fill(f"#override-{world['vague']}", REASON)
    page.locator(f"#review-{world['vague']} .override-form button").click()
    page.wait_for_url("**/demands/review")
    row = page.locator("#recent-overrides .override-row", has_text=VAGUE)
    assert REASON in row.inner_text() and "东湖高新区管理员" in row.inner_text()
    page.locator("#recent-overrides").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "quality_review_override.png"), full_page=True)
    with live_server.app.extensions["db"].Session() as session:
        assert session.get(Demand, world["vague"]).status == "published"
        events = session.scalars(select(DemandEvent).where(
            DemandEvent.demand_id == world["vague"], DemandEvent.to_status == "published"))
        assert [e.quality_override for e in events] == [REASON]


def test_live_panel_and_submission_agree_on_the_deadline(page, live_server, world, artifacts):
    login(page, "dhliaison", user_accounts.DEMO_PASSWORD)
    page.goto("/demands/new")
    page.fill("#f-title", SPECIFIC)
    page.fill("#f-enterprise_name", "武汉测试东湖高新区科技有限公司")
    page.fill("#f-problem", "养殖场水泡粪的固液分离，目标是降低分离后液体的含固率，现有的几种分离"
                            "设备效果均不太理想。")
    page.fill("#f-keywords", "固液分离、水泡粪")
    page.select_option("#f-tech_field_id", index=1)
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    page.fill("#f-deadline", yesterday)
    page.locator("#f-keywords").focus()
    page.wait_for_selector('#check-panel .hint[data-code="deadline_passed"]')
    panel = page.locator("#check-panel")
    assert yesterday in panel.inner_text() and "可以提交审核" not in panel.inner_text()
    page.screenshot(path=str(artifacts / "quality_panel_deadline.png"), full_page=True)
    page.fill("#f-deadline", clock.today().isoformat())
    page.locator("#f-keywords").focus()
    page.wait_for_selector("#check-panel .ready-to-submit")
    assert panel.locator('[data-verdict="specific"]').is_visible()
