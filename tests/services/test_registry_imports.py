"""Imports and exports of enterprises, the roster, parks, investors and institutions; the CLI."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.errors import ImportFailed
from app.services import imports
from models import (
    Demand,
    Enterprise,
    Institution,
    Investor,
    Liaison,
    Park,
)
from tests.services.import_files import (
    CODE_A,
    DEMANDS,
    ENTERPRISE_HEAD,
    ROSTER_HEAD,
    count,
    csv_bytes,
    district,
    row_errors,
    sheet_values,
    valid_code,
    xlsx,
)

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
