"""走访记录: recording, scope by role, the coverage view and the monthly work report."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.services import user_accounts, visit_log
from models import AuditEvent, Demand, Enterprise, Industry, Liaison, Park, Visit
from tests.factories import PASSWORD, district_named, login


@pytest.fixture
def world(session):
    """Two 洪山区 liaisons (one with an account), a 武昌区 liaison, parks and key firms."""
    hs, wc = district_named(session, "洪山区"), district_named(session, "武昌区")
    industry = session.scalar(select(Industry).order_by(Industry.code))
    park = Park(name="洪山光谷园", district=hs)
    other_park = Park(name="洪山孵化器", district=hs, kind="incubator")
    firm = Enterprise(name="武汉洪测激光有限公司", district=hs, is_key=True, industry=industry,
                      park=park)
    firm2 = Enterprise(name="武汉洪测材料有限公司", district=hs, is_key=True)
    far = Enterprise(name="武汉武测科技有限公司", district=wc, is_key=True)
    a = Liaison(kind="district", name="洪甲", district=hs, start_date=date(2024, 1, 1),
                parks=[park, other_park], enterprises=[firm, firm2])
    b = Liaison(kind="district", name="洪乙", district=hs, start_date=date(2024, 1, 1))
    c = Liaison(kind="district", name="武甲", district=wc, start_date=date(2024, 1, 1),
                enterprises=[far])
    session.add_all([park, other_park, firm, firm2, far, a, b, c])
    session.flush()
    demand = Demand(code="V-1", enterprise=firm, district=hs, liaison=a, title="激光焊接需求",
                    status="draft", created_at=clock.now())
    session.add(demand)
    session.flush()
    user_accounts.create_user(session, "hsl", PASSWORD, "洪甲", "district_liaison",
                         district_id=hs.id, liaison_id=a.id)
    user_accounts.create_user(session, "hsl2", PASSWORD, "洪乙", "district_liaison",
                         district_id=hs.id, liaison_id=b.id)
    user_accounts.create_user(session, "hsa", PASSWORD, "洪山区局", "district_admin",
                         district_id=hs.id)
    user_accounts.create_user(session, "wca", PASSWORD, "武昌区局", "district_admin",
                         district_id=wc.id)
    user_accounts.create_user(session, "cityv", PASSWORD, "市局", "city_admin")
    session.commit()
    return {"hs": hs.id, "wc": wc.id, "park": park.id, "park2": other_park.id, "firm": firm.id,
            "firm2": firm2.id, "far": far.id, "a": a.id, "b": b.id, "c": c.id,
            "demand": demand.id}



def test_liaison_records_a_visit_and_scope_follows_roles(client, session, world):
    login(client, "hsl")
    today = clock.today().isoformat()
    resp = client.post("/visits/new", data={
        "visited_on": today, "enterprise_id": str(world["firm"]), "people_met": "技术总监 某某",
        "findings": "激光焊接良率低，需要工艺优化", "follow_up": "下周推荐专家",
        "demand_ids": [str(world["demand"])]})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    visit = session.scalar(select(Visit))
    assert visit.liaison_id == world["a"] and [d.code for d in visit.demands] == ["V-1"]
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "武汉洪测激光有限公司" in page and "激光焊接良率低" in page and "V-1" in page
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "visit.create")).all()
    assert len(events) == 1 and events[0].entity_id == visit.id

    # field errors in Chinese, nothing written
    resp = client.post("/visits/new", data={"visited_on": "2026/1/2", "people_met": "",
                                            "findings": ""})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "走访日期应按 年-月-日 填写" in page and "请填写接待人员" in page
    resp = client.post("/visits/new", data={
        "visited_on": today, "enterprise_id": str(world["far"]), "people_met": "某",
        "findings": "越区"})
    assert resp.status_code == 422 and "请选择本区的企业" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.query(Visit).count() == 1

    client.get("/logout")
    login(client, "hsl2")  # another liaison of the district: not theirs
    assert client.get(f"/visits/{visit.id}").status_code == 404
    assert "武汉洪测激光有限公司" not in client.get("/visits").get_data(as_text=True)
    client.get("/logout")
    login(client, "hsa")
    assert client.get(f"/visits/{visit.id}").status_code == 200
    client.get("/logout")
    login(client, "wca")
    assert client.get(f"/visits/{visit.id}").status_code == 404
    client.get("/logout")
    login(client, "cityv")
    assert "武汉洪测激光有限公司" in client.get("/visits").get_data(as_text=True)
    assert client.get("/visits/new").status_code == 403


def test_coverage_and_monthly_report(client, session, world):
    year = clock.this_year()
    today = clock.today()
    session.add(Visit(visited_on=today, liaison_id=world["a"], district_id=world["hs"],
                      enterprise_id=world["firm"], park_id=world["park"], people_met="某",
                      findings="了解情况"))
    session.add(Visit(visited_on=date(year - 1, 6, 1), liaison_id=world["a"],
                      district_id=world["hs"], enterprise_id=world["firm2"], people_met="某",
                      findings="去年的走访"))
    session.commit()
    view = visit_log.coverage(session, year, district_id=world["hs"])
    mine = next(c for c in view.liaisons if c.liaison.id == world["a"])
    assert mine.visits == 1
    # last year's visit does not cover this year: firm2 and the incubator are still open
    assert [e.name for e in mine.unvisited_enterprises] == ["武汉洪测材料有限公司"]
    assert [p.name for p in mine.unvisited_parks] == ["洪山孵化器"]
    assert mine.covered_share == 0.5
    assert mine.demands_recorded == 1
    assert view.industries[0][1] == 1

    login(client, "hsa")
    page = client.get(f"/visits/coverage?year={year}").get_data(as_text=True)
    assert "洪山孵化器" in page and "武汉洪测材料有限公司" in page and "50%" in page
    resp = client.get(f"/visits/report?liaison={world['a']}&month={today.year}-{today.month}")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert f"洪山区区派联络员洪甲{today.year}年{today.month}月工作报告" in values
    assert "走访记录（1）" in values and "了解情况" in values and "V-1" in values
    assert client.get(f"/visits/report?liaison={world['c']}").status_code == 404
    assert client.get(f"/visits/report?liaison={world['a']}&month=2026-13").status_code == 400
    client.get("/logout")
    login(client, "cityv")
    city = client.get(f"/visits/coverage?year={year}").get_data(as_text=True)
    assert "各区走访覆盖" in city and "洪山区" in city and "洪甲" not in city


def test_visit_date_may_not_be_in_the_future(session, world):
    from datetime import timedelta

    from app.errors import DomainError

    user = user_accounts.create_user(session, "hsl3", PASSWORD, "洪乙", "district_liaison",
                                district_id=world["hs"], liaison_id=world["b"])
    with pytest.raises(DomainError, match="走访日期不能晚于今天"):
        visit_log.save_visit(session, user, visit_log.VisitInput(
            visited_on=clock.today() + timedelta(days=1), liaison_id=None, park_id=world["park"],
            enterprise_id=None, people_met="某", findings="某"))
