"""Imports and exports: every kind, every kind of bad file, idempotence and round trips."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.errors import ImportFailed
from app.services import imports
from app.services.indexing import current_version
from models import (
    Demand,
    DemandEvent,
    Expert,
)
from tests.services.import_files import (
    DEMAND_HEAD,
    DEMANDS,
    EXPERT_HEAD,
    EXPERTS,
    ITEM_HEAD,
    ITEMS,
    count,
    csv_bytes,
    experts_file,
    row_errors,
    sheet_values,
    xlsx,
)

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


