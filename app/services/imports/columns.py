"""The columns of each import file kind, their sheet titles and labels."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import InstrumentedAttribute

from models import Demand, Enterprise, Expert, ExpertItem, Institution, Investor, Liaison, Park


def _len(attr: InstrumentedAttribute) -> int | None:
    return getattr(attr.property.columns[0].type, "length", None)


@dataclass(frozen=True)
class Column:
    """One column of an import file: its Chinese header, how its cells are read."""

    header: str
    key: str
    required: bool = False
    type: str = "text"  # text | bool | number | date | year | phone | email | list | seq
    max_len: int | None = None
    note: str = ""
    aliases: tuple[str, ...] = ()
    width: int | None = None


#: How the registry imports find an existing row (app/services/registry_writer.py clean_name).
_SAME_NAME = "与已有记录同名（不计空格、全角半角）即更新该记录"

COLUMNS: dict[str, tuple[Column, ...]] = {
    "experts": (
        Column("姓名", "name", True, max_len=_len(Expert.name), width=12),
        Column("所在单位", "institution", True, note="系统中已有的高校院所全称",
               aliases=("工作单位", "单位", "所在高校院所"), width=24),
        Column("职称/职务", "title", max_len=_len(Expert.title), aliases=("职称", "职务")),
        Column("研究方向", "research_fields", note="多个方向用；分隔", width=30),
        Column("简介", "summary", width=50),
        Column("是否院士", "is_academician", type="bool", note="填 是 或 否，空白视为否"),
        Column("团队", "team", max_len=_len(Expert.team), width=20),
        Column("技术领域", "tech_field", note="国家重点支持的高新技术领域名称，如 电子信息",
               width=16),
        Column("联系电话", "phone", type="phone", max_len=_len(Expert.phone), aliases=("电话",),
               width=16),
        Column("电子邮箱", "email", type="email", max_len=_len(Expert.email),
               aliases=("邮箱", "email", "e-mail"), width=24),
        Column("成果", "items", type="text",
               note="仅 CSV 使用：每项一行（单元格内换行），格式 类型|标题|年份|内容，"
                    "类型为 项目/论文/专利/奖励，年份和内容可省略；.xlsx 请用“成果”工作表",
               width=40),
    ),
    "demands": (
        Column("需求编号", "code", True, max_len=_len(Demand.code), aliases=("编号",), width=16),
        Column("企业名称", "enterprise", True, note="系统中已有的企业全称", width=24),
        Column("需求名称", "title", True, max_len=_len(Demand.title), width=30),
        Column("技术难题", "problem", width=50),
        Column("预期目标", "goals", width=40),
        Column("计划投入（万元）", "investment", type="number", note="数字，单位万元",
               aliases=("计划投入", "投入资金（万元）", "投入资金")),
        Column("所属行业", "industry", note="国民经济行业分类大类代码或名称，如 39 或 "
                                        "计算机、通信和其他电子设备制造业", width=20),
        Column("技术领域", "tech_field", note="国家重点支持的高新技术领域名称", width=16),
        Column("关键词", "keywords", True, type="list", note="1 至 5 个，用；或 , 分隔",
               width=24),
        Column("合作方式", "cooperation_mode", max_len=_len(Demand.cooperation_mode),
               note="如 技术开发、技术转让、技术许可、技术咨询、技术服务、合作研发"),
        Column("截止日期", "deadline", type="date", note="如 2025-12-31"),
        Column("可公开发布", "publishable", type="bool", note="填 是 或 否，空白视为否"),
        Column("状态", "status", note="草稿/已提交/已退回/已发布/已对接/已关闭，新需求空白为草稿"),
        Column("记录联络员", "liaison", note="企业所在区的区派联络员姓名", width=12),
    ),
    "enterprises": (
        Column("企业名称", "name", True, max_len=_len(Enterprise.name), width=28),
        Column("统一社会信用代码", "credit_code", note="18 位，校验位按 GB 32100 检查",
               aliases=("信用代码",), width=22),
        Column("所属区", "district", True, note="如 东湖高新区", aliases=("所在区",)),
        Column("所在园区", "park", max_len=_len(Park.name), note="系统中没有的园区会在所属区下新建",
               aliases=("所在园区、孵化器", "园区"), width=24),
        Column("所属行业", "industry", note="国民经济行业分类大类代码或名称", width=20),
        Column("是否重点企业", "is_key", type="bool", note="填 是 或 否，空白视为否",
               aliases=("重点企业",)),
        Column("联系人", "contact_person", max_len=_len(Enterprise.contact_person)),
        Column("联系电话", "contact_phone", type="phone", max_len=_len(Enterprise.contact_phone),
               aliases=("电话",), width=16),
    ),
    "roster": (
        Column("序号", "seq", type="seq", note="可留空，导入时忽略", width=6),
        Column("姓名", "name", True, max_len=_len(Liaison.name)),
        Column("工作单位及职务", "employer_post", max_len=_len(Liaison.employer_post), width=30),
        Column("联系电话", "phone", True, type="phone", max_len=_len(Liaison.phone),
               aliases=("电话",), width=16),
        Column("对接产业园区、孵化器", "parks", type="list",
               note="多个用、或；分隔，系统中没有的园区会在所属区下新建",
               aliases=("对接产业园区孵化器", "对接产业园区"), width=36),
        Column("对接本区重点企业", "enterprises", type="list",
               note="多个用、或；分隔，须为系统中已有的本区企业", aliases=("对接重点企业",),
               width=36),
        Column("所属区", "district", True, note="如 江岸区", aliases=("所在区",)),
        Column("起始日期", "start_date", type="date", note="开始担任联络员的日期，如 2022-03-10",
               aliases=("开始日期",)),
    ),
    "parks": (
        Column("名称", "name", True, max_len=_len(Park.name), aliases=("园区名称", "园区/孵化器"),
               note=f"园区或孵化器全称；同一区内{_SAME_NAME}", width=28),
        Column("类型", "kind", note="产业园区 或 孵化器；空白时新园区按名称判断"
                                  "（含 孵化、众创、加速器 为孵化器），已有园区不变", width=10),
        Column("所属区", "district", True, note="如 东湖高新区", aliases=("所在区",)),
    ),
    "investors": (
        Column("机构名称", "name", True, max_len=_len(Investor.name), aliases=("名称",),
               note=f"机构全称；{_SAME_NAME}", width=30),
        Column("关注行业", "industries", note="国民经济行业分类大类代码或名称，多个用；分隔",
               width=30),
        Column("投资阶段", "stages", type="list",
               note="种子期、天使轮、A轮、B轮、C轮及以后、Pre-IPO，多个用、或；分隔", width=20),
        Column("单笔投资下限（万元）", "ticket_min", type="number", note="数字，单位万元",
               aliases=("单笔下限（万元）", "单笔下限")),
        Column("单笔投资上限（万元）", "ticket_max", type="number", note="数字，不小于下限",
               aliases=("单笔上限（万元）", "单笔上限")),
        Column("投资偏好", "focus", max_len=2000, width=40),
        Column("联系人", "contact_person", max_len=_len(Investor.contact_person)),
        Column("联系电话", "contact_phone", type="phone", max_len=_len(Investor.contact_phone),
               aliases=("电话",), width=16),
    ),
    "institutions": (
        Column("名称", "name", True, max_len=_len(Institution.name),
               aliases=("单位名称", "高校院所名称"), note=f"单位全称；{_SAME_NAME}", width=28),
        Column("类型", "kind", note="高校 或 科研院所；空白时新单位按名称判断"
                                  "（含 大学、学院 为高校），已有单位不变", width=10),
        Column("所在城市", "city", max_len=_len(Institution.city), note="如 武汉"),
    ),
}

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("姓名", "name", True, max_len=_len(Expert.name), width=12),
    Column("所在单位", "institution", True, aliases=("工作单位", "单位"), width=24),
    Column("类型", "kind", True, note="项目、论文、专利 或 奖励"),
    Column("标题", "title", True, max_len=_len(ExpertItem.title), width=40),
    Column("内容", "text", note="摘要、关键词等", width=60),
    Column("年份", "year", type="year", note="四位年份，如 2021"),
)

KINDS = tuple(COLUMNS)
SHEET_TITLES = {"experts": "专家", "demands": "需求", "enterprises": "企业", "roster": "联络员",
                "parks": "园区孵化器", "investors": "创投机构", "institutions": "高校院所"}
ITEM_SHEET = "成果"
NOTES_SHEET = "填写说明"
KIND_LABELS = {"experts": "专家", "demands": "需求", "enterprises": "企业",
               "roster": "区派联络员", "parks": "园区/孵化器", "investors": "创投机构",
               "institutions": "高校院所"}
