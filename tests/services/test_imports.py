"""Imports and exports: every kind, every kind of bad file, idempotence and round trips."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app import clock
from app.errors import ImportFailed
from app.services import imports
from app.services.indexing import current_version
from models import (
    Demand,
    DemandEvent,
    District,
    Enterprise,
    Expert,
    Institution,
    Investor,
    Liaison,
    Park,
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


def experts_file(experts=EXPERTS, items=ITEMS) -> bytes:
    sheets = {"专家": experts}
    if items is not None:
        sheets["成果"] = items
    return xlsx(sheets)


# ---------------------------------------------------------------------------------------------
# Experts


def test_experts_import_creates_rows_items_and_tokens(session, institutions):
    before = current_version(session, "experts")
    result = imports.import_file(session, "experts", "专家.xlsx", experts_file())
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert "新增 2 条" in result.summary()
    zhang = session.scalars(select(Expert).where(Expert.name == "张伟")).one()
    assert zhang.institution.name == "武汉大学"
    assert zhang.tech_field.name == "先进制造与自动化"
    assert zhang.is_academician is False and zhang.email == "zw@example.cn"
    assert [(i.kind, i.title, i.year) for i in zhang.items] == [
        ("project", "超快激光微孔加工", 2021), ("patent", "一种光纤光栅传感器", 2019)]
    assert "w:激光" in zhang.tokens.split()
    assert all(i.tokens for i in zhang.items)
    li = session.scalars(select(Expert).where(Expert.name == "李娜")).one()
    assert li.is_academician is True and li.team is None and li.items[0].year == 2020
    assert current_version(session, "experts") == before + 1


def test_experts_reimport_changes_nothing_and_updates_only_changed(session, institutions):
    imports.import_file(session, "experts", "a.xlsx", experts_file())
    session.commit()
    session.expire_all()  # compare what the database holds, not objects kept in the session
    stamps = {e.name: (e.updated_at, e.tokens) for e in session.scalars(select(Expert))}
    version = current_version(session, "experts")

    again = imports.import_file(session, "experts", "a.xlsx", experts_file())
    session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    session.expire_all()
    assert {e.name: (e.updated_at, e.tokens) for e in session.scalars(select(Expert))} == stamps
    assert current_version(session, "experts") == version

    changed = [row[:] for row in EXPERTS]
    changed[2][3] = "钠离子电池"
    items = ITEMS[:3]  # 李娜 loses her paper: items are replaced as a set
    result = imports.import_file(session, "experts", "b.xlsx", experts_file(changed, items))
    session.commit()
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    li = session.scalars(select(Expert).where(Expert.name == "李娜")).one()
    assert li.research_fields == "钠离子电池" and li.items == []
    assert "w:钠离子" in li.tokens.split() or "b:钠离" in li.tokens.split()
    assert current_version(session, "experts") == version + 1


def test_experts_without_items_sheet_keep_their_items(session, institutions):
    imports.import_file(session, "experts", "a.xlsx", experts_file())
    result = imports.import_file(session, "experts", "a.xlsx", experts_file(items=None))
    assert result.unchanged == 2
    zhang = session.scalars(select(Expert).where(Expert.name == "张伟")).one()
    assert len(zhang.items) == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_experts_csv_in_utf8_and_gbk_with_items_column(session, institutions, encoding):
    rows = [EXPERT_HEAD + ["成果"],
            EXPERTS[1] + ["项目|超快激光微孔加工|2021|飞秒激光在陶瓷上打孔\n"
                          "专利|一种光纤光栅传感器"],
            EXPERTS[2] + [""]]
    result = imports.import_file(session, "experts", "experts.csv", csv_bytes(rows, encoding))
    assert result.created == 2
    zhang = session.scalars(select(Expert).where(Expert.name == "张伟")).one()
    assert zhang.summary == "长期从事激光精密加工研究。"
    assert [(i.kind, i.title, i.text, i.year) for i in zhang.items] == [
        ("project", "超快激光微孔加工", "飞秒激光在陶瓷上打孔", 2021),
        ("patent", "一种光纤光栅传感器", None, None)]


def test_undecodable_csv_is_a_clear_error(session, institutions):
    data = "姓名,所在单位\n张伟,武汉大学\n".encode() + b"\xff\xfe\xff\x80\n"
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", "bad.csv", data)
    assert "编码" in exc.value.message and "UTF-8" in exc.value.message
    assert count(session, Expert) == 0


@pytest.mark.parametrize("filename, data, words", [
    ("empty.xlsx", b"", "文件为空"),
    ("empty.csv", b"", "文件为空"),
    ("blank.csv", b"\r\n\r\n", "文件为空"),
    ("not-a-workbook.xlsx", b"PK\x03\x04 this is not a zip", "不是有效的 .xlsx"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "另存为 .xlsx"),
    ("notes.pdf", b"%PDF-1.4", "只支持"),
])
def test_unreadable_files_are_clear_errors(session, filename, data, words):
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", filename, data)
    assert words in exc.value.message


def test_empty_sheets_and_header_only_files(session, institutions):
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", "e.xlsx", xlsx({"专家": []}))
    assert "文件为空" in exc.value.message
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", "h.csv", csv_bytes([EXPERT_HEAD]))
    assert exc.value.errors == [{"row": 2, "column": "", "message": "文件没有数据行（只有表头）"}]


def test_wrong_columns_are_reported_at_the_header(session, institutions):
    rows = [["姓名", "学校", "职称/职务", "职称", "备注"],
            ["张伟", "武汉大学", "教授", "教授", "x"]]
    errors = row_errors(session, "experts", "e.csv", csv_bytes(rows))
    assert (1, "学校", "无法识别的列“学校”（第 B 列）") in errors
    assert (1, "职称/职务", "该列重复出现") in errors
    assert (1, "备注", "无法识别的列“备注”（第 E 列）") in errors
    assert (1, "所在单位", "缺少必填列") in errors


def test_every_bad_value_is_reported_and_nothing_is_written(session, institutions):
    rows = [row[:] for row in EXPERTS] + [
        ["王五", "北京大学", None, None, None, "也许", None, "量子玄学", "电话", "not-an-email"],
        [None, "武汉大学", "x" * 61, None, None, None, None, None, None, None],
        ["张伟", "武汉大学", None, None, None, None, None, None, None, None],
    ]
    items = ITEMS + [["赵六", "武汉大学", "书籍", "某书", None, "二〇二一"]]
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", "e.xlsx", experts_file(rows, items))
    errors = {(e["row"], e["column"], e["message"]) for e in exc.value.errors}
    assert errors == {
        (4, "所在单位", "系统中没有高校院所'北京大学'"),
        (4, "是否院士", "'也许' 应填“是”或“否”"),
        (4, "技术领域", "系统中没有技术领域'量子玄学'"),
        (4, "联系电话", "'电话' 不是有效的电话号码"),
        (4, "电子邮箱", "'not-an-email' 不是有效的电子邮箱"),
        (5, "姓名", "不能为空"),
        (5, "职称/职务", "内容过长：最多 60 个字，实际 61 个字"),
        (6, "姓名", "与第 2 行重复（所在单位和姓名相同）"),
        (5, "成果表/类型", "'书籍' 应为 项目、论文、专利 或 奖励"),
        (5, "成果表/年份",
         f"'二〇二一' 不是有效年份（年份应为 1950 至 {clock.this_year() + 1} 之间的四位数字）"),
        (5, "成果表/姓名", "专家表中没有 武汉大学 的 赵六"),
    }
    assert "11 处问题" in exc.value.message
    session.flush()
    assert count(session, Expert) == 0


@pytest.mark.slow
def test_ten_thousand_experts(session, institutions):
    fields = ["激光加工", "锂离子电池", "图像识别", "生物医药", "新材料", "智能制造", "光通信",
              "工业软件", "环境治理", "半导体器件"]
    rows = [EXPERT_HEAD]
    items = [ITEM_HEAD]
    for n in range(10_000):
        inst = "武汉大学" if n % 2 else "华中科技大学"
        field_a, field_b = fields[n % 10], fields[(n * 7 + 3) % 10]
        rows.append([f"专家{n:05d}", inst, "教授", f"{field_a}；{field_b}",
                     f"从事{field_a}与{field_b}的研究，主持国家重点研发计划项目。", "否", None,
                     "电子信息", f"138{n:08d}", f"e{n}@example.cn"])
        if n % 5 == 0:
            items.append([f"专家{n:05d}", inst, "项目", f"{field_a}关键技术研究",
                          f"面向{field_b}应用的{field_a}方法", 2020])
    data = experts_file(rows, items)
    result = imports.import_file(session, "experts", "big.xlsx", data)
    assert result.created == 10_000
    session.flush()
    assert count(session, Expert) == 10_000
    again = imports.import_file(session, "experts", "big.xlsx", data)
    assert again.unchanged == 10_000


def test_export_then_reimport_gives_the_same_experts(session, institutions):
    imports.import_file(session, "experts", "a.xlsx", experts_file())
    # text that looks like a formula must stay text in the export
    session.scalars(select(Expert).where(Expert.name == "张伟")).one().summary = "=1+1 不是公式"
    session.commit()
    exported = imports.export_xlsx(session, "experts")
    sheets = sheet_values(exported)
    assert sheets["专家"][0] == tuple(EXPERT_HEAD)
    zhang = next(r for r in sheets["专家"] if r[0] == "张伟")
    assert zhang[4] == "'=1+1 不是公式"  # quoted: Excel shows text, our importer unquotes it
    cells = [c for row in load_workbook(io.BytesIO(exported))["专家"].iter_rows() for c in row]
    assert next(c for c in cells if c.value == "'=1+1 不是公式").data_type == "s"
    assert sheets["成果"][0] == tuple(ITEM_HEAD) and len(sheets["成果"]) == 4

    again = imports.import_file(session, "experts", "export.xlsx", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    for expert in session.scalars(select(Expert)):
        session.delete(expert)
    session.flush()
    imports.import_file(session, "experts", "export.xlsx", exported)
    session.flush()
    assert sheet_values(imports.export_xlsx(session, "experts")) == sheets


def test_template_has_headers_and_notes(session):
    data = imports.template_xlsx("experts")
    sheets = sheet_values(data)
    assert sheets["专家"] == [tuple(c.header for c in imports.COLUMNS["experts"]
                                   if c.key != "items")]
    assert sheets["成果"] == [tuple(ITEM_HEAD)]
    assert ("专家", "姓名", "必填") == sheets["填写说明"][1][:3]
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "experts", "template.xlsx", data)
    assert exc.value.errors[0]["message"] == "文件没有数据行（只有表头）"


# ---------------------------------------------------------------------------------------------
# Demands


DEMANDS = [
    DEMAND_HEAD,
    ["XQ2024001", "武汉光谷芯材有限公司", "碳化硅衬底缺陷检测", "衬底微管缺陷人工检测效率低",
     "检测速度每片小于 30 秒，准确率 99%", 50, "39", "电子信息", "碳化硅；缺陷检测, 机器视觉",
     "技术开发", date(2025, 12, 31), "是", "已发布", "王小明"],
    ["XQ2024002", "江岸精工机械有限公司", "齿轮热处理变形控制", "渗碳淬火后变形超差",
     "变形量小于 0.05mm", "12.5", "通用设备制造业", None, "热处理", None, "2025/6/30", "否",
     None, None],
]


def test_demands_import_and_reimport(session, enterprises):
    result = imports.import_file(session, "demands", "d.xlsx", xlsx({"需求": DEMANDS}))
    assert result.created == 2
    d1 = session.scalars(select(Demand).where(Demand.code == "XQ2024001")).one()
    assert d1.enterprise.name == "武汉光谷芯材有限公司"
    assert d1.district.name == "东湖高新区" and d1.liaison.name == "王小明"
    assert d1.keywords == ["碳化硅", "缺陷检测", "机器视觉"]
    assert d1.investment == 50 and d1.industry.code == "39" and d1.deadline == date(2025, 12, 31)
    assert d1.status == "published" and d1.published_at is not None and d1.publishable
    assert [(e.from_status, e.to_status) for e in d1.events] == [(None, "published")]
    assert d1.tokens
    d2 = session.scalars(select(Demand).where(Demand.code == "XQ2024002")).one()
    assert d2.status == "draft" and d2.industry.name == "通用设备制造业"
    assert d2.investment == 12.5 and d2.deadline == date(2025, 6, 30) and d2.tech_field is None
    session.commit()

    again = imports.import_file(session, "demands", "d.xlsx", xlsx({"需求": DEMANDS}))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert count(session, DemandEvent) == 2


def test_demand_errors_name_row_column_and_value(session, enterprises):
    bad = [
        ["XQ9", "不存在的公司", "题目", None, None, "十万", "999", None, "a;b;c;d;e;f", None,
         "明年", "也许", "进行中", None],
        ["XQ10", "江岸精工机械有限公司", "题目", None, None, -1, None, None, None, None, None,
         "否", "已发布", "王小明"],
        ["XQ2024001", "武汉光谷芯材有限公司", "重复", None, None, None, None, None, "词", None,
         None, None, None, None],
    ]
    errors = row_errors(session, "demands", "d.csv", csv_bytes(DEMANDS + bad))
    assert errors == {
        (4, "企业名称", "系统中没有企业'不存在的公司'，请先导入企业"),
        (4, "计划投入（万元）", "'十万' 不是数字"),
        (4, "所属行业", "系统中没有行业'999'"),
        (4, "关键词", "关键词最多 5 个，实际 6 个"),
        (4, "截止日期", "'明年' 不是有效日期（应为 2025-12-31 这样的格式）"),
        (4, "可公开发布", "'也许' 应填“是”或“否”"),
        (4, "状态", "'进行中' 不是有效状态（应为 草稿、待审核、已退回、已发布、已对接、已关闭）"),
        (5, "计划投入（万元）", "'-1' 不能为负数"),
        (5, "关键词", "不能为空"),
        (5, "可公开发布", "状态为已发布的需求必须可公开发布（填 是）"),
        (5, "记录联络员", "江岸区没有在岗的区派联络员'王小明'"),
        (6, "需求编号", "与第 2 行重复（需求编号相同）"),
    }
    assert count(session, Demand) == 0


def test_export_then_reimport_gives_the_same_demands(session, enterprises):
    imports.import_file(session, "demands", "d.xlsx", xlsx({"需求": DEMANDS}))
    session.commit()
    exported = imports.export_xlsx(session, "demands")
    sheets = sheet_values(exported)
    assert sheets["需求"][0] == tuple(DEMAND_HEAD)
    again = imports.import_file(session, "demands", "export.xlsx", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    for demand in session.scalars(select(Demand)):
        session.delete(demand)
    session.flush()
    imports.import_file(session, "demands", "export.xlsx", exported)
    session.flush()
    assert sheet_values(imports.export_xlsx(session, "demands")) == sheets


# ---------------------------------------------------------------------------------------------
# Enterprises

ENTERPRISES = [
    ENTERPRISE_HEAD,
    ["武汉光谷芯材有限公司", CODE_A, "东湖高新区", "光谷生物城孵化器", "39", "是", "陈经理",
     "027-87654321"],
    ["汉阳新材料有限公司", None, "汉阳区", "汉阳新材料产业园", "化学原料和化学制品制造业", "否",
     None, 13900001234],
    ["汉阳涂料有限公司", None, "汉阳区", "汉阳新材料产业园", None, None, None, None],
]


def test_credit_code_check_digit():
    assert imports.credit_code_problem(CODE_A) is None
    assert imports.credit_code_problem("91350100M000100Y43") is None
    assert imports.credit_code_problem(valid_code("91420100MA4K1234A")) is None
    assert "校验位错误" in imports.credit_code_problem(CODE_A[:17] + "1")
    assert "18 位" in imports.credit_code_problem("9142")
    assert "不允许的字符" in imports.credit_code_problem("91420100MA4K0000I0")


def test_enterprises_import_creates_parks_once_and_is_idempotent(session):
    result = imports.import_file(session, "enterprises", "e.xlsx", xlsx({"企业": ENTERPRISES}))
    assert (result.created, result.parks_created) == (3, 2)
    assert "新建园区 2 个" in result.summary()
    a = session.scalars(select(Enterprise).where(Enterprise.credit_code == CODE_A)).one()
    assert a.district.name == "东湖高新区" and a.is_key and a.park.kind == "incubator"
    assert a.industry.code == "39"
    b = session.scalars(select(Enterprise).where(Enterprise.name == "汉阳新材料有限公司")).one()
    assert b.contact_phone == "13900001234" and b.park.district.name == "汉阳区"
    assert count(session, Park) == 2
    session.commit()
    again = imports.import_file(session, "enterprises", "e.xlsx", xlsx({"企业": ENTERPRISES}))
    assert (again.created, again.updated, again.unchanged, again.parks_created) == (0, 0, 3, 0)


def test_enterprise_errors(session):
    session.add(Enterprise(name="已有公司", credit_code=valid_code("91420100MA4K9999A"),
                           district_id=district(session, "江岸区").id))
    session.commit()
    rows = ENTERPRISES + [
        ["坏代码公司", CODE_A[:17] + "1", "江北区", None, None, "是", None, None],
        ["武汉光谷芯材有限公司", None, "江岸区", None, None, None, None, None],
        ["抢代码公司", valid_code("91420100MA4K9999A"), "江岸区", None, None, None, None, None],
        ["同代码公司", CODE_A, "江岸区", None, None, None, None, None],
    ]
    errors = row_errors(session, "enterprises", "e.xlsx", xlsx({"企业": rows}))
    assert errors == {
        (5, "统一社会信用代码", f"'{CODE_A[:17]}1' 校验位错误（按 GB 32100 最后一位应为 J）"),
        (5, "所属区", "系统中没有区'江北区'"),
        (6, "企业名称", "与第 2 行重复（企业名称相同）"),
        (7, "统一社会信用代码", f"'{valid_code('91420100MA4K9999A')}' 已属于企业'已有公司'"),
        (8, "统一社会信用代码", "与第 2 行重复（统一社会信用代码相同）"),
    }


def test_export_then_reimport_gives_the_same_enterprises(session):
    imports.import_file(session, "enterprises", "e.xlsx", xlsx({"企业": ENTERPRISES}))
    session.commit()
    exported = imports.export_xlsx(session, "enterprises")
    assert sheet_values(exported)["企业"][0] == tuple(ENTERPRISE_HEAD)
    again = imports.import_file(session, "enterprises", "export.xlsx", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


# ---------------------------------------------------------------------------------------------
# Roster (attachment 2 layout, title lines above the header)


def roster_file(rows: list[list]) -> bytes:
    return xlsx({"Sheet1": [["各区第二批选派联络员信息表"], ["所属区：东湖高新区（盖章）"],
                            ["填报时间：2022年3月8日"], ROSTER_HEAD, *rows]})


ROSTER = [
    [1, "王小明", "光谷创业服务中心 主任", "13800000001", "光谷生物城孵化器、光谷软件园",
     "武汉光谷芯材有限公司", "东湖高新区", date(2022, 3, 10)],
    [2, "赵丽", "武汉科技成果转化中心 科员", "027-65692159", "光谷软件园；光谷未来科技城", None,
     "东湖高新区", "2022-03-10"],
]


def test_roster_import_in_the_attachment_layout(session, enterprises):
    result = imports.import_file(session, "roster", "附件2.xlsx", roster_file(ROSTER))
    # 王小明 with the same phone exists already (fixture): updated, not duplicated
    assert (result.created, result.updated, result.parks_created) == (1, 1, 3)
    wang = session.scalars(select(Liaison).where(Liaison.name == "王小明")).one()
    assert wang.employer_post == "光谷创业服务中心 主任" and wang.start_date == date(2022, 3, 10)
    assert sorted(p.name for p in wang.parks) == ["光谷生物城孵化器", "光谷软件园"]
    assert [e.name for e in wang.enterprises] == ["武汉光谷芯材有限公司"]
    zhao = session.scalars(select(Liaison).where(Liaison.name == "赵丽")).one()
    assert zhao.kind == "district" and zhao.district.name == "东湖高新区"
    assert count(session, Park) == 3
    session.commit()
    again = imports.import_file(session, "roster", "附件2.xlsx", roster_file(ROSTER))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_roster_errors(session, enterprises):
    rows = ROSTER + [
        [3, "钱七", None, "13800000003", None, "不存在公司、江岸精工机械有限公司", "东湖高新区",
         None],
        [4, "赵丽", None, "027-65692159", None, None, "东湖高新区", "2022-13-01"],
        [5, "孙八", None, None, None, None, "东湖高新区", None],
    ]
    errors = row_errors(session, "roster", "r.xlsx", roster_file(rows))
    assert errors == {
        (7, "对接本区重点企业", "系统中没有企业'不存在公司'，请先导入企业"),
        (7, "对接本区重点企业", "企业'江岸精工机械有限公司'属于江岸区，不是东湖高新区"),
        (8, "起始日期", "'2022-13-01' 不是有效日期（应为 2025-12-31 这样的格式）"),
        (8, "姓名", "与第 6 行重复（所属区、姓名和联系电话相同）"),
        (9, "联系电话", "不能为空"),
    }
    assert count(session, Park) == 0


def test_export_then_reimport_gives_the_same_roster(session, enterprises):
    imports.import_file(session, "roster", "r.xlsx", roster_file(ROSTER))
    session.commit()
    exported = imports.export_xlsx(session, "roster")
    sheets = sheet_values(exported)
    assert sheets["联络员"][0] == tuple(ROSTER_HEAD)
    again = imports.import_file(session, "roster", "export.xlsx", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_import_reports_row_errors_and_fails(runner, session, enterprises, tmp_path):
    rows = DEMANDS + [DEMANDS[1][:] for _ in range(5)]
    for n, row in enumerate(rows[3:], start=3):
        row[0] = f"XQ-{n}"
    rows[6][5] = "十万"
    path = tmp_path / "demands.csv"
    path.write_bytes(csv_bytes(rows, "gbk"))
    result = runner.invoke(args=["import", "demands", str(path)])
    assert result.exit_code != 0
    assert "第 7 行 [计划投入（万元）]：'十万' 不是数字" in result.output
    assert "未写入任何数据" in result.output
    assert count(session, Demand) == 0

    rows[6][5] = 100
    path.write_bytes(csv_bytes(rows, "gbk"))
    result = runner.invoke(args=["import", "demands", str(path)])
    assert result.exit_code == 0, result.output
    assert "新增 7 条" in result.output
    out = tmp_path / "out.xlsx"
    result = runner.invoke(args=["export", "demands", str(out)])
    assert result.exit_code == 0
    assert len(sheet_values(out.read_bytes())["需求"]) == 8


# ---------------------------------------------------------------------------------------------
# Registries: parks/incubators, venture-capital firms, universities/institutes

PARK_HEAD = ["名称", "类型", "所属区"]
PARKS = [PARK_HEAD, ["光谷生物城", "产业园区", "东湖高新区"], ["洪山创业孵化器", None, "洪山区"],
         ["江岸众创空间", "孵化器", "江岸区"]]
INVESTOR_HEAD = ["机构名称", "关注行业", "投资阶段", "单笔投资下限（万元）", "单笔投资上限（万元）",
                 "投资偏好", "联系人", "联系电话"]
INVESTORS = [INVESTOR_HEAD,
             ["武汉光谷创投有限公司", "39；计算机、通信和其他电子设备制造业", "天使轮、A轮",
              100, 2000, "硬科技早期项目", "周经理", "027-87654321"],
             ["长江产业基金", None, "B轮", None, None, None, None, None]]
INSTITUTION_HEAD = ["名称", "类型", "所在城市"]
INSTITUTIONS = [INSTITUTION_HEAD, ["武汉理工大学", None, "武汉"],
                ["中国科学院武汉岩土力学研究所", "科研院所", "武汉"]]


def test_parks_import_is_idempotent_and_names_are_compared_in_normal_form(session):
    hi_tech = district(session, "东湖高新区")
    session.add(Park(name="光谷生物城", kind="incubator", district_id=hi_tech.id))
    session.commit()
    result = imports.import_file(session, "parks", "p.xlsx", xlsx({"园区孵化器": PARKS}))
    assert (result.created, result.updated, result.unchanged) == (2, 1, 0)
    assert "园区/孵化器导入完成：共 3 行，新增 2 条，更新 1 条" in result.summary()
    kinds = {p.name: p.kind for p in session.scalars(select(Park))}
    assert kinds == {"光谷生物城": "park", "洪山创业孵化器": "incubator",
                     "江岸众创空间": "incubator"}
    session.commit()
    spaced = [PARK_HEAD, ["光谷 生物城", None, "东湖高新区"],
              ["洪山创业孵化器 ", "孵化器", "洪山区"]]
    again = imports.import_file(session, "parks", "p.csv", csv_bytes(spaced))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert count(session, Park) == 3


def test_park_errors_name_row_column_and_value(session):
    before = count(session, Park)
    rows = PARKS + [["光谷生物城", None, "东湖高新区"], ["某园", "科技城", "江北区"],
                    [None, None, "江岸区"]]
    errors = row_errors(session, "parks", "p.xlsx", xlsx({"园区孵化器": rows}))
    assert errors == {
        (5, "名称", "与第 2 行重复（所属区和名称相同）"),
        (6, "类型", "'科技城' 应为“产业园区”或“孵化器”"),
        (6, "所属区", "系统中没有区'江北区'"),
        (7, "名称", "不能为空"),
    }
    assert count(session, Park) == before


def test_investors_import_reads_industries_stages_and_tickets(session):
    result = imports.import_file(session, "investors", "v.xlsx", xlsx({"创投机构": INVESTORS}))
    assert result.created == 2
    firm = session.scalars(select(Investor).where(Investor.name == "武汉光谷创投有限公司")).one()
    assert [i.code for i in firm.industries] == ["39"]
    assert firm.stages == ["天使轮", "A轮"] and (firm.ticket_min, firm.ticket_max) == (100, 2000)
    session.commit()
    exported = imports.export_xlsx(session, "investors")
    assert sheet_values(exported)["创投机构"][0] == tuple(INVESTOR_HEAD)
    again = imports.import_file(session, "investors", "export.xlsx", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = [INVESTOR_HEAD[:1] + ["投资阶段"], ["武汉光谷创投有限公司", "种子期"]]
    third = imports.import_file(session, "investors", "v.csv", csv_bytes(changed))
    assert (third.updated, firm.stages, firm.ticket_max) == (1, ["种子期"], 2000)


def test_investor_errors(session):
    rows = [INVESTOR_HEAD, ["甲创投", "火星采矿业", "D轮", 500, 100, None, None, "电话"],
            ["甲创投", None, None, None, None, None, None, None]]
    errors = row_errors(session, "investors", "v.xlsx", xlsx({"创投机构": rows}))
    assert errors == {
        (2, "关注行业", "系统中没有行业'火星采矿业'"),
        (2, "投资阶段",
         "'D轮' 不是投资阶段，应为 种子期、天使轮、A轮、B轮、C轮及以后、Pre-IPO 之一"),
        (2, "单笔投资上限（万元）", "单笔投资上限 100 万元不能小于下限 500 万元"),
        (2, "联系电话", "'电话' 不是有效的电话号码"),
        (3, "机构名称", "与第 2 行重复（机构名称相同）"),
    }
    assert count(session, Investor) == 0


def test_institutions_import_updates_rather_than_duplicates(session, institutions):
    result = imports.import_file(session, "institutions", "i.xlsx",
                                 xlsx({"高校院所": INSTITUTIONS + [["武汉 大学", None, "武汉"]]}))
    assert (result.created, result.updated) == (2, 1)
    kinds = {i.name: (i.kind, i.city) for i in session.scalars(select(Institution))}
    assert kinds["武汉理工大学"] == ("university", "武汉")
    assert kinds["中国科学院武汉岩土力学研究所"] == ("institute", "武汉")
    assert kinds["武汉大学"] == ("university", "武汉") and "武汉 大学" not in kinds
    session.commit()
    again = imports.import_file(session, "institutions", "i.xlsx",
                                imports.export_xlsx(session, "institutions"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    with pytest.raises(ImportFailed) as exc:
        imports.import_file(session, "institutions", "i.csv", csv_bytes(
            [INSTITUTION_HEAD, ["某研究院", "公司", None]]))
    assert exc.value.errors == [{"row": 2, "column": "类型",
                                 "message": "'公司' 应为“高校”或“科研院所”"}]


@pytest.mark.parametrize("kind, sheet, head", [("parks", "园区孵化器", PARK_HEAD),
                                               ("investors", "创投机构", INVESTOR_HEAD),
                                               ("institutions", "高校院所", INSTITUTION_HEAD)])
def test_registry_templates(kind, sheet, head):
    values = sheet_values(imports.template_xlsx(kind))
    assert values[sheet] == [tuple(head)] and "填写说明" in values
