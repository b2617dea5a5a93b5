"""Open the programme dashboard in chromium, drill into a district and download its roster."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services import user_accounts
from models import (
    Case,
    Demand,
    District,
    Enterprise,
    Liaison,
    Match,
    MatchEvent,
    Park,
    Training,
)

from .. import factories
from .conftest import login

pytestmark = pytest.mark.browser


def _fill(session) -> None:
    """A small programme: two staffed districts, demands along the funnel, a training, a case."""
    user_accounts.ensure_demo_users(session)
    expert = factories.expert(session, "周教授", [], inst="浏览器测试大学")
    for name, n in (("洪山区", 15), ("江岸区", 4)):
        d = session.scalar(select(District).where(District.name == name))
        park = Park(name=f"{name}创新园", district=d)
        ent = Enterprise(name=f"武汉{name}光电有限公司", district=d, is_key=True)
        session.add_all([park, ent])
        people = [Liaison(kind="district", name=f"{name[:1]}联络员{i:02d}", district=d,
                          phone=f"1380000{i:04d}", employer_post="创新园 主任",
                          start_date=date(2021, 3, 1) if i < 10 else date(2022, 11, 1),
                          parks=[park], enterprises=[ent]) for i in range(n)]
        session.add_all(people)
        session.flush()
        for i, li in enumerate(people[:8]):
            for month in (3, 9):
                dm = Demand(code=f"B{d.id}-{i}-{month}", enterprise=ent, district=d, liaison=li,
                            title=f"{name}激光加工需求{i}-{month}", status="published",
                            publishable=True, created_at=datetime(2022, month, 1, tzinfo=UTC),
                            published_at=datetime(2022, month, 10, tzinfo=UTC))
                session.add(dm)
                if i < 3 and month == 3:
                    status = "signed" if i == 0 else "accepted"
                    m = Match(demand=dm, expert=expert, status=status,
                              contract_amount=150.0 if status == "signed" else None)
                    m.events = [MatchEvent(at=datetime(2022, 6, 1, tzinfo=UTC),
                                           to_status=status)]
                    session.add(m)
        session.add(Training(district=d, held_on=date(2022, 5, 20), topic="需求挖掘专题培训",
                             attendees=people[:5], attendee_count=12))
        session.add(Case(district=d, year=2022, title=f"{name}典型案例", status="reported"))


def test_dashboard_drill_and_roster_download(page, live_server, artifacts):
    with live_server.app.extensions["db"].Session.begin() as session:
        _fill(session)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "city", user_accounts.DEMO_PASSWORD)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/programme/dashboard?year=2022")
    page.locator("body[data-charts-ready='1']").wait_for()
    assert page.locator("#chart-funnel svg").count() == 1  # ECharts drew (vendored, no CDN)
    assert page.locator("#chart-trends svg").count() == 1
    matrix = page.locator("#status-matrix tbody tr")
    assert matrix.count() == 14
    row = page.locator("#status-matrix tr[data-district='7']")  # 洪山区
    assert row.locator("th").inner_text().strip() == "洪山区"
    # 15 liaisons + the demo account's liaison (刘晓雯) against a quota of 15
    assert "16/15" in row.locator("td").nth(0).inner_text()
    page.screenshot(path=str(artifacts / "programme_dashboard_city.png"), full_page=True)

    # drill into the district
    row.locator("a.district-link").click()
    page.wait_for_url("**/programme/dashboard?year=2022&district=7")
    page.locator("body[data-charts-ready='1']").wait_for()
    assert "洪山区联络员工作指标看板" in page.locator("h1").inner_text()
    liaisons = page.locator("#liaison-table tbody tr")
    assert liaisons.count() == 16
    # the November joiners owe nothing this year
    late = page.locator("#liaison-table tbody tr", has_text="洪联络员12")
    assert "0/0" in late.inner_text() and "不适用" in late.inner_text()
    page.screenshot(path=str(artifacts / "programme_dashboard_district.png"), full_page=True)

    # a figure drills down to its rows
    page.locator("a[data-funnel='signed']").click()
    page.wait_for_url("**/dashboard/drill?**")
    assert page.locator("#drill-table tbody tr").count() == 1
    assert "洪山区激光加工需求0-3" in page.locator("#drill-table").inner_text()
    page.go_back()

    with page.expect_download() as info:
        page.locator("#roster-export").click()
    download = info.value
    path = artifacts / "roster_hongshan.xlsx"
    download.save_as(str(path))
    ws = load_workbook(io.BytesIO(path.read_bytes())).active
    assert ws["A3"].value == "所属区：洪山区（盖章）"
    assert ws.cell(row=5, column=2).value == "姓名"
    assert ws.max_row == 5 + 16
    parks = [ws.cell(row=r, column=5).value for r in range(6, ws.max_row + 1)]
    assert parks.count("洪山区创新园") == 15
    assert errors == []
