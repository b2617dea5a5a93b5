"""Programme pages: role scope, edits through forms, exports and drill-downs."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services import user_accounts
from models import AuditEvent, Case, DistrictQuota, Liaison, Training
from tests.factories import PASSWORD, district_named, login


@pytest.fixture
def people(session):
    """A city admin, a 洪山区 admin, and two liaisons in 洪山区 and one in 武昌区."""
    hs, wc = district_named(session, "洪山区"), district_named(session, "武昌区")
    user_accounts.create_user(session, "city1", PASSWORD, "市局", "city_admin")
    user_accounts.create_user(session, "hs1", PASSWORD, "洪山区局", "district_admin",
                         district_id=hs.id)
    a = Liaison(kind="district", name="洪一", district=hs, phone="13812345678",
                start_date=date(2021, 3, 1))
    b = Liaison(kind="district", name="洪二", district=hs, phone="13900001111",
                start_date=date(2022, 3, 1))
    c = Liaison(kind="district", name="武一", district=wc, phone="13700002222",
                start_date=date(2021, 3, 1))
    session.add_all([a, b, c])
    session.commit()
    return {"hs": hs.id, "wc": wc.id, "a": a.id, "b": b.id, "c": c.id}



def test_pages_render_for_the_city(client, people):
    login(client, "city1")
    for url in ("/programme/quota", "/programme/quota?year=2023&edit=1",
                f"/programme/roster?district={people['hs']}", "/programme/roster?kind=campus",
                "/programme/replacements", "/programme/trainings?year=2022",
                "/programme/cases?year=2022", "/programme/assessments?year=2022",
                "/programme/dashboard?year=2022",
                f"/programme/dashboard?year=2022&district={people['hs']}",
                "/programme/dashboard/drill?year=2022&metric=rule_quota",
                f"/programme/roster/new?district={people['hs']}",
                f"/programme/roster/{people['a']}/replace",
                f"/programme/assessments/new?liaison_id={people['a']}&year=2022",
                f"/programme/trainings/new?district={people['hs']}",
                f"/programme/cases/new?district={people['hs']}"):
        resp = client.get(url)
        assert resp.status_code == 200, url
    page = client.get("/programme/dashboard?year=2022").get_data(as_text=True)
    assert "status-matrix" in page and "临空港开发区" in page
    assert 'id="dashboard-data"' in page and "echarts.min.js" in page and "cdn" not in page


def test_district_admin_is_scoped(client, people):
    login(client, "hs1")
    # asking for another district shows their own
    page = client.get(f"/programme/roster?district={people['wc']}").get_data(as_text=True)
    assert "洪一" in page and "武一" not in page
    assert "13812345678" in page  # their own district: full phone numbers
    assert client.get(f"/programme/roster/{people['c']}/edit").status_code == 404
    assert client.get(f"/programme/roster/{people['c']}/replace").status_code == 404
    dash = client.get(f"/programme/dashboard?year=2022&district={people['wc']}")
    assert "洪山区联络员工作指标看板" in dash.get_data(as_text=True)
    assert client.post("/programme/quota?year=2023", data={}).status_code == 403
    drill = client.get(f"/programme/dashboard/drill?year=2022&metric=liaisons"
                       f"&liaison={people['c']}")
    assert drill.status_code == 404


def test_city_edits_quota(client, session, people):
    login(client, "city1")
    form = {f"existing_{d}": "5" for d in range(1, 15)} | {f"new_{d}": "1" for d in range(1, 15)}
    form[f"existing_{people['hs']}"] = "15"
    resp = client.post("/programme/quota?year=2024", data=form)
    assert resp.status_code == 302
    rows = session.scalars(select(DistrictQuota).where(DistrictQuota.year == 2024)).all()
    assert len(rows) == 14
    hs = next(r for r in rows if r.district_id == people["hs"])
    assert (hs.existing, hs.new, hs.total) == (15, 1, 16)
    resp = client.get("/programme/quota?year=2024&export=xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A2"].value == "全市2024年区派联络员指标分解表"
    assert ws.cell(row=18, column=5).value == 14 * 6 + 10


def test_replacement_flow_and_filing(client, session, people):
    login(client, "hs1")
    resp = client.post(f"/programme/roster/{people['a']}/replace", data={
        "end_date": "2022-06-30", "end_reason": "工作岗位调整", "name": "洪三",
        "phone": "13611112222", "keep": "1"})
    assert resp.status_code == 302
    new = session.scalar(select(Liaison).where(Liaison.name == "洪三"))
    assert new.replaces_id == people["a"] and new.start_date == date(2022, 7, 1)
    assert new.filed_on is None
    page = client.get("/programme/replacements").get_data(as_text=True)
    assert "洪三" in page and "未备案" in page
    client.post(f"/programme/replacements/{new.id}/file", data={"filed_on": "2022-07-08"})
    session.expire_all()
    assert session.get(Liaison, new.id).filed_on == date(2022, 7, 8)
    # the city sees the history of every district
    client.post("/logout")
    login(client, "city1")
    page = client.get("/programme/replacements").get_data(as_text=True)
    assert "洪三" in page and "2022-07-08" in page and "工作岗位调整" in page


def test_roster_export_by_city_is_audited(client, session, people):
    login(client, "city1")
    resp = client.get(f"/programme/roster?district={people['hs']}&export=xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A3"].value == "所属区：洪山区（盖章）"
    assert [ws.cell(row=r, column=2).value for r in (6, 7)] == ["洪一", "洪二"]
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity == "roster")).all()
    assert events and events[-1].entity_id == people["hs"]


def test_forms_save_and_report_errors(client, session, people):
    login(client, "hs1")
    resp = client.post("/programme/roster/new", data={"name": "", "start_date": "2022-01-01"})
    assert resp.status_code == 422 and "请填写姓名" in resp.get_data(as_text=True)
    resp = client.post("/programme/roster/new", data={"name": "洪新", "start_date": "01/02/2022"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "任职起始日期应按 年-月-日 填写" in page
    assert "novalidate" in page and 'type="date"' not in page
    resp = client.post("/programme/trainings/new", data={
        "held_on": "2022/5/6", "topic": "", "attendee_count": "十"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "培训日期应按 年-月-日 填写" in page and "请填写培训主题" in page
    assert "参训总人数应填写数字" in page
    resp = client.post("/programme/trainings/new", data={
        "held_on": "2022-05-06", "topic": "需求挖掘培训", "attendee_ids": [str(people["a"])]})
    assert resp.status_code == 302
    resp = client.post("/programme/trainings/new", data={
        "held_on": "2022-05-06", "topic": "越区", "attendee_ids": [str(people["c"])]})
    assert resp.status_code == 422 and "本区" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Training).where(Training.topic == "越区")) is None
    resp = client.post("/programme/assessments/new", data={
        "liaison_id": str(people["a"]), "year": "2022", "result": "很好", "reviewer": "",
        "assessed_on": "2022-12-20", "score": "120"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "请选择考核结果" in page and "请填写考核人" in page
    assert "考核分数应在 0-100 之间" in page
    resp = client.post("/programme/cases/new", data={
        "year": "2022", "title": "典型案例甲", "liaison_id": str(people["a"]),
        "action": "report"})
    assert resp.status_code == 302
    case = session.scalar(select(Case).where(Case.title == "典型案例甲"))
    assert case.status == "reported" and case.district_id == people["hs"]
    resp = client.post("/programme/assessments/new", data={
        "liaison_id": str(people["a"]), "year": "2022", "result": "优秀", "reviewer": "王科长",
        "assessed_on": "2022-12-20", "score": "92"})
    assert resp.status_code == 302
    due = client.get("/programme/assessments?year=2022").get_data(as_text=True)
    assert "没有待考核的联络员" in due
    drill = client.get("/programme/dashboard/drill?year=2022&metric=rule_training")
    assert "需求挖掘培训" in drill.get_data(as_text=True)
    export = client.get("/programme/dashboard/drill?year=2022&metric=rule_cases&export=xlsx")
    ws = load_workbook(io.BytesIO(export.data)).active
    assert ws.cell(row=2, column=1).value == "典型案例甲"


def test_anonymous_and_liaison_are_refused(client, session, people):
    assert client.get("/programme/dashboard").status_code in (302, 401)
    user_accounts.create_user(session, "li1", PASSWORD, "联络员", "district_liaison",
                         district_id=people["hs"])
    session.commit()
    login(client, "li1")
    assert client.get("/programme/dashboard").status_code == 403


def test_home_figures_are_the_dashboards(client, session, people, monkeypatch):
    """A liaison who joined in November owes no demand this year: home and dashboard agree."""
    from app import clock
    from app.services.programme.scoreboard import scoreboard

    monkeypatch.setattr(clock, "today", lambda: date(2025, 12, 1))
    hs = people["hs"]
    nov = Liaison(kind="district", name="洪新", district_id=hs, start_date=date(2025, 11, 10))
    session.add(nov)
    session.flush()
    user_accounts.create_user(session, "hsnov", PASSWORD, "洪新", "district_liaison",
                         district_id=hs, liaison_id=nov.id)
    session.commit()
    board = scoreboard(session, 2025, district_id=hs)
    mine = next(p for p in board.districts[0].liaisons if p.liaison.id == nov.id)
    assert mine.demand_target == 0

    login(client, "hsnov")
    page = client.get("/").get_data(as_text=True)
    assert "我的 2025 年度数据" in page
    published = page.split("本年发布需求", 1)[1].split("figure-note", 1)[0]
    assert "目标 0 项" in published and "目标 2 项" not in published

    client.get("/logout")
    login(client, "hs1")
    page = client.get("/").get_data(as_text=True)
    target = int(board.districts[0].rules["demands"].target)
    published = page.split("本年发布需求", 1)[1].split("figure-note", 1)[0]
    assert f"目标 {target} 项" in published
    dash = client.get("/programme/dashboard/drill?year=2025&metric=liaisons").get_data(
        as_text=True)
    assert "洪新" in dash


def test_book_lists_search_page_and_export(client, session, people):
    """考核评价, 培训会, 典型案例, 更换备案 and the 全市 roster: search, pages, 导出."""
    hs = people["hs"]
    for n in range(25):
        session.add(Training(district_id=hs, held_on=date(2022, 3, 1 + n), topic=f"培训{n:02d}",
                             attendee_count=3))
    session.add(Case(district_id=hs, year=2022, title="电池案例", status="reported",
                     enterprise_name="某电池公司"))
    session.add(Case(district_id=hs, year=2022, title="芯片案例", status="draft"))
    session.commit()
    login(client, "city1")
    first = client.get("/programme/trainings?year=2022").get_data(as_text=True)
    assert "共 25 条，第 1 / 2 页" in first and "培训24" in first and "培训04" not in first
    second = client.get("/programme/trainings?year=2022&page=2").get_data(as_text=True)
    assert "培训04" in second and "培训24" not in second
    found = client.get("/programme/trainings?year=2022&q=培训07").get_data(as_text=True)
    assert "共 1 条" in found and "培训07" in found
    ws = load_workbook(io.BytesIO(client.get(
        "/programme/trainings?year=2022&q=培训0&export=xlsx").data)).active
    assert ws.max_row == 11 and ws.cell(row=1, column=3).value == "培训主题"

    page = client.get("/programme/cases?year=2022&q=电池").get_data(as_text=True)
    assert "电池案例" in page and "芯片案例" not in page
    page = client.get("/programme/cases?year=2022&status=draft").get_data(as_text=True)
    assert "芯片案例" in page and "电池案例" not in page.split("cases-table", 1)[1].split(
        "candidates-table", 1)[0]
    ws = load_workbook(io.BytesIO(client.get(
        "/programme/cases?year=2022&status=reported&export=xlsx").data)).active
    titles = [c.value for c in ws["C"]]
    assert "电池案例" in titles and "芯片案例" not in titles

    client.post("/programme/assessments/new", data={
        "liaison_id": str(people["a"]), "year": "2022", "result": "优秀", "reviewer": "王科长",
        "assessed_on": "2022-12-20"})
    page = client.get("/programme/assessments?year=2022&q=洪一").get_data(as_text=True)
    assert "共 1 条" in page
    page = client.get("/programme/assessments?year=2022&result=合格").get_data(as_text=True)
    assert "没有符合条件的考核记录" in page
    ws = load_workbook(io.BytesIO(client.get(
        "/programme/assessments?year=2022&export=xlsx").data)).active
    assert [c.value for c in ws[2]][:3] == ["洪山区", "洪一", "优秀"]

    client.post(f"/programme/roster/{people['b']}/replace", data={
        "end_date": "2022-06-30", "end_reason": "调离", "name": "洪三"})
    page = client.get("/programme/replacements?filed=no&q=洪三").get_data(as_text=True)
    assert "洪二" in page and "未备案" in page
    assert "暂无更换记录" not in page
    page = client.get("/programme/replacements?filed=yes").get_data(as_text=True)
    assert "洪三" not in page
    ws = load_workbook(io.BytesIO(client.get("/programme/replacements?export=xlsx").data)).active
    assert ws.cell(row=2, column=5).value == "洪三" and ws.cell(row=2, column=7).value == "未备案"

    city = client.get("/programme/roster?district=").get_data(as_text=True)
    assert "全市区派联络员" in city and "洪一" in city and "武一" in city
    assert "共 " in city  # paginated
    found = client.get("/programme/roster?district=&q=武").get_data(as_text=True)
    assert "武一" in found and "洪一" not in found
    export = client.get("/programme/roster?district=&export=xlsx")
    ws = load_workbook(io.BytesIO(export.data)).active
    names = {ws.cell(row=r, column=2).value for r in range(2, ws.max_row + 1)}
    assert names >= {"洪一", "武一"}

    client.get("/logout")
    login(client, "hs1")
    own = client.get("/programme/roster?district=").get_data(as_text=True)
    assert "武一" not in own and "洪一" in own  # a district admin has no 全市 view


def test_operation_log_in_chinese_one_row_per_action(client, session, people):
    from app.services import audit

    login(client, "hs1")
    client.post("/programme/trainings/new", data={"held_on": "2022-05-06", "topic": "日志培训"})
    client.post("/programme/assessments/new", data={
        "liaison_id": str(people["a"]), "year": "2022", "result": "良好", "reviewer": "王科长",
        "assessed_on": "2022-12-20"})
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(
        ("training.create", "assessment.create")))).all()
    assert sorted(r.action for r in rows) == ["assessment.create", "training.create"]
    assessment = next(r for r in rows if r.action == "assessment.create")
    assert assessment.detail == {"after": {"联络员": "洪一", "年度": 2022, "考核结果": "良好"}}
    assert audit.action_label("demand.publish") == "审核发布"

    # the same read twice in one request is one row
    from models import User

    user = session.scalar(select(User).where(User.username == "hs1"))
    for _ in range(7):
        audit.record(session, user, "contact.view", "enterprise", 1)
    assert sum(1 for o in session.new if isinstance(o, AuditEvent)) == 1
    session.rollback()

    client.get("/logout")
    login(client, "city1")
    page = client.get("/admin/audit-log").get_data(as_text=True)
    assert "登记培训会" in page and "登记考核" in page and "考核结果：良好" in page
    table = page.split('id="audit-table"', 1)[1]
    assert "training.create" not in table and "{&#34;" not in table and '{"' not in table
    ws = load_workbook(io.BytesIO(client.get("/admin/audit-log?export=xlsx").data)).active
    assert [c.value for c in ws[1]][:4] == ["时间", "操作人", "操作", "对象"]
    assert "登记考核" in [c.value for c in ws["C"]]


def test_one_product_name_and_signing_legend(client, people):
    name = client.application.config["PRODUCT_NAME"]
    login_page = client.get("/login").get_data(as_text=True)
    assert login_page.count(name) >= 2  # tab and heading
    login(client, "city1")
    page = client.get("/programme/dashboard?year=2022").get_data(as_text=True)
    assert page.count(name) >= 3  # tab, sidebar, footer
    assert "按签约日期" in page and "按需求登记年度" in page and 'id="coverage-card"' in page
    drill = client.get("/programme/dashboard/drill?year=2022&metric=rule_demands")
    assert drill.status_code == 200
