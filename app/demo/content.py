"""Deterministic fictional demo content for the quick start.

Everything here is plain Python records (frozen dataclasses); no database code. The loader maps
the records onto the models by their ``key`` fields (``"E0001"``, ``"C001"`` ...), which are
stable for a given seed. Person names, phone numbers, e-mail addresses, enterprises, parks,
investors and all texts are invented; only the district and institution names are real.
Phones follow ``1380000xxxx`` / ``1390000xxxx``; e-mails end in ``@example.cn`` or
``@example.com``. Timestamps are timezone-aware UTC datetimes.

Run ``python -m app.demo.content`` to print the counts and a sample demand.
"""

from __future__ import annotations

import calendar
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from app import clock
from app.services.programme.rules import (
    assessment_due,
    demand_target,
    round_half_up,
    service_window,
)

DATA_DIR = Path(__file__).resolve().parent / "data"

TECHNICAL_FIELDS: tuple[str, ...] = (
    "电子信息",
    "生物与新医药",
    "航空航天",
    "新材料",
    "高技术服务",
    "新能源与节能",
    "资源与环境",
    "先进制造与自动化",
)

# (name, existing liaisons, new liaisons, total) as in attachment 1 of the notice.
DISTRICT_QUOTAS: tuple[tuple[str, int, int, int], ...] = (
    ("江岸区", 9, 1, 10),
    ("江汉区", 5, 5, 10),
    ("硚口区", 5, 5, 10),
    ("汉阳区", 5, 5, 10),
    ("武昌区", 6, 9, 15),
    ("青山区", 8, 2, 10),
    ("洪山区", 8, 7, 15),
    ("蔡甸区", 5, 1, 6),
    ("江夏区", 5, 1, 6),
    ("黄陂区", 5, 1, 6),
    ("新洲区", 6, 1, 7),
    ("东湖高新区", 16, 34, 50),
    ("武汉经开区", 11, 19, 30),
    ("临空港开发区", 6, 9, 15),
)
DISTRICTS: tuple[str, ...] = tuple(d[0] for d in DISTRICT_QUOTAS)

# Administrative division code used in credit codes, enterprises per district, parks per
# district, technical-field weights of the district's enterprises (missing fields weigh 1).
_DISTRICT_PROFILE: dict[str, tuple[str, int, int, dict[str, int]]] = {
    "江岸区": ("420102", 14, 3, {"高技术服务": 4, "电子信息": 3, "生物与新医药": 2}),
    "江汉区": ("420103", 12, 2, {"高技术服务": 5, "电子信息": 3}),
    "硚口区": ("420104", 12, 3, {"生物与新医药": 4, "先进制造与自动化": 2, "新材料": 2}),
    "汉阳区": ("420105", 14, 3, {"先进制造与自动化": 4, "新能源与节能": 3}),
    "武昌区": ("420106", 18, 3, {"高技术服务": 4, "电子信息": 3, "资源与环境": 2}),
    "青山区": ("420107", 12, 3, {"新材料": 5, "资源与环境": 3, "新能源与节能": 3}),
    "洪山区": ("420111", 20, 4, {"电子信息": 3, "资源与环境": 3, "高技术服务": 2}),
    "蔡甸区": ("420114", 10, 2, {"先进制造与自动化": 4, "新材料": 2, "生物与新医药": 2}),
    "江夏区": ("420115", 12, 3, {"先进制造与自动化": 3, "新材料": 2, "生物与新医药": 2}),
    "黄陂区": ("420116", 10, 2, {"先进制造与自动化": 3, "航空航天": 2, "资源与环境": 2}),
    "新洲区": ("420117", 10, 2, {"先进制造与自动化": 3, "新材料": 3, "资源与环境": 2}),
    "东湖高新区": (
        "420100",
        80,
        5,
        {"电子信息": 6, "生物与新医药": 5, "新能源与节能": 3, "新材料": 2, "高技术服务": 2},
    ),
    "武汉经开区": ("420113", 48, 5, {"先进制造与自动化": 5, "新能源与节能": 5, "电子信息": 2}),
    "临空港开发区": (
        "420112",
        28,
        4,
        {"电子信息": 4, "航空航天": 3, "高技术服务": 3, "先进制造与自动化": 2},
    ),
}

# GB/T 4754-2017 divisions used by the demo (code -> name).
INDUSTRIES: dict[str, str] = {
    "05": "农、林、牧、渔专业及辅助性活动",
    "10": "非金属矿采选业",
    "13": "农副食品加工业",
    "14": "食品制造业",
    "17": "纺织业",
    "26": "化学原料和化学制品制造业",
    "27": "医药制造业",
    "28": "化学纤维制造业",
    "29": "橡胶和塑料制品业",
    "30": "非金属矿物制品业",
    "31": "黑色金属冶炼和压延加工业",
    "32": "有色金属冶炼和压延加工业",
    "33": "金属制品业",
    "34": "通用设备制造业",
    "35": "专用设备制造业",
    "36": "汽车制造业",
    "37": "铁路、船舶、航空航天和其他运输设备制造业",
    "38": "电气机械和器材制造业",
    "39": "计算机、通信和其他电子设备制造业",
    "40": "仪器仪表制造业",
    "42": "废弃资源综合利用业",
    "44": "电力、热力生产和供应业",
    "46": "水的生产和供应业",
    "48": "土木工程建筑业",
    "59": "装卸搬运和仓储业",
    "63": "电信、广播电视和卫星传输服务",
    "64": "互联网和相关服务",
    "65": "软件和信息技术服务业",
    "73": "研究和试验发展",
    "74": "专业技术服务业",
    "75": "科技推广和应用服务业",
    "77": "生态保护和环境治理业",
    "84": "卫生",
}

COOPERATION_MODES: tuple[str, ...] = (
    "技术开发",
    "技术转让",
    "技术许可",
    "技术咨询",
    "技术服务",
    "合作研发",
    "人才引进",
)
DEMAND_STATUSES: tuple[str, ...] = (
    "draft",
    "submitted",
    "returned",
    "published",
    "matched",
    "closed",
)
ITEM_KINDS: tuple[str, ...] = ("project", "paper", "patent", "award")
INVESTMENT_STAGES: tuple[str, ...] = ("种子轮", "天使轮", "A轮", "B轮", "C轮", "成长期", "Pre-IPO")

# (name, short name, kind, relative size, field weights, preferred sub-areas)
_INSTITUTIONS: tuple[tuple[str, str, str, int, dict[str, float], tuple[str, ...]], ...] = (
    (
        "武汉大学",
        "武大",
        "university",
        15,
        {"电子信息": 3, "生物与新医药": 2, "资源与环境": 2, "航空航天": 1, "高技术服务": 1.5},
        ("卫星应用与遥感", "人工智能与机器学习", "信息安全与密码技术", "水污染治理"),
    ),
    (
        "华中科技大学",
        "华科",
        "university",
        17,
        {
            "电子信息": 3,
            "先进制造与自动化": 3,
            "新能源与节能": 2,
            "生物与新医药": 2,
            "新材料": 1,
            "航空航天": 1,
        },
        (
            "激光加工与精密制造",
            "数控机床与智能装备",
            "光纤通信与光器件",
            "电机与电力电子",
            "医疗器械与医学影像",
        ),
    ),
    (
        "武汉理工大学",
        "武理工",
        "university",
        11,
        {"新材料": 3, "先进制造与自动化": 2, "新能源与节能": 2, "资源与环境": 1, "航空航天": 1},
        (
            "绿色建材与道路材料",
            "无机非金属与陶瓷材料",
            "船舶与海洋工程装备",
            "新能源汽车与智能网联",
            "氢能与燃料电池",
        ),
    ),
    (
        "华中师范大学",
        "华师",
        "university",
        6,
        {"电子信息": 2, "高技术服务": 2, "生物与新医药": 1, "资源与环境": 1},
        ("人工智能与机器学习", "大数据与云计算服务", "化学药与药物制剂"),
    ),
    (
        "华中农业大学",
        "华农",
        "university",
        8,
        {"生物与新医药": 4, "资源与环境": 2},
        ("生物育种与农业生物技术", "食品生物技术", "疫苗与病毒学", "土壤修复与地质环境"),
    ),
    (
        "中国地质大学（武汉）",
        "地大",
        "university",
        7,
        {"资源与环境": 4, "新材料": 1.5, "航空航天": 1},
        ("资源勘查与矿产利用", "土壤修复与地质环境", "卫星应用与遥感", "岩土工程与地下空间"),
    ),
    (
        "中南财经政法大学",
        "中南财大",
        "university",
        3,
        {"高技术服务": 4, "电子信息": 1},
        ("科技金融与数字经济", "大数据与云计算服务", "智慧物流与供应链"),
    ),
    (
        "武汉科技大学",
        "武科大",
        "university",
        5,
        {"新材料": 3, "先进制造与自动化": 2, "资源与环境": 1.5, "生物与新医药": 0.5},
        ("先进金属材料", "无机非金属与陶瓷材料", "装备故障诊断与运维", "工业节能与余热利用"),
    ),
    (
        "湖北大学",
        "湖大",
        "university",
        5,
        {"新材料": 2, "生物与新医药": 2, "电子信息": 1.5},
        ("高分子材料与复合材料", "电子功能材料", "生物育种与农业生物技术"),
    ),
    (
        "武汉工程大学",
        "武工程",
        "university",
        4,
        {"新材料": 2, "资源与环境": 2, "先进制造与自动化": 1},
        ("资源勘查与矿产利用", "大气污染防治", "纳米材料与二维材料"),
    ),
    (
        "武汉纺织大学",
        "武纺",
        "university",
        3,
        {"新材料": 3, "高技术服务": 1.5, "先进制造与自动化": 1},
        ("纺织与纤维材料", "工业设计与研发服务"),
    ),
    (
        "湖北工业大学",
        "湖工大",
        "university",
        4,
        {"先进制造与自动化": 2, "生物与新医药": 1.5, "新能源与节能": 1.5, "电子信息": 1},
        ("智能制造与柔性产线", "食品生物技术", "光伏与太阳能利用"),
    ),
    (
        "江汉大学",
        "江大",
        "university",
        3,
        {"先进制造与自动化": 1.5, "生物与新医药": 1.5, "电子信息": 1.5, "新材料": 1},
        ("智能检测与仪器仪表", "中药现代化与天然药物"),
    ),
    (
        "中南民族大学",
        "中南民大",
        "university",
        3,
        {"生物与新医药": 2, "电子信息": 1.5, "新材料": 1},
        ("中药现代化与天然药物", "化学药与药物制剂", "物联网与传感网络"),
    ),
    (
        "武汉轻工大学",
        "武轻工",
        "university",
        3,
        {"生物与新医药": 3, "先进制造与自动化": 1},
        ("食品生物技术", "智能制造与柔性产线"),
    ),
    (
        "中国科学院武汉物理与数学研究所",
        "物数所",
        "institute",
        2,
        {"电子信息": 3, "生物与新医药": 2, "航空航天": 1.5},
        ("医疗器械与医学影像", "通信网络与卫星导航", "光纤通信与光器件"),
    ),
    (
        "中国科学院水生生物研究所",
        "水生所",
        "institute",
        2,
        {"资源与环境": 4, "生物与新医药": 2},
        ("水生态与流域保护", "水污染治理", "食品生物技术"),
    ),
    (
        "中国科学院武汉岩土力学研究所",
        "岩土所",
        "institute",
        2,
        {"资源与环境": 4, "先进制造与自动化": 0.5},
        ("岩土工程与地下空间", "土壤修复与地质环境", "固废处理与资源化"),
    ),
    (
        "中国科学院武汉病毒研究所",
        "病毒所",
        "institute",
        2,
        {"生物与新医药": 5},
        ("疫苗与病毒学", "体外诊断", "抗体药物与生物制品"),
    ),
    (
        "武汉邮电科学研究院",
        "邮科院",
        "institute",
        3,
        {"电子信息": 5, "高技术服务": 1},
        ("光纤通信与光器件", "通信网络与卫星导航", "信息安全与密码技术", "物联网与传感网络"),
    ),
)

FAMOUS_NAMES: frozenset[str] = frozenset(
    "李云龙 马云 李彦宏 雷军 王健林 刘强东 马化腾 周杰伦 李娜 张艺谋 杨振宁 钟南山 袁隆平 "
    "屠呦呦 李四光 王伟 张伟 王芳 李强 刘洋 王军 李明 张勇 王磊 刘伟 李杰 王涛 张杰 "
    "李宁 王菲 刘翔 郭晶晶 邓亚萍 杨洋 黄晓明 赵薇 周迅 孙俪 陈坤 胡歌 林丹 王楠 朱婷".split()
)
FAMOUS_BRANDS: frozenset[str] = frozenset(
    "华星 长飞 烽火 光迅 华工 高德 人福 联影 精测 东风 华为 中兴 天马 新芯 长江 武钢 锐科 帝尔 "
    "海创 凡谷 中元 健民 九州 华中 楚天 安翰 兰丁 奥美 科前 凯迪 武重 三丰 天喻 达梦 斗鱼 金山 "
    "小米 卓尔 当代 中百 光谷 汉口 武商 立得 华灿 天瑞 国测 楚能 博奥 益盛 明德 中科 华大 瑞华 "
    "联创 华信 远大 中航 航天 国电 科大".split()
)
_BRAND_CHARS = "华睿博瑞创泰联鼎恒信达诚嘉锐拓卓瀚宸汇智途航源宏新科凯盛隆合禹晟迈捷"

PHONE_PATTERN = re.compile(r"^13[89]0000\d{4}$")
EMAIL_PATTERN = re.compile(r"^[a-z0-9.]+@example\.(cn|com)$")



# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class SubArea:
    """A topic of the vocabulary: technical terms, applications and demand indicators."""

    name: str
    technical_field: str
    industry_codes: tuple[str, ...]
    terms: tuple[str, ...]
    applications: tuple[str, ...]
    indicators: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Institution:
    """A real Wuhan university or research institute."""

    key: str
    name: str
    short_name: str
    kind: str  # "university" | "institute"


@dataclass(frozen=True, slots=True)
class Park:
    """A fictional industrial park or incubator of a district."""

    key: str
    name: str
    district: str
    kind: str  # "产业园区" | "孵化器" | "众创空间"
    technical_field: str


@dataclass(frozen=True, slots=True)
class Liaison:
    """A district liaison (attachment-2 roster fields) or a campus liaison."""

    key: str
    kind: str  # "district" | "campus"
    name: str
    employer: str
    post: str
    employer_post: str  # 工作单位及职务, "employer post"
    phone: str
    email: str
    district: str | None  # district liaisons only
    institution_key: str | None  # campus liaisons only
    park_keys: tuple[str, ...]
    enterprise_keys: tuple[str, ...]  # assigned key enterprises
    batch: int  # 1 = existing (first batch, two years ago), 2 = newly dispatched last year
    start_date: date
    end_date: date | None = None
    end_reason: str | None = None
    replaced_by_key: str | None = None
    replaces_key: str | None = None
    filing_date: date | None = None  # replacement filed with the city bureau


@dataclass(frozen=True, slots=True)
class ExpertItem:
    """One project, paper, patent or award of an expert."""

    kind: str  # "project" | "paper" | "patent" | "award"
    title: str
    text: str
    year: int


@dataclass(frozen=True, slots=True)
class Expert:
    """A fictional expert of a real institution."""

    key: str
    name: str
    institution_key: str
    institution: str
    title: str
    research_fields: tuple[str, ...]
    summary: str
    is_academician: bool
    team_name: str | None
    phone: str
    email: str
    technical_field: str
    sub_areas: tuple[str, ...]
    items: tuple[ExpertItem, ...]


@dataclass(frozen=True, slots=True)
class Enterprise:
    """A fictional enterprise."""

    key: str
    name: str
    credit_code: str
    district: str
    park_key: str | None
    industry_code: str
    industry_name: str
    technical_field: str
    sub_area: str
    is_key: bool
    contact_name: str
    contact_post: str
    contact_phone: str
    contact_email: str
    founded_year: int


@dataclass(frozen=True, slots=True)
class Demand:
    """A fictional enterprise technology demand."""

    key: str
    enterprise_key: str
    liaison_key: str
    district: str
    title: str
    problem: str  # 需求内容
    goals: str  # 预期目标
    basis: str | None  # 现有工作基础
    text: str  # the three sections as one text with their headings
    investment: float | None  # 万元
    industry_code: str
    technical_field: str
    keywords: tuple[str, ...]
    cooperation_mode: str
    deadline: date
    publishable: bool
    status: str  # one of DEMAND_STATUSES
    return_reason: str | None
    close_reason: str | None
    created_at: datetime
    submitted_at: datetime | None
    reviewed_at: datetime | None
    published_at: datetime | None
    closed_at: datetime | None
    is_vague: bool  # how it was generated: short, no numbers
    sub_area: str


@dataclass(frozen=True, slots=True)
class Investor:
    """A fictional venture-capital firm and its preferences."""

    key: str
    name: str
    industry_codes: tuple[str, ...]
    technical_fields: tuple[str, ...]
    stages: tuple[str, ...]
    ticket_min: float  # 万元
    ticket_max: float  # 万元
    contact_name: str
    contact_phone: str
    contact_email: str
    intro: str


@dataclass(frozen=True, slots=True)
class Training:
    """A district's training session."""

    key: str
    district: str
    title: str
    held_on: date
    location: str
    content: str
    liaison_keys: tuple[str, ...]
    attendee_count: int


@dataclass(frozen=True, slots=True)
class Case:
    """A typical case reported by a district."""

    key: str
    district: str
    year: int
    title: str
    text: str
    liaison_key: str
    demand_key: str
    enterprise_key: str
    expert_key: str
    contract_amount: float | None  # 万元
    reported_on: date


@dataclass(frozen=True, slots=True)
class Assessment:
    """A yearly assessment of a liaison after one year of work."""

    key: str
    liaison_key: str
    district: str
    year: int
    score: int
    grade: str  # 优秀 | 良好 | 合格 | 不合格
    comment: str
    assessed_on: date


@dataclass(frozen=True, slots=True)
class Visit:
    """A liaison's visit to an assigned park or enterprise."""

    key: str
    liaison_key: str
    district: str
    visited_on: date
    park_key: str | None
    enterprise_key: str | None
    people_met: str
    findings: str
    follow_up: str
    demand_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoData:
    """All demo records, each collection ordered by key."""

    seed: int
    districts: tuple[str, ...]
    institutions: tuple[Institution, ...]
    parks: tuple[Park, ...]
    liaisons: tuple[Liaison, ...]
    experts: tuple[Expert, ...]
    enterprises: tuple[Enterprise, ...]
    demands: tuple[Demand, ...]
    investors: tuple[Investor, ...]
    trainings: tuple[Training, ...]
    cases: tuple[Case, ...]
    assessments: tuple[Assessment, ...]
    visits: tuple[Visit, ...] = ()
    sub_areas: tuple[SubArea, ...] = field(repr=False, default=())

    def summary(self) -> dict[str, int]:
        """Return the number of records of each kind."""
        district_liaisons = [x for x in self.liaisons if x.kind == "district"]
        counts = {
            "districts": len(self.districts),
            "institutions": len(self.institutions),
            "parks": len(self.parks),
            "liaisons": len(self.liaisons),
            "district_liaisons": len(district_liaisons),
            "district_liaisons_active": sum(x.end_date is None for x in district_liaisons),
            "district_liaisons_replaced": sum(x.end_date is not None for x in district_liaisons),
            "campus_liaisons": len(self.liaisons) - len(district_liaisons),
            "experts": len(self.experts),
            "expert_items": sum(len(e.items) for e in self.experts),
            "academicians": sum(e.is_academician for e in self.experts),
            "enterprises": len(self.enterprises),
            "key_enterprises": sum(e.is_key for e in self.enterprises),
            "demands": len(self.demands),
            "vague_demands": sum(d.is_vague for d in self.demands),
            "investors": len(self.investors),
            "trainings": len(self.trainings),
            "cases": len(self.cases),
            "assessments": len(self.assessments),
            "visits": len(self.visits),
            "sub_areas": len(self.sub_areas),
        }
        for status in DEMAND_STATUSES:
            counts[f"demands_{status}"] = sum(d.status == status for d in self.demands)
        return counts


# ---------------------------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015)

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code_check_char(first17: str) -> str:
    """Return the 18th (check) character of a unified social credit code."""
    if len(first17) != 17:
        raise ValueError("expected the first 17 characters of a credit code")
    pairs = zip(first17, _CREDIT_WEIGHTS, strict=True)
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in pairs)
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """Return the check character of a 9-character organisation code (GB 11714-1997)."""
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def is_valid_credit_code(code: str) -> bool:
    """Tell whether a code has 18 valid characters and a correct check character."""
    return (
        len(code) == 18
        and all(c in CREDIT_CODE_CHARS for c in code)
        and credit_code_check_char(code[:17]) == code[17]
    )


def is_fictional_phone(phone: str) -> bool:
    """Tell whether a phone number follows the demo's fictional pattern."""
    return PHONE_PATTERN.match(phone) is not None


# ---------------------------------------------------------------------------------------------
# Vocabulary files


@lru_cache(maxsize=1)
def load_sub_areas() -> tuple[SubArea, ...]:
    """Read the topic vocabulary of app/demo/data/subareas.txt."""
    areas: list[SubArea] = []
    current_field = ""
    head: tuple[str, tuple[str, ...]] | None = None
    parts: dict[str, list[str]] = {}

    def flush() -> None:
        if head is not None:
            areas.append(
                SubArea(
                    name=head[0],
                    technical_field=current_field,
                    industry_codes=head[1],
                    terms=tuple(parts["T"]),
                    applications=tuple(parts["A"]),
                    indicators=tuple(parts["I"]),
                )
            )

    for raw in (DATA_DIR / "subareas.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            flush()
            head = None
            current_field = line[3:].strip()
        elif line.startswith("= "):
            flush()
            name, codes = line[2:].split("|")
            head = (name.strip(), tuple(c.strip() for c in codes.split(",")))
            parts = {}
        else:
            tag, rest = line[0], line[1:].strip()
            sep = ";" if tag == "I" else None
            parts[tag] = [p.strip() for p in rest.split(sep) if p.strip()]
    flush()
    return tuple(areas)


@lru_cache(maxsize=1)
def load_name_chars() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Read (surnames, given-name characters) as (character, pinyin) pairs."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in (DATA_DIR / "names.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        for pair in line.split():
            char, pinyin = pair.split(":")
            sections[current].append((char, pinyin))
    return tuple(sections["surnames"]), tuple(sections["given"])


# ---------------------------------------------------------------------------------------------
# Generator


_NUMBER_SLOT = re.compile(r"\{(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\}")

_PROBLEMS = (
    "一致性差",
    "成本偏高",
    "效率偏低",
    "稳定性不足",
    "使用寿命短",
    "精度不足",
    "关键部件依赖进口",
    "能耗偏高",
    "可靠性不足",
    "良品率偏低",
    "工艺窗口窄",
    "检测手段缺乏",
)
_PROJECT_SOURCES = (
    "国家自然科学基金面上项目",
    "国家自然科学基金青年科学基金项目",
    "国家重点研发计划课题",
    "湖北省重点研发计划项目",
    "湖北省自然科学基金项目",
    "武汉市科技重大专项",
    "武汉市知识创新专项",
    "企业委托横向项目",
    "湖北省技术创新专项",
)
_AWARDS = (
    "湖北省科学技术进步奖",
    "湖北省技术发明奖",
    "武汉市科学技术进步奖",
    "行业学会科学技术奖",
    "湖北省自然科学奖",
)
_SERVICE_PROBLEMS = (
    "准确率不足",
    "响应速度慢",
    "数据孤岛严重",
    "系统可扩展性差",
    "人工依赖程度高",
    "运维成本高",
    "安全合规要求难以满足",
    "算法泛化能力弱",
)
_MATERIAL_LIKE = {"新材料", "生物与新医药"}
_QUALIFICATIONS = ("为国家高新技术企业", "为湖北省专精特新中小企业", "建有市级企业技术中心")
_MODE_WEIGHTS = (30, 8, 4, 8, 12, 30, 8)
_GRADES = (("优秀", 90), ("良好", 80), ("合格", 60), ("不合格", 0))
_RETURN_REASONS = (
    "需求描述过于笼统，请补充具体的技术难题",
    "缺少可量化的预期目标指标",
    "未填写计划投入资金",
    "技术领域与关键词不一致，请核实后重新提交",
    "涉及企业商业秘密，请确认可公开发布的内容",
)
_CLOSE_REASONS = (
    "已与专家团队签订技术开发合同",
    "已与专家团队签订技术开发合同",
    "企业自行解决",
    "企业调整研发方向，需求终止",
    "对接后双方未达成合作意向",
)
_SERVICE_CODES = {"59", "63", "64", "65", "73", "74", "75", "77", "84"}


class _Builder:
    """Holds the random state and the registries that keep names and phones unique."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        # The demo lives in the current year and the last one, seen from `today`.
        self.today = today
        self.year = today.year
        self.last = today.year - 1
        self.jan1 = date(today.year, 1, 1)
        self.elapsed_days = (today - self.jan1).days  # whole days of this year before today
        # How diligent each district is this year and was last year (a believable mix).
        order = list(DISTRICTS)
        self.rng.shuffle(order)
        this_year = ["ahead"] * 4 + ["pace"] * 4 + ["behind"] * 4 + ["idle"] * 2
        last_year = ["ahead"] * 6 + ["behind"] * 5 + ["idle"] * 3
        self.profile = dict(zip(order, this_year, strict=True))
        self.rng.shuffle(order)
        self.profile_last = dict(zip(order, last_year, strict=True))
        self.sub_areas = load_sub_areas()
        self.by_name = {a.name: a for a in self.sub_areas}
        self.by_field: dict[str, list[SubArea]] = {f: [] for f in TECHNICAL_FIELDS}
        for area in self.sub_areas:
            self.by_field[area.technical_field].append(area)
        self.surnames, self.given = load_name_chars()
        self.used_names: set[str] = set(FAMOUS_NAMES)
        self.used_emails: set[str] = set()
        self.used_org_names: set[str] = set()
        self.used_credit_codes: set[str] = set()
        pool = [f"13{p}0000{n:04d}" for p in "89" for n in range(10000)]
        self.rng.shuffle(pool)
        self.phones = iter(pool)

    # -- small helpers ------------------------------------------------------------------------

    def pick(self, seq: Sequence[str], k: int) -> list[str]:
        return self.rng.sample(list(seq), min(k, len(seq)))

    def fill(self, template: str) -> str:
        def number(m: re.Match[str]) -> str:
            lo, hi = m.group(1), m.group(2)
            if "." in lo or "." in hi:
                decimals = max(len(s.split(".")[1]) if "." in s else 0 for s in (lo, hi))
                return f"{self.rng.uniform(float(lo), float(hi)):.{decimals}f}"
            return str(self.rng.randint(int(lo), int(hi)))

        return _NUMBER_SLOT.sub(number, template)

    def person(self) -> tuple[str, str]:
        """Return a unique fictional (name, pinyin)."""
        while True:
            sur, sur_py = self.rng.choice(self.surnames)
            n_given = 1 if self.rng.random() < 0.22 else 2
            chars = [self.rng.choice(self.given) for _ in range(n_given)]
            if n_given == 2 and chars[0][0] == chars[1][0] and self.rng.random() < 0.8:
                continue
            name = sur + "".join(c for c, _ in chars)
            if name in self.used_names:
                continue
            self.used_names.add(name)
            return name, sur_py + "".join(p for _, p in chars)

    def phone(self) -> str:
        return next(self.phones)

    def email(self, pinyin: str, domain: str) -> str:
        base = pinyin
        n = 0
        while True:
            address = f"{base}{'' if n == 0 else n}@{domain}"
            if address not in self.used_emails:
                self.used_emails.add(address)
                return address
            n = n + 1 if n else self.rng.randint(2, 99)

    def brand(self) -> str:
        while True:
            a, b = self.rng.sample(_BRAND_CHARS, 2)
            if a + b not in FAMOUS_BRANDS:
                return a + b

    def credit_code(self, division: str) -> str:
        while True:
            body = "MA" + "".join(self.rng.choice(CREDIT_CODE_CHARS[:-1]) for _ in range(6))
            first17 = "91" + division + body + org_code_check_char(body)
            code = first17 + credit_code_check_char(first17)
            if code not in self.used_credit_codes:
                self.used_credit_codes.add(code)
                return code

    def weighted_area(
        self, field_weights: dict[str, float], preferred: Sequence[str] = ()
    ) -> SubArea:
        weights = []
        for area in self.sub_areas:
            w = field_weights.get(area.technical_field, 0.15)
            if area.name in preferred:
                w *= 6
            weights.append(w)
        return self.rng.choices(self.sub_areas, weights=weights)[0]

    def when(self, start: datetime, end: datetime) -> datetime:
        seconds = int((end - start).total_seconds())
        moment = start + timedelta(seconds=self.rng.randint(0, seconds))
        # office hours, Beijing time 08:30-18:00 = 00:30-10:00 UTC
        return datetime.combine(
            moment.date(), time(self.rng.randint(1, 9), self.rng.randint(0, 59)), UTC
        )

    # -- sections -----------------------------------------------------------------------------

    def institutions(self) -> list[Institution]:
        return [
            Institution(key=f"I{i:02d}", name=name, short_name=short, kind=kind)
            for i, (name, short, kind, *_rest) in enumerate(_INSTITUTIONS, 1)
        ]

    def parks(self) -> list[Park]:
        themes = {
            "电子信息": ("数字经济产业园", "光电子信息产业园", "软件和信息服务产业园"),
            "生物与新医药": ("生命健康产业园", "生物医药产业园", "医疗器械产业园"),
            "航空航天": ("航空航天产业园", "通用航空产业园"),
            "新材料": ("新材料产业园", "先进材料产业园"),
            "高技术服务": ("科技服务业集聚区", "创意设计产业园", "检验检测产业园"),
            "新能源与节能": ("新能源产业园", "节能环保产业园", "智能网联汽车产业园"),
            "资源与环境": ("环保科技产业园", "绿色低碳产业园"),
            "先进制造与自动化": ("智能制造产业园", "高端装备产业园", "机器人产业园"),
        }
        parks: list[Park] = []
        used: set[str] = set()
        for district in DISTRICTS:
            _div, _n, n_parks, weights = _DISTRICT_PROFILE[district]
            ranked = sorted(TECHNICAL_FIELDS, key=lambda f: -weights.get(f, 1))
            for j in range(n_parks):
                tech = ranked[j % len(ranked)] if j < 3 else self.rng.choice(ranked[:3])
                if j < max(2, n_parks - 2):
                    name = f"{district}{self.rng.choice(themes[tech])}"
                    kind = "产业园区"
                else:
                    kind = self.rng.choice(("孵化器", "众创空间"))
                    suffix = "科技企业孵化器" if kind == "孵化器" else "众创空间"
                    name = f"{district}{self.brand()}{suffix}"
                if name in used:
                    name = f"{district}{self.brand()}科技企业孵化器"
                    kind = "孵化器"
                used.add(name)
                parks.append(
                    Park(
                        key=f"P{len(parks) + 1:03d}",
                        name=name,
                        district=district,
                        kind=kind,
                        technical_field=tech,
                    )
                )
        return parks

    def enterprises(self, parks: list[Park]) -> list[Enterprise]:
        words = {
            "电子信息": ("科技", "信息技术", "智能科技", "光电科技", "微电子", "网络科技"),
            "生物与新医药": ("生物科技", "生物医药", "医疗器械", "生物工程", "药业"),
            "航空航天": ("航空科技", "航天科技", "无人机科技", "飞行器技术"),
            "新材料": ("新材料科技", "材料科技", "新材料", "高分子材料"),
            "高技术服务": ("检测技术", "数据科技", "供应链管理", "工业设计", "信息咨询"),
            "新能源与节能": ("新能源科技", "电力科技", "能源技术", "节能科技", "动力科技"),
            "资源与环境": ("环保科技", "环境工程", "生态科技", "环境技术"),
            "先进制造与自动化": ("智能装备", "机械制造", "精密机械", "自动化设备", "机电科技"),
        }
        posts = ("总经理", "副总经理", "技术总监", "研发部经理", "技术中心主任", "总工程师")
        out: list[Enterprise] = []
        for district in DISTRICTS:
            division, n, _n_parks, weights = _DISTRICT_PROFILE[district]
            district_parks = [p for p in parks if p.district == district]
            for _ in range(n):
                area = self.weighted_area({f: weights.get(f, 1) for f in TECHNICAL_FIELDS})
                tech = area.technical_field
                while True:
                    legal = "股份有限公司" if self.rng.random() < 0.15 else "有限公司"
                    name = f"武汉{self.brand()}{self.rng.choice(words[tech])}{legal}"
                    if name not in self.used_org_names:
                        self.used_org_names.add(name)
                        break
                code = self.rng.choice(area.industry_codes)
                same_field = [p for p in district_parks if p.technical_field == tech]
                park = None
                if self.rng.random() < 0.8:
                    park = self.rng.choice(same_field or district_parks)
                contact, py = self.person()
                out.append(
                    Enterprise(
                        key=f"C{len(out) + 1:03d}",
                        name=name,
                        credit_code=self.credit_code(division),
                        district=district,
                        park_key=park.key if park else None,
                        industry_code=code,
                        industry_name=INDUSTRIES[code],
                        technical_field=tech,
                        sub_area=area.name,
                        is_key=self.rng.random() < 0.45,
                        contact_name=contact,
                        contact_post=self.rng.choice(posts),
                        contact_phone=self.phone(),
                        contact_email=self.email(py, "example.com"),
                        founded_year=self.rng.randint(2003, 2021),
                    )
                )
        return out

    def _district_employer(
        self, district: str, parks: list[Park], key_firms: list[Enterprise]
    ) -> tuple[str, str, Park | None]:
        kind = self.rng.choices(
            ("public", "agency", "park", "finance", "firm"), weights=(3, 3, 3, 1, 2)
        )[0]
        if kind == "public":
            employer = self.rng.choice(
                (
                    f"{district}生产力促进中心",
                    f"{district}科技创新服务中心",
                    f"{district}科技成果转化服务中心",
                )
            )
            return employer, self.rng.choice(("科员", "副主任", "主任科员", "项目主管")), None
        if kind == "agency":
            employer = f"武汉{self.brand()}" + self.rng.choice(
                ("技术转移有限公司", "知识产权代理有限公司", "科技咨询有限公司")
            )
            return employer, self.rng.choice(("技术经纪人", "项目经理", "高级咨询师")), None
        if kind == "park" or not key_firms:
            park = self.rng.choice(parks)
            employer = f"{park.name}管理办公室" if park.kind == "产业园区" else park.name
            post = self.rng.choice(("企业服务部部长", "招商服务专员", "孵化服务经理"))
            return employer, post, park
        if kind == "finance":
            employer = f"武汉{self.brand()}" + self.rng.choice(
                ("科技融资担保有限公司", "创业投资管理有限公司")
            )
            return employer, self.rng.choice(("客户经理", "投资经理", "风控经理")), None
        firm = self.rng.choice(key_firms)
        return firm.name, self.rng.choice(("技术总监", "研发部经理", "知识产权专员")), None

    def liaisons(
        self, parks: list[Park], enterprises: list[Enterprise], institutions: list[Institution]
    ) -> list[Liaison]:
        out: list[Liaison] = []
        replaced_districts = set(self.rng.sample(DISTRICTS[:11], 2)) | {"东湖高新区", "武汉经开区"}
        # two districts replaced a liaison this year (when the year is old enough for it)
        now_districts = set(self.rng.sample(
            [d for d in DISTRICTS[:11] if d not in replaced_districts], 2)) \
            if self.elapsed_days >= 40 else set()
        for district, existing, new, _total in DISTRICT_QUOTAS:
            district_parks = [p for p in parks if p.district == district]
            key_firms = [e for e in enterprises if e.district == district and e.is_key]
            slots = [1] * existing + [2] * new
            replace_index = self.rng.randrange(existing) \
                if district in replaced_districts | now_districts else None
            how = "now" if district in now_districts else "last"
            for i, batch in enumerate(slots):
                records = self._liaison_slot(
                    district, batch, district_parks, key_firms, len(out),
                    how if i == replace_index else None,
                )
                out.extend(records)
        for inst in institutions:
            name, py = self.person()
            office = (
                "科技处"
                if inst.kind == "institute"
                else self.rng.choice(("科学技术发展研究院", "成果转化办公室", "技术转移中心"))
            )
            post = self.rng.choice(("科长", "副主任", "项目主管", "技术经理人"))
            out.append(
                Liaison(
                    key=f"L{len(out) + 1:03d}",
                    kind="campus",
                    name=name,
                    employer=f"{inst.name}{office}",
                    post=post,
                    employer_post=f"{inst.name}{office} {post}",
                    phone=self.phone(),
                    email=self.email(py, "example.cn"),
                    district=None,
                    institution_key=inst.key,
                    park_keys=(),
                    enterprise_keys=(),
                    batch=1,
                    start_date=date(self.last - 1, 3, 1) + timedelta(days=self.rng.randint(0, 60)),
                )
            )
        return out

    def _liaison_slot(
        self,
        district: str,
        batch: int,
        parks: list[Park],
        key_firms: list[Enterprise],
        index: int,
        replaced: str | None,
    ) -> list[Liaison]:
        def make(key: str, start: date, **extra: object) -> Liaison:
            name, py = self.person()
            employer, post, own_park = self._district_employer(district, parks, key_firms)
            park_keys = [own_park.key] if own_park else []
            for park in self.pick([p.key for p in parks], self.rng.randint(1, 2)):
                if park not in park_keys:
                    park_keys.append(park)
            firms = self.pick([e.key for e in key_firms], self.rng.randint(1, 4))
            return Liaison(
                key=key,
                kind="district",
                name=name,
                employer=employer,
                post=post,
                employer_post=f"{employer} {post}",
                phone=self.phone(),
                email=self.email(py, "example.com"),
                district=district,
                institution_key=None,
                park_keys=tuple(park_keys[:2]),
                enterprise_keys=tuple(sorted(firms)),
                batch=batch,
                start_date=start,
                **extra,  # type: ignore[arg-type]
            )

        if batch == 1:
            start = date(self.last - 1, 3, 15) + timedelta(days=self.rng.randint(0, 90))
        else:
            start = date(self.last, 3, 14) + timedelta(days=self.rng.randint(0, 45))
        key = f"L{index + 1:03d}"
        if not replaced:
            return [make(key, start)]
        successor_key = f"L{index + 2:03d}"
        if replaced == "now":  # left this year: the successor serves part of the year
            lo, hi = int(self.elapsed_days * 0.3), int(self.elapsed_days * 0.6)
            end = self.jan1 + timedelta(days=self.rng.randint(lo, hi))
        else:
            end = date(self.last, 5, 1) + timedelta(days=self.rng.randint(0, 150))
        old = make(
            key,
            start,
            end_date=end,
            end_reason=self.rng.choice(
                ("单位更换，不能继续履职", "工作岗位调整", "调离原工作单位", "因个人原因申请退出")
            ),
            replaced_by_key=successor_key,
        )
        successor_start = end + timedelta(days=self.rng.randint(1, 10))
        filed = end + timedelta(days=self.rng.randint(5, 20))
        successor = make(
            successor_key,
            successor_start,
            replaces_key=key,
            # a replacement of this year may still wait for its filing with the city bureau
            filing_date=filed if filed < self.today and self.rng.random() < 0.5 else None,
        ) if replaced == "now" else make(
            successor_key, successor_start, replaces_key=key, filing_date=filed)
        return [old, successor]

    # -- experts --------------------------------------------------------------------------------

    def _item(self, area: SubArea, year: int) -> ExpertItem:
        rng = self.rng
        t1, t2, t3 = self.pick(area.terms, 3)
        app = rng.choice(area.applications)
        problem = rng.choice(_PROBLEMS)
        kind = rng.choices(ITEM_KINDS, weights=(4, 4, 3, 1))[0]
        material = area.technical_field in _MATERIAL_LIKE
        if kind == "project":
            title = rng.choice(
                (
                    f"{t1}关键技术研究",
                    f"面向{app}的{t1}关键技术研究",
                    f"基于{t1}的{t2}方法研究",
                    f"{t1}与{t2}协同优化研究",
                    f"{app}用{t1}研发及示范应用",
                    f"{t1}机理及{t2}调控研究",
                )
            )
            text = (
                f"{rng.choice(_PROJECT_SOURCES)}。针对{app}中{t1}{problem}的问题，"
                f"研究{t2}与{t3}的作用规律，建立{t1}设计与评价方法，形成可推广的技术方案。"
            )
        elif kind == "paper":
            title = rng.choice(
                (
                    f"{t1}的{t2}特性研究",
                    f"{t1}在{app}中的应用研究",
                    f"{t1}研究进展与展望",
                    f"{t2}对{t1}性能的影响",
                    f"面向{app}的{t1}优化设计",
                )
            )
            venue = rng.choice(("SCI收录期刊", "EI收录期刊", "中文核心期刊", "国际学术会议"))
            text = (
                f"发表于{area.technical_field}领域{venue}。针对{t1}{problem}的问题，"
                f"提出一种结合{t2}与{t3}的新方法，实验结果表明性能指标提升{rng.randint(8, 45)}%。"
            )
        elif kind == "patent":
            if material:
                title = rng.choice(
                    (f"一种{t1}的制备方法", f"一种{t1}及其制备方法和应用", f"一种用于{app}的{t1}")
                )
            else:
                title = rng.choice(
                    (
                        f"一种基于{t1}的{t2}方法",
                        f"一种用于{app}的{t1}装置",
                        f"{t1.removesuffix('系统')}系统及其控制方法",
                        f"一种{t1}{t2}一体化装置",
                    )
                )
            status = rng.choice(("已授权", "已授权", "实质审查中"))
            text = (
                f"发明专利，{status}。本发明涉及{t1}技术领域，通过{t2}与{t3}相结合，"
                f"解决了现有{t1}{problem}的问题，适用于{app}。"
            )
        else:
            title = rng.choice((f"{t1}关键技术及应用", f"{app}{t1}关键技术与产业化"))
            rank = rng.choice(("一", "二", "二", "三"))
            text = (
                f"获{year}年度{rng.choice(_AWARDS)}{rank}等奖（排名第{rng.randint(1, 5)}）。"
                f"成果在{app}领域实现{t2}和{t3}的工程应用。"
            )
        return ExpertItem(kind=kind, title=title, text=text, year=year)

    def experts(self, institutions: list[Institution], n: int) -> list[Expert]:
        rng = self.rng
        sizes = [spec[3] for spec in _INSTITUTIONS]
        out: list[Expert] = []
        academicians = set(rng.sample(range(n), max(1, round(n * 0.01))))
        for i in range(n):
            idx = rng.choices(range(len(_INSTITUTIONS)), weights=sizes)[0]
            inst = institutions[idx]
            _n, _s, kind, _size, field_weights, preferred = _INSTITUTIONS[idx]
            area = self.weighted_area(field_weights, preferred)
            areas = [area]
            if rng.random() < 0.3:
                others = [a for a in self.by_field[area.technical_field] if a is not area]
                areas.append(rng.choice(others))
            name, py = self.person()
            is_academician = i in academicians
            if is_academician:
                title = "教授" if kind == "university" else "研究员"
            elif kind == "university":
                title = rng.choices(
                    ("教授", "副教授", "讲师", "研究员", "副研究员", "高级工程师", "正高级工程师"),
                    weights=(30, 32, 12, 6, 6, 10, 4),
                )[0]
            else:
                title = rng.choices(
                    ("研究员", "副研究员", "助理研究员", "高级工程师", "正高级工程师"),
                    weights=(30, 35, 12, 15, 8),
                )[0]
            terms = [t for a in areas for t in a.terms]
            chosen = self.pick(terms, rng.randint(2, 4) + 1)
            fields_: list[str] = []
            j = 0
            while j < len(chosen) and len(fields_) < 4:
                if j + 1 < len(chosen) and rng.random() < 0.3:
                    fields_.append(f"{chosen[j]}与{chosen[j + 1]}")
                    j += 2
                else:
                    fields_.append(chosen[j])
                    j += 1
            years = sorted(rng.randint(2012, 2025) for _ in range(rng.randint(2, 8)))
            items = tuple(
                self._item(areas[0] if rng.random() < 0.75 else areas[-1], y) for y in years
            )
            senior = title in ("教授", "研究员")
            n_papers = (rng.randint(2, 20) if senior else rng.randint(1, 8)) * 10
            honour = (
                f"{rng.choice(('中国工程院', '中国科学院'))}院士，"
                if is_academician
                else ("博士生导师，" if title in ("教授", "研究员") else "")
            )
            summary = (
                f"{name}，{inst.name}{title}，{honour}长期从事{'、'.join(fields_[:3])}等方向研究。"
                f"主持{rng.choice(_PROJECT_SOURCES)}等科研项目{rng.randint(3, 25)}项，"
                f"发表学术论文{n_papers}余篇，授权发明专利{rng.randint(1, 30)}项。"
            )
            if rng.random() < 0.6:
                apps = "、".join(self.pick(areas[0].applications, 2))
                summary += f"与{apps}等领域企业开展了产学研合作。"
            team = None
            if is_academician:
                team = f"{name}院士团队"
            elif rng.random() < 0.35:
                team = f"{inst.short_name}{rng.choice(areas[0].terms)}创新团队"
            out.append(
                Expert(
                    key=f"E{i + 1:04d}",
                    name=name,
                    institution_key=inst.key,
                    institution=inst.name,
                    title=title,
                    research_fields=tuple(fields_),
                    summary=summary,
                    is_academician=is_academician,
                    team_name=team,
                    phone=self.phone(),
                    email=self.email(py, "example.cn"),
                    technical_field=area.technical_field,
                    sub_areas=tuple(a.name for a in areas),
                    items=items,
                )
            )
        return out

    # -- demands --------------------------------------------------------------------------------

    def _demand_text(
        self, area: SubArea, enterprise: Enterprise, vague: bool
    ) -> tuple[str, str, str, str | None, list[str]]:
        """Return (title, problem, goals, basis, keywords) of a demand on ``area``."""
        rng = self.rng
        t1, t2, t3 = self.pick(area.terms, 3)
        app = rng.choice(area.applications)
        if vague:
            title = rng.choice(
                (f"{t1}技术改进", f"寻求{t1}方面的合作", f"{app}产品升级", f"{t1}相关技术需求")
            )
            problem = rng.choice(
                (
                    f"希望提升公司{t1}方面的技术水平，寻求高校专家合作。",
                    f"公司产品在{app}领域竞争激烈，需要技术升级。",
                    f"目前{t1}存在一些问题，希望得到专家指导。",
                )
            )
            goals = rng.choice(("提高产品质量，降低成本。", "提升技术水平。", "解决技术难题。"))
            return title, problem, goals, None, [t1]
        title = rng.choice(
            (
                f"{t1}关键技术攻关",
                f"{app}用{t1}研发",
                f"{t1}性能提升技术研究",
                f"{t1}国产化替代研究",
                f"基于{t2}的{t1}优化",
                f"{t1}工艺优化与产业化",
                f"{app}{t1}系统开发",
            )
        )
        service = set(area.industry_codes) <= _SERVICE_CODES
        p1, p2 = self.pick(_SERVICE_PROBLEMS if service else _PROBLEMS, 2)
        if service:
            business = f"面向{app}提供软件产品和技术服务"
            outcome = f"形成可推广应用的{t1}解决方案"
            facilities = f"已积累{t1}相关的数据资源和应用场景。"
        else:
            business = f"主要从事{app}相关产品的研发、生产和销售"
            outcome = f"形成可批量应用的{t1}解决方案"
            facilities = f"已具备{t1}相关的中试条件和检测设备。"
        problem = (
            f"公司{business}。目前在{t1}方面存在{p1}、{p2}等问题，"
            f"制约了产品性能提升和市场拓展。现需开展{t2}、{t3}方面的技术研究，"
            f"希望与高校院所合作，{outcome}。"
        )
        indicators = [self.fill(x) for x in self.pick(area.indicators, rng.randint(2, 4))]
        extra = rng.choice(
            (
                f"申请发明专利{rng.randint(1, 5)}项",
                f"形成企业标准{rng.randint(1, 2)}项",
                f"完成{rng.randint(1, 5)}家用户的示范应用"
                if service
                else f"完成中试验证并实现小批量生产{rng.randint(1, 10)}批次",
            )
        )
        goals = "".join(f"{k}. {x}；" for k, x in enumerate([*indicators, extra], 1))[:-1] + "。"
        founded = enterprise.founded_year
        basis = (
            f"公司成立于{founded}年，现有研发人员{rng.randint(8, 150)}人，"
            f"{rng.choice(_QUALIFICATIONS)}。上一年度销售收入{rng.randint(8, 500) * 100}万元，"
            f"研发投入{rng.randint(2, 80) * 10}万元，{facilities}"
        )
        keywords = [t1, t2, t3][: rng.randint(1, 3)]
        if rng.random() < 0.4:
            keywords.append(app)
        return title, problem, goals, basis, keywords

    def demands(
        self, enterprises: list[Enterprise], liaisons: list[Liaison], n: int
    ) -> list[Demand]:
        """Publish per liaison by the district's diligence this year and last; fill up with
        drafts, submitted and returned demands to `n` in all."""
        rng = self.rng
        firms_of: dict[str, list[Enterprise]] = {d: [] for d in DISTRICTS}
        for e in enterprises:
            firms_of[e.district].append(e)
        district_liaisons = [x for x in liaisons if x.kind == "district" and x.district]
        plan: list[tuple[Liaison, datetime]] = []  # (liaison, published at)
        for year, profiles in ((self.last, self.profile_last), (self.year, self.profile)):
            for district in DISTRICTS:
                people = [x for x in district_liaisons if x.district == district]
                counts = self._publication_counts(people, year, profiles[district])
                for liaison, k in zip(people, counts, strict=True):
                    plan += [(liaison, m) for m in self._moments(liaison, year, k)]
        rng.shuffle(plan)
        plan = plan[:n]
        out: list[Demand] = []
        for liaison, published in plan:
            firm = self._firm_for(liaison, firms_of[liaison.district])
            created = published - timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 6))
            out.append(self._demand(firm, liaison, created, published=published,
                                    vague=rng.random() < 0.15))
        start = datetime.combine(date(self.last, 1, 1), time(1), UTC)
        end = datetime.combine(self.today - timedelta(days=1), time(9), UTC)
        while len(out) < n:
            created = self.when(start, end)
            firm = rng.choice(enterprises)
            serving = [x for x in district_liaisons if x.district == firm.district
                       and x.start_date <= created.date() <= (x.end_date or created.date())]
            liaison = rng.choice(serving or [x for x in district_liaisons
                                             if x.district == firm.district])
            out.append(self._demand(firm, liaison, created, published=None,
                                    vague=rng.random() < 0.45))
        out.sort(key=lambda d: (d.created_at, d.enterprise_key))
        return [replace(d, key=f"R{i:04d}") for i, d in enumerate(out, 1)]

    def _served_so_far(self, liaison: Liaison, year: int) -> tuple[date, date, float] | None:
        """Return the liaison's first and last day to date in `year` and the share served."""
        window = service_window(liaison, year)
        if window is None:
            return None
        first, last = window
        if year == self.year:
            last = min(last, self.today - timedelta(days=1))
        if last < first:
            return None
        return first, last, ((last - first).days + 1) / ((window[1] - window[0]).days + 1)

    def _publication_counts(self, people: list[Liaison], year: int, profile: str) -> list[int]:
        """Return how many demands each liaison of a district published in `year` by now.

        ahead: every target met; pace: the district exactly on the pro-rata pace (some of its
        liaisons one short); behind: about half the pace; idle: next to nothing.
        """
        rng = self.rng
        counts, expected = [], 0.0
        for liaison in people:
            served = self._served_so_far(liaison, year)
            target = demand_target(liaison, year) if served else 0
            so_far = target * served[2] if served else 0.0
            expected += so_far
            if not served:
                k = 0
            elif liaison.end_date is not None and liaison.end_date.year == year == self.year:
                k = max(0, target - 1)  # left this year short of the target: 未达标
            elif profile == "ahead":
                k = target + (rng.random() < 0.3)
            elif profile == "pace":
                k = target
            elif profile == "behind":
                k = round_half_up(so_far * 0.5) if year == self.year else max(0, target - 1)
            else:
                k = min(int(rng.random() < 0.3), max(target - 1, 0))
            counts.append(k)
        if profile == "pace":
            short = sum(counts) - round_half_up(expected)
            for i in rng.sample(range(len(people)), len(people)):
                if short <= 0:
                    break
                if counts[i] > 0:
                    counts[i] -= 1
                    short -= 1
        return counts

    def _moments(self, liaison: Liaison, year: int, k: int) -> list[datetime]:
        """Return `k` office-hour moments within the liaison's service of `year` to date."""
        served = self._served_so_far(liaison, year)
        if served is None:
            return []
        first, last, _share = served
        span = (last - first).days
        return [
            datetime.combine(first + timedelta(days=self.rng.randint(0, span)),
                             time(self.rng.randint(1, 9), self.rng.randint(0, 59)), UTC)
            for _ in range(k)
        ]

    def _firm_for(self, liaison: Liaison, firms: list[Enterprise]) -> Enterprise:
        own = [f for f in firms if f.key in liaison.enterprise_keys]
        if own and self.rng.random() < 0.7:
            return self.rng.choice(own)
        return self.rng.choices(firms, weights=[3 if f.is_key else 1 for f in firms])[0]

    def _demand(self, enterprise: Enterprise, liaison: Liaison, created: datetime, *,
                published: datetime | None, vague: bool) -> Demand:
        rng = self.rng
        area = self.by_name[enterprise.sub_area]
        if rng.random() < 0.2:
            area = rng.choice(self.by_field[area.technical_field])
        title, problem, goals, basis, keywords = self._demand_text(area, enterprise, vague)
        investment: float | None = None
        if vague:
            text = f"{problem}{goals}"
        else:
            investment = float(rng.choice((rng.randint(2, 30) * 10, rng.randint(3, 50) * 50)))
            if rng.random() < 0.08:
                investment = None
            text = f"需求内容：\n{problem}\n预期目标：\n{goals}\n现有工作基础：\n{basis}"
        submitted = reviewed = closed = None
        return_reason = close_reason = None
        yesterday = datetime.combine(self.today - timedelta(days=1), time(10), UTC)
        if published is not None:
            publishable = True
            reviewed = published
            submitted = published - timedelta(days=rng.randint(1, 7), hours=rng.randint(0, 5))
            submitted = max(submitted, created)
            age = (yesterday - published).days
            status = rng.choices(("published", "matched", "closed"),
                                 weights=(25, 45, 30) if age > 90 else (55, 45, 0))[0]
            if status == "closed":
                closed = published + timedelta(days=rng.randint(30, max(31, min(240, age))))
                if closed > yesterday:
                    status, closed = "matched", None
                else:
                    close_reason = rng.choice(_CLOSE_REASONS)
        else:
            publishable = rng.random() < (0.6 if vague else 0.9)
            status = rng.choices(("draft", "submitted", "returned"),
                                 weights=(35, 35, 30))[0]
            if status != "draft":
                submitted = min(created + timedelta(days=rng.randint(0, 10),
                                                    hours=rng.randint(0, 5)), yesterday)
                submitted = max(submitted, created)
            if status == "returned":
                assert submitted is not None
                reviewed = min(submitted + timedelta(days=rng.randint(1, 7)), yesterday)
                reviewed = max(reviewed, submitted)
                return_reason = rng.choice(_RETURN_REASONS[:3] if vague else _RETURN_REASONS[3:])
        code = enterprise.industry_code
        if area.name != enterprise.sub_area or rng.random() < 0.15:
            code = rng.choice(area.industry_codes)
        return Demand(
            key="",
            enterprise_key=enterprise.key,
            liaison_key=liaison.key,
            district=enterprise.district,
            title=title, problem=problem, goals=goals, basis=basis, text=text,
            investment=investment,
            industry_code=code,
            technical_field=area.technical_field,
            keywords=tuple(keywords),
            cooperation_mode=rng.choices(COOPERATION_MODES, weights=_MODE_WEIGHTS)[0],
            deadline=created.date() + timedelta(days=rng.randint(180, 720)),
            publishable=publishable,
            status=status, return_reason=return_reason, close_reason=close_reason,
            created_at=created, submitted_at=submitted, reviewed_at=reviewed,
            published_at=published, closed_at=closed,
            is_vague=vague,
            sub_area=area.name,
        )

    # -- programme records ---------------------------------------------------------------------

    def investors(self, n: int) -> list[Investor]:
        rng = self.rng
        kinds = (
            "创业投资管理有限公司",
            "股权投资基金管理有限公司",
            "资本管理有限公司",
            "天使投资管理有限公司",
        )
        out: list[Investor] = []
        for i in range(n):
            name = f"{rng.choice(('武汉', '湖北'))}{self.brand()}{kinds[i % len(kinds)]}"
            fields_ = sorted(
                self.pick(TECHNICAL_FIELDS, rng.randint(1, 3)), key=TECHNICAL_FIELDS.index
            )
            codes = sorted({c for f in fields_ for a in self.by_field[f] for c in a.industry_codes})
            codes = sorted(self.pick(codes, min(len(codes), rng.randint(2, 5))))
            early = i % len(kinds) == 3 or rng.random() < 0.3
            stages = INVESTMENT_STAGES[:3] if early else INVESTMENT_STAGES[2:6]
            ticket_min = float(rng.choice((50, 100, 200) if early else (500, 1000, 2000)))
            ticket_max = ticket_min * rng.choice((5, 10, 20))
            contact, py = self.person()
            out.append(
                Investor(
                    key=f"V{i + 1:02d}",
                    name=name,
                    industry_codes=tuple(codes),
                    technical_fields=tuple(fields_),
                    stages=tuple(stages),
                    ticket_min=ticket_min,
                    ticket_max=ticket_max,
                    contact_name=contact,
                    contact_phone=self.phone(),
                    contact_email=self.email(py, "example.com"),
                    intro=(
                        f"重点关注{'、'.join(fields_)}领域的科技型企业，"
                        f"偏好{'、'.join(stages)}项目，单笔投资{ticket_min:g}-{ticket_max:g}万元。"
                    ),
                )
            )
        return out

    def trainings(self, liaisons: list[Liaison], parks: list[Park]) -> list[Training]:
        rng = self.rng
        per_district_last = (1, 2, 1, 0, 2, 1, 2, 0, 1, 1, 0, 3, 2, 1)
        topics = (
            ("企业有效技术需求挖掘与凝练专题培训", "讲解有效技术需求的要素、撰写规范和典型案例。"),
            ("技术经纪人业务能力提升培训", "围绕技术合同登记、成果评价和技术交易流程开展培训。"),
            ("知识产权运营与成果转化实务培训", "介绍专利分析、许可转让和作价入股等转化方式。"),
            ("武汉科技成果转化平台操作培训", "演示需求录入、发布和对接进度跟踪等平台功能。"),
        )
        this_year = {"ahead": (1, 2), "pace": (1, 1), "behind": (0, 1), "idle": (0, 0)}
        out: list[Training] = []
        for district, last_count in zip(DISTRICTS, per_district_last, strict=True):
            district_parks = [p for p in parks if p.district == district]
            lo, hi = this_year[self.profile[district]]
            now_count = rng.randint(lo, hi) if self.elapsed_days >= 20 else 0
            for year, count in ((self.last, last_count), (self.year, now_count)):
                for title, content in self.pick_pairs(topics, count):
                    if year == self.last:
                        held = date(year, 3, 15) + timedelta(days=rng.randint(0, 250))
                    else:
                        held = self.jan1 + timedelta(days=rng.randint(7, self.elapsed_days - 1))
                    active = [
                        x.key
                        for x in liaisons
                        if x.district == district
                        and x.start_date <= held
                        and (x.end_date is None or x.end_date >= held)
                    ]
                    share = max(1, round(len(active) * rng.uniform(0.6, 1)))
                    attended = sorted(self.pick(active, share))
                    out.append(
                        Training(
                            key=f"T{len(out) + 1:02d}",
                            district=district,
                            title=f"{district}{year}年区派联络员{title}",
                            held_on=held,
                            location=f"{rng.choice(district_parks).name}会议室",
                            content=content,
                            liaison_keys=tuple(attended),
                            attendee_count=len(attended) + rng.randint(0, 20),
                        )
                    )
        return out

    def pick_pairs(self, pairs: Sequence[tuple[str, str]], k: int) -> list[tuple[str, str]]:
        return [pairs[i] for i in sorted(self.rng.sample(range(len(pairs)), k))]

    def _case_count(self, district: str, year: int) -> int:
        """Return how many cases the district reports for `year`, by its diligence."""
        headcount = next(total for name, _e, _n, total in DISTRICT_QUOTAS if name == district)
        target = math.ceil(round(0.3 * headcount, 6))
        profile = (self.profile_last if year == self.last else self.profile)[district]
        if year == self.year:
            so_far = target * self.elapsed_days / (366 if calendar.isleap(year) else 365)
            return {"ahead": target, "pace": round_half_up(so_far),
                    "behind": round_half_up(so_far * 0.5), "idle": 0}[profile]
        return {"ahead": target, "behind": max(1, target - 2), "idle": 0}[profile]

    def cases(
        self,
        demands: list[Demand],
        experts: list[Expert],
        enterprises: list[Enterprise],
        liaisons: list[Liaison],
    ) -> list[Case]:
        firm = {e.key: e for e in enterprises}
        person = {x.key: x for x in liaisons}
        by_area: dict[str, list[Expert]] = {}
        for expert in experts:
            for name in expert.sub_areas:
                by_area.setdefault(name, []).append(expert)
        out: list[Case] = []
        for year in (self.last, self.year):
            done = [
                d
                for d in demands
                if d.published_at is not None and d.published_at.year == year
                and d.status in ("matched", "closed")
            ]
            for district in DISTRICTS:
                pool = [d for d in done if d.district == district and not d.is_vague]
                pool += [d for d in done if d.district == district and d.is_vague]
                for demand in pool[: self._case_count(district, year)]:
                    out.append(self._case(demand, year, by_area, experts, firm, person, len(out)))
        return out

    def _case(self, demand: Demand, year: int, by_area: dict[str, list[Expert]],
              experts: list[Expert], firm: dict[str, Enterprise], person: dict[str, Liaison],
              index: int) -> Case:
        rng = self.rng
        expert = rng.choice(by_area.get(demand.sub_area) or experts)
        enterprise = firm[demand.enterprise_key]
        liaison = person[demand.liaison_key]
        amount = float(rng.randint(5, 60) * 10) if demand.status == "closed" else None
        outcome = f"，签订技术合同{amount:g}万元。" if amount else "，目前正在推进中。"
        published = demand.published_at.date() if demand.published_at else self.today
        latest = date(year, 12, 31) if year == self.last else self.today - timedelta(days=1)
        reported = min(published + timedelta(days=rng.randint(20, 120)), latest)
        return Case(
            key=f"K{index + 1:02d}",
            district=demand.district,
            year=year,
            title=f"联络员{liaison.name}助力{enterprise.name}攻克{demand.keywords[0]}难题",
            text=(
                f"联络员{liaison.name}走访{enterprise.name}时了解到企业在"
                f"{demand.keywords[0]}方面的技术需求，协助企业凝练需求并在平台发布。"
                f"经需求对接会推荐，企业与{expert.institution}{expert.name}{expert.title}"
                f"团队建立联系，双方围绕“{demand.title}”开展合作" + outcome
            ),
            liaison_key=liaison.key,
            demand_key=demand.key,
            enterprise_key=enterprise.key,
            expert_key=expert.key,
            contract_amount=amount,
            reported_on=max(reported, published),
        )

    def assessments(self, liaisons: list[Liaison]) -> list[Assessment]:
        rng = self.rng
        comments = {
            "优秀": "深入园区和企业走访，征集并发布有效需求数量多、质量高，促成多项对接合作。",
            "良好": "能够按要求走访对接企业，需求征集任务完成较好。",
            "合格": "基本完成年度需求征集任务，需加强需求凝练能力。",
            "不合格": "走访企业次数少，未完成年度需求征集任务。",
        }
        share_last = {"ahead": 1.0, "behind": 0.6, "idle": 0.0}
        elapsed = self.elapsed_days / (366 if calendar.isleap(self.year) else 365)
        share_now = {"ahead": 1.0, "pace": elapsed, "behind": elapsed * 0.5, "idle": 0.0}
        out: list[Assessment] = []
        for year, shares, profiles in ((self.last, share_last, self.profile_last),
                                       (self.year, share_now, self.profile)):
            for district in DISTRICTS:
                due = [x for x in liaisons if x.kind == "district" and x.district == district
                       and x.end_date is None and assessment_due(x, year)]
                if year == self.year and self.elapsed_days < 30:
                    due = []
                k = round_half_up(len(due) * shares[profiles[district]])
                for liaison in due[:k]:
                    score = min(100, max(50, round(rng.gauss(84, 8))))
                    grade = next(g for g, low in _GRADES if score >= low)
                    if year == self.last:
                        on = date(year, 12, 15) + timedelta(days=rng.randint(0, 14))
                    else:
                        first = max(7, self.elapsed_days - 45)
                        on = self.jan1 + timedelta(
                            days=rng.randint(first, max(first, self.elapsed_days - 1)))
                    out.append(
                        Assessment(
                            key=f"A{len(out) + 1:03d}",
                            liaison_key=liaison.key,
                            district=district,
                            year=year,
                            score=score,
                            grade=grade,
                            comment=comments[grade],
                            assessed_on=on,
                        )
                    )
        return out


    def visits(self, liaisons: list[Liaison], enterprises: list[Enterprise],
               demands: list[Demand]) -> list[Visit]:
        """Visits this year and last: diligent districts cover their assigned places."""
        rng = self.rng
        firm = {e.key: e for e in enterprises}
        reach = {"ahead": 1.0, "pace": 0.8, "behind": 0.45, "idle": 0.15}
        posts = {"firm": ("总经理", "技术总监", "研发部经理", "副总经理"),
                 "park": ("园区运营主管", "企业服务部部长", "孵化服务经理")}
        findings = {"firm": (
            "企业新产品研发遇到{t}方面的技术瓶颈，希望对接高校团队联合攻关。",
            "企业计划扩大产能，{t}工艺稳定性不足，需要专家现场指导。",
            "企业已有初步合作意向，关注{t}方向的成果转化和人才引进。",
        ), "park": (
            "园区内多家企业反映{t}相关检测和中试条件不足。",
            "园区新入驻一批科技型企业，{t}方向的技术需求较集中，约定分批走访。",
        )}
        follow = ("协助企业凝练技术需求并登记发布", "向驻校联络员推荐相关专家团队",
                  "邀请企业参加下一场需求对接会", "两周后电话回访进展")
        by_liaison: dict[str, list[Demand]] = {}
        for d in demands:
            by_liaison.setdefault(d.liaison_key, []).append(d)
        out: list[Visit] = []
        for liaison in liaisons:
            if liaison.kind != "district" or liaison.district is None:
                continue
            for year, profiles in ((self.last, self.profile_last), (self.year, self.profile)):
                served = self._served_so_far(liaison, year)
                if served is None:
                    continue
                first, last, _share = served
                places = [("park", k) for k in liaison.park_keys] + \
                    [("firm", k) for k in liaison.enterprise_keys]
                share = reach[profiles[liaison.district]]
                chosen = [p for p in places if rng.random() < share]
                mine = [d for d in by_liaison.get(liaison.key, [])
                        if d.created_at.year == year and d.created_at.date() <= last]
                for kind, key in chosen:
                    day = first + timedelta(days=rng.randint(0, (last - first).days))
                    theirs = [d for d in mine if d.enterprise_key == key]
                    if kind == "firm" and theirs and rng.random() < 0.7:  # the visit raised it
                        day = max(first, theirs[0].created_at.date() - timedelta(
                            days=rng.randint(0, 10)))
                    target = firm.get(key) if kind == "firm" else None
                    topic = self.by_name[target.sub_area].terms[0] if target else "共性技术"
                    raised = tuple(d.key for d in mine if target and d.enterprise_key == key
                                   and -10 <= (d.created_at.date() - day).days <= 60)[:2]
                    contact, _py = self.person()
                    out.append(Visit(
                        key=f"W{len(out) + 1:04d}", liaison_key=liaison.key,
                        district=liaison.district, visited_on=day,
                        park_key=key if kind == "park" else None,
                        enterprise_key=key if kind == "firm" else None,
                        people_met=f"{rng.choice(posts[kind])} {contact}",
                        findings=rng.choice(findings[kind]).format(t=topic),
                        follow_up=rng.choice(follow), demand_keys=raised))
        return out

def build_demo(
    seed: int = 2022, n_experts: int = 2000, n_demands: int = 600, n_investors: int = 8,
    *, today: date | None = None,
) -> DemoData:
    """Build the whole fictional demo data set around `today` (this year and the last one);
    the same seed and day give the same records."""
    b = _Builder(seed, today or clock.today())
    institutions = b.institutions()
    parks = b.parks()
    enterprises = b.enterprises(parks)
    liaisons = b.liaisons(parks, enterprises, institutions)
    experts = b.experts(institutions, n_experts)
    demands = b.demands(enterprises, liaisons, n_demands)
    investors = b.investors(n_investors)
    trainings = b.trainings(liaisons, parks)
    cases = b.cases(demands, experts, enterprises, liaisons)
    assessments = b.assessments(liaisons)
    visits = b.visits(liaisons, enterprises, demands)
    return DemoData(
        seed=seed,
        districts=DISTRICTS,
        institutions=tuple(institutions),
        parks=tuple(parks),
        liaisons=tuple(liaisons),
        experts=tuple(experts),
        enterprises=tuple(enterprises),
        demands=tuple(demands),
        investors=tuple(investors),
        trainings=tuple(trainings),
        cases=tuple(cases),
        assessments=tuple(assessments),
        visits=tuple(visits),
        sub_areas=b.sub_areas,
    )


def summary(data: DemoData | None = None) -> dict[str, int]:
    """Return the record counts of ``data`` (of ``build_demo()`` when omitted)."""
    return (data or build_demo()).summary()


def main() -> None:
    """Print the counts and one demand of the default demo data."""
    data = build_demo()
    for name, count in data.summary().items():
        print(f"{name:28s} {count}")
    demand = next(d for d in data.demands if not d.is_vague)
    print(demand.title)
    print(demand.text)


if __name__ == "__main__":
    main()
