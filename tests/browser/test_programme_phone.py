"""The book lists on a phone (390 px): one card per row, nothing cut off, no sideways scroll."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.services import user_accounts
from models import Case, District, Liaison, Training

from .conftest import login

pytestmark = pytest.mark.browser


def _fill(session) -> int:
    user_accounts.ensure_demo_users(session)
    d = session.scalar(select(District).where(District.name == "洪山区"))
    people = [Liaison(kind="district", name=f"洪山联络员{i:02d}", district=d,
                      phone=f"1380000{i:04d}", employer_post="洪山区科技创新服务中心 项目主管",
                      start_date=date(2025, 3, 1)) for i in range(12)]
    session.add_all(people)
    for n in range(6):
        session.add(Training(district=d, held_on=date(2026, 3, 2 + n), attendee_count=20,
                             topic=f"企业有效技术需求挖掘与凝练专题培训第{n + 1}期",
                             attendees=people[:8]))
    session.add(Case(district=d, year=2026, title="联络员助力企业攻克激光焊接难题",
                     status="reported", enterprise_name="武汉某激光有限公司",
                     expert_name="某大学 教授", contract_amount=120))
    session.flush()
    return d.id


@pytest.mark.parametrize("path,table", [
    ("/programme/trainings?year=2026", "#trainings-table"),
    ("/programme/cases?year=2026", "#cases-table"),
    ("/programme/roster?district={d}", "#roster-table"),
    ("/programme/replacements", "#replacements-table"),
])
def test_lists_read_as_cards_at_390px(page, live_server, artifacts, path, table):
    with live_server.app.extensions["db"].Session.begin() as session:
        district_id = _fill(session)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "city", user_accounts.DEMO_PASSWORD)
    page.goto(path.format(d=district_id))
    rows = page.locator(f"{table} tbody tr")
    assert rows.count() >= 1
    assert page.locator(f"{table} thead").is_hidden()
    assert rows.first.evaluate("tr => getComputedStyle(tr).display") == "block"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 391, f"{path} scrolls sideways: {width}px"
    # every visible cell lies inside the screen (status and actions are not cut off)
    for box in rows.first.locator("td:visible").evaluate_all(
            "tds => tds.map(td => td.getBoundingClientRect().right)"):
        assert box <= 391
    name = path.split("?")[0].rsplit("/", 1)[-1]
    page.screenshot(path=str(artifacts / f"phone_390_{name}.png"), full_page=True)
