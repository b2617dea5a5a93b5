"""Exports read back and compared with the layouts of the notice's attachments."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from sqlalchemy import select

from app.services import programme_exports
from app.services.programme import quota
from app.services.reference_data import attachment1
from models import Case, Demand, District, Enterprise, Liaison, Park


def _district(session, name: str) -> District:
    return session.scalar(select(District).where(District.name == name))


def _values(ws, row: int, ncols: int) -> list:
    return [ws.cell(row=row, column=c).value for c in range(1, ncols + 1)]


def _merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def test_quota_export_matches_attachment1(session):
    data = programme_exports.quota_xlsx(session, 2022, on=date(2022, 6, 1))
    wb = load_workbook(io.BytesIO(data))
    ws = wb["指标分解表"]
    assert ws["A1"].value == "附件1"
    assert ws["A2"].value == "全市第二批区派联络员指标分解表"
    assert "A2:E2" in _merged(ws)
    assert _values(ws, 3, 5) == ["序号", "责任单位", "现有联络员人数", "新选派联络员人数",
                                 "选派后联络员总人数"]
    expected = attachment1()
    assert len(expected) == 14
    for i, (seq, name, existing, new, total) in enumerate(expected):
        assert _values(ws, 4 + i, 5) == [seq, name, existing, new, total]
    assert _values(ws, 18, 5)[1:] == ["合计", 100, 100, 200]
    assert ws.max_row == 18
    assert ws.print_title_rows == "$3:$3"
    actual = wb["实有人数"]
    assert _values(actual, 2, 6) == ["序号", "责任单位", "选派后联络员总人数", "实有人数", "缺额",
                                     "指标年度"]
    assert _values(actual, 3, 6) == [1, "江岸区", 10, 0, 10, 2022]


def test_quota_export_of_an_edited_year(session):
    quota.save_quota(session, 2023, {_district(session, "江岸区").id: (10, 5)})
    ws = load_workbook(io.BytesIO(programme_exports.quota_xlsx(session, 2023))).active
    assert ws["A2"].value == "全市2023年区派联络员指标分解表"
    assert _values(ws, 4, 5) == [1, "江岸区", 10, 5, 15]
    assert _values(ws, 18, 5)[1:] == ["合计", 101, 104, 205]


def test_roster_export_layout(session):
    d = _district(session, "武昌区")
    park = Park(name="武昌测试园", district=d)
    incubator = Park(name="武昌测试孵化器", district=d, kind="incubator")
    ent1 = Enterprise(name="武汉甲科技有限公司", district=d, is_key=True)
    ent2 = Enterprise(name="武汉乙科技有限公司", district=d, is_key=True)
    session.add_all([park, incubator, ent1, ent2])
    a = Liaison(kind="district", name="张三", district=d, employer_post="某孵化器 主任",
                phone="13812345678", start_date=date(2021, 3, 1), parks=[park, incubator],
                enterprises=[ent1, ent2])
    b = Liaison(kind="district", name="李四", district=d, employer_post="=恶意公式",
                phone="027-65692159", start_date=date(2022, 3, 15))
    gone = Liaison(kind="district", name="王五", district=d, start_date=date(2021, 3, 1),
                   end_date=date(2022, 5, 1), end_reason="调离")
    other = Liaison(kind="district", name="赵六", district=_district(session, "洪山区"),
                    start_date=date(2021, 3, 1))
    session.add_all([a, b, gone, other])
    session.flush()
    data = programme_exports.roster_xlsx(session, d.id, filled_on=date(2022, 6, 1))
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "武昌区"
    assert ws["A1"].value == "附件2"
    assert ws["A2"].value == "各区第二批选派联络员信息表"
    assert ws["A3"].value == "所属区：武昌区（盖章）"
    assert ws["A4"].value == "填报时间：2022年6月1日"
    assert {"A2:F2", "A3:F3", "A4:F4"} <= _merged(ws)
    assert _values(ws, 5, 6) == ["序号", "姓名", "工作单位及职务", "联系电话",
                                 "对接产业园区、孵化器", "对接本区重点企业"]
    assert _values(ws, 6, 6) == [1, "张三", "某孵化器 主任", "13812345678",
                                 "武昌测试园、武昌测试孵化器",
                                 "武汉甲科技有限公司、武汉乙科技有限公司"]
    row7 = _values(ws, 7, 6)
    assert row7[:2] == [2, "李四"] and row7[2] == "'=恶意公式"  # never a formula
    assert ws.max_row == 7  # the departed liaison and the other district's are not listed


def test_demand_case_and_summary_exports(session):
    d = _district(session, "江岸区")
    li = Liaison(kind="district", name="张三", district=d, start_date=date(2021, 1, 1))
    ent = Enterprise(name="武汉丙科技有限公司", district=d)
    session.add_all([li, ent])
    session.flush()
    session.add(Demand(code="XQ1", enterprise=ent, district=d, liaison=li, title="激光焊接",
                       status="published", created_at=datetime(2022, 3, 1, tzinfo=UTC),
                       published_at=datetime(2022, 3, 5, tzinfo=UTC)))
    session.add(Demand(code="XQ2", enterprise=ent, district=d, liaison=li, title="去年的",
                       created_at=datetime(2021, 3, 1, tzinfo=UTC)))
    session.add(Case(district=d, year=2022, title="典型案例一", liaison=li, status="reported",
                     contract_amount=50.0, summary="简介"))
    session.flush()
    ws = load_workbook(io.BytesIO(programme_exports.demands_xlsx(session, 2022))).active
    assert ws["A1"].value == "2022年全市企业技术需求清单"
    assert _values(ws, 2, 11) == programme_exports.DEMAND_LIST_HEADERS
    assert _values(ws, 3, 9) == [1, "XQ1", "激光焊接", "武汉丙科技有限公司", "江岸区", "张三",
                                 "已发布", datetime(2022, 3, 1), datetime(2022, 3, 5)]
    assert ws.max_row == 3
    ws = load_workbook(io.BytesIO(programme_exports.cases_xlsx(session, 2022,
            district_id=d.id))).active
    assert ws["A1"].value == "2022年江岸区联络员工作典型案例清单"
    assert _values(ws, 3, 8) == [1, "江岸区", "典型案例一", "张三", None, None, 50, "已报送"]
    ws = load_workbook(io.BytesIO(programme_exports.summary_xlsx(session, 2022, today=date(2023,
            1, 5)))).active
    assert ws["A1"].value == "2022年度区派联络员工作汇总表（截至2022年12月31日）"
    assert _values(ws, 2, 11) == programme_exports.SUMMARY_HEADERS
    assert _values(ws, 3, 11) == [1, "江岸区", 10, 1, "2/1", 0, "1/1", "1/0", 0, None, "未达标"]
    assert ws.cell(row=17, column=2).value == "合计"
    assert ws.max_row == 17
