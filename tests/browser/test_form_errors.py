"""The demand and expert forms in chromium: a bad value is answered by the server, in Chinese,
next to its field (no browser bubble), what was typed stays, and nothing is saved."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.services import user_accounts
from models import Demand, Expert
from tests import factories as f

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def world(live_server) -> dict[str, int]:
    """Write the demo users, the demand's enterprise and one 武汉大学 expert (its id)."""
    app = live_server.app
    with app.extensions["db"].Session.begin() as session, app.test_request_context():
        user_accounts.ensure_demo_users(session)
        f.enterprise(session, "武汉锂安科技有限公司", "东湖高新区")
        expert = f.expert(session, "李涂层", ["激光熔覆耐磨涂层制备"], inst="武汉大学")
        session.flush()
        return {"expert": expert.id}


def _count(live_server, model) -> int:
    with live_server.app.extensions["db"].Session() as session:
        return session.scalar(select(func.count(model.id)))


def test_demand_form_answers_bad_values_next_to_the_fields(page, live_server, world, artifacts):
    login(page, "dhliaison", user_accounts.DEMO_PASSWORD)
    page.goto("/demands/new")
    typed = {"title": "高镍三元锂电池包热失控预警系统开发",
             "enterprise_name": "武汉锂安科技有限公司", "contact_phone": "138-abc",
             "contact_email": "zhangsan@", "investment": "两百万",
             "keywords": "热失控、电池管理系统、气体传感器、储能、预警、电池包"}
    for field, value in typed.items():
        page.fill(f"#f-{field}", value)
    with page.expect_navigation():
        page.get_by_role("button", name="保存草稿").click()
    assert page.locator("#form-errors").is_visible()
    for field, message in (("contact_phone", "联系电话格式不正确"),
                           ("contact_email", "电子邮箱格式不正确"),
                           ("investment", "计划投入应为数字"),
                           ("keywords", "关键词最多 5 个（现有 6 个）")):
        feedback = page.locator(f"#e-{field}")
        assert feedback.is_visible() and message in feedback.inner_text(), field
        assert page.locator(f"#f-{field}").get_attribute("aria-invalid") == "true"
    for field, value in typed.items():  # kept as typed (the investment: a text box, not a number)
        assert page.input_value(f"#f-{field}") == value
    page.locator("#f-contact_phone").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "form_errors_demand.png"), full_page=True)
    assert _count(live_server, Demand) == 0


def test_expert_form_answers_bad_values_next_to_the_fields(page, live_server, world, artifacts):
    login(page, "whuliaison", user_accounts.DEMO_PASSWORD)
    page.goto(f"/experts/{world['expert']}/edit")
    for selector, value in (("#f-email", "li@@whu"), ("#f-phone", "电话"),
                            ("#item-year-0", "1900")):
        page.fill(selector, value)
    with page.expect_navigation():
        page.locator("button[name=op][value=save]").last.click()
    assert re.search(r"/experts/\d+/edit$", page.url)
    for selector, message in (("#f-email ~ .invalid-feedback", "电子邮箱格式不正确"),
                              ("#f-phone ~ .invalid-feedback", "联系电话格式不正确"),
                              ("#e-items-0-year", "年份应为 1950 至")):
        feedback = page.locator(selector)
        assert feedback.is_visible() and message in feedback.inner_text(), selector
    assert page.input_value("#item-year-0") == "1900"
    page.screenshot(path=str(artifacts / "form_errors_expert.png"), full_page=True)
    with live_server.app.extensions["db"].Session() as session:
        expert = session.get(Expert, world["expert"])
        assert expert.email != "li@@whu" and [i.year for i in expert.items] != [1900]
