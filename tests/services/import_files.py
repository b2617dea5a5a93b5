"""Helpers shared by the tests split out of test_imports.py: the sheets, files and fixtures."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.errors import ImportFailed
from app.services import imports
from models import (
    District,
    Enterprise,
    Institution,
    Liaison,
)

EXPERT_HEAD = ["姓名", "所在单位", "职称/职务", "研究方向", "简介", "是否院士", "团队", "技术领域",
               "联系电话", "电子邮箱"]
ITEM_HEAD = ["姓名", "所在单位", "类型", "标题", "内容", "年份"]
DEMAND_HEAD = ["需求编号", "企业名称", "需求名称", "技术难题", "预期目标", "计划投入（万元）",
               "所属行业", "技术领域", "关键词", "合作方式", "截止日期", "可公开发布", "状态",
               "记录联络员"]
ENTERPRISE_HEAD = ["企业名称", "统一社会信用代码", "所属区", "所在园区", "所属行业",
                   "是否重点企业", "联系人", "联系电话"]
ROSTER_HEAD = ["序号", "姓名", "工作单位及职务", "联系电话", "对接产业园区、孵化器",
               "对接本区重点企业", "所属区", "起始日期"]

# A valid GB 32100 code; 91350100M000100Y43 is a published real one.
CODE_A = "91420100MA4K0000XJ"


def valid_code(first17: str) -> str:
    """Complete 17 characters with their GB 32100 check character."""
    chars = imports.CREDIT_CODE_CHARS
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(chars.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + chars[(31 - total % 31) % 31]


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    """Build an .xlsx file from sheet name -> rows (first row is the header)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    """Build CSV bytes in an encoding."""
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def sheet_values(data: bytes) -> dict[str, list[tuple]]:
    """Read every sheet of an .xlsx file as value tuples."""
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def row_errors(session, kind: str, filename: str, data: bytes) -> set[tuple]:
    """Import a file that must fail; return its problems as (row, column, message)."""
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, kind, filename, data)
    assert "未写入任何数据" in exc.value.message
    return {(e["row"], e["column"], e["message"]) for e in exc.value.errors}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def district(session, name: str) -> District:
    return session.scalars(select(District).where(District.name == name)).one()


@pytest.fixture
def institutions(session):
    rows = [Institution(name="武汉大学"), Institution(name="华中科技大学")]
    session.add_all(rows)
    session.commit()
    return rows


@pytest.fixture
def enterprises(session):
    jiangan = district(session, "江岸区")
    hi_tech = district(session, "东湖高新区")
    rows = [Enterprise(name="武汉光谷芯材有限公司", district_id=hi_tech.id, is_key=True),
            Enterprise(name="江岸精工机械有限公司", district_id=jiangan.id, is_key=True)]
    session.add_all(rows)
    session.add(Liaison(kind="district", name="王小明", phone="13800000001",
                        district_id=hi_tech.id))
    session.commit()
    return rows


EXPERTS = [
    EXPERT_HEAD,
    ["张伟", "武汉大学", "教授", "激光加工；光纤传感", "长期从事激光精密加工研究。", "否",
     "激光团队", "先进制造与自动化", "13800001111", "zw@example.cn"],
    ["李娜", "华中科技大学", "研究员", "锂离子电池；固态电解质", "研究电池安全。", "是", None,
     "新能源与节能", None, None],
]
ITEMS = [
    ITEM_HEAD,
    ["张伟", "武汉大学", "项目", "超快激光微孔加工", "飞秒激光在陶瓷上打孔", 2021],
    ["张伟", "武汉大学", "专利", "一种光纤光栅传感器", None, 2019],
    ["李娜", "华中科技大学", "论文", "固态电解质界面稳定性", "硫化物电解质", "2020"],
]


DEMANDS = [
    DEMAND_HEAD,
    ["XQ2024001", "武汉光谷芯材有限公司", "碳化硅衬底缺陷检测", "衬底微管缺陷人工检测效率低",
     "检测速度每片小于 30 秒，准确率 99%", 50, "39", "电子信息", "碳化硅；缺陷检测, 机器视觉",
     "技术开发", date(2025, 12, 31), "是", "已发布", "王小明"],
    ["XQ2024002", "江岸精工机械有限公司", "齿轮热处理变形控制", "渗碳淬火后变形超差",
     "变形量小于 0.05mm", "12.5", "通用设备制造业", None, "热处理", None, "2025/6/30", "否",
     None, None],
]


def experts_file(experts=EXPERTS, items=ITEMS) -> bytes:
    sheets = {"专家": experts}
    if items is not None:
        sheets["成果"] = items
    return xlsx(sheets)
