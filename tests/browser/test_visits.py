"""A district liaison records a visit in chromium; the coverage view and the log show it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app import clock
from app.services import user_accounts
from models import District, Enterprise, Liaison, Park, User

from .conftest import login

pytestmark = pytest.mark.browser


def test_liaison_records_a_visit_and_sees_coverage(page, live_server, artifacts):
    with live_server.app.extensions["db"].Session.begin() as session:
        user_accounts.ensure_demo_users(session)
        user = session.scalar(select(User).where(User.username == "hsliaison"))
        hs = session.get(District, user.district_id)
        park = Park(name="洪山走访测试园", district=hs)
        firm = Enterprise(name="武汉走访测试光电有限公司", district=hs, is_key=True, park=park)
        session.add_all([park, firm])
        liaison = session.get(Liaison, user.liaison_id)
        liaison.start_date = date(2024, 1, 1)
        liaison.parks = [park]
        liaison.enterprises = [firm]
    login(page, "hsliaison", user_accounts.DEMO_PASSWORD)
    page.goto("/visits/new")
    # the app answers in Chinese next to the field (no browser bubble: the form is novalidate)
    page.fill("#f-visited_on", "2026/3/1")
    page.click("form[method=post] button[type=submit] >> text=保存")
    assert "走访日期应按 年-月-日 填写" in page.inner_text("main")
    assert "请填写接待人员" in page.inner_text("main")
    page.fill("#f-visited_on", clock.today().isoformat())
    page.select_option("#f-enterprise_id", label="武汉走访测试光电有限公司（重点企业）")
    page.fill("#f-people_met", "技术总监 某某")
    page.fill("#f-findings", "激光器散热不足，需要热设计方面的专家")
    page.fill("#f-follow_up", "下周协助凝练需求")
    page.click("form[method=post] button[type=submit] >> text=保存")
    page.wait_for_url("**/visits/*")
    assert "激光器散热不足" in page.inner_text("#visit-detail")
    page.screenshot(path=str(artifacts / "visit_record_liaison.png"), full_page=True)
    page.goto("/visits/coverage")
    row = page.locator("#coverage-table tbody tr").first
    assert "洪山走访测试园" in row.inner_text()  # the assigned park is still unvisited
    assert "武汉走访测试光电有限公司" not in row.inner_text()
    page.screenshot(path=str(artifacts / "visit_coverage_liaison.png"), full_page=True)
