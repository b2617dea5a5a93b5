"""Effectiveness check of an enterprise technology demand (企业有效技术需求).

The bureau's notice calls a demand effective when it states a real technical problem and its
content, expected goals and planned investment are reasonably clear, and it may be published.
:func:`check_demand` applies general, explainable rules (quantities with units, comparators,
section markers, a generic-phrase ratio) and returns a verdict plus hints in Chinese telling the
liaison what is missing or vague. It never imports anything of the web or the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Hint", "QualityReport", "check_demand", "find_targets", "find_investment"]

Verdict = Literal["specific", "vague"]

#: Texts shorter than this (non-blank characters) cannot describe problem and goal together.
MIN_LENGTH = 50

# Units after a number that make it a technical indicator. Money and calendar units are absent
# on purpose: "100万元" is an investment, "2019年" a date.
_UNITS = (
    r"%|％|‰|℃|°C|°c|度|mAh/g|mAh|Wh/kg|wh/kg|Wh|kWh|MPa|Mpa|GPa|kPa|KPa|Pa|PA|kV|KV|kv|mV|V|"
    r"kA|mA|A|Ω|MΩ|kW|KW|MW|W|GHz|MHz|kHz|Hz|MeV|keV|eV|dB\(A\)|dB|分贝|ppm|ppb|"
    r"nm|μm|um|微米|mm|毫米|cm|厘米|km|公里|m2|m3|m/s|m|米|平方米|立方米|"
    r"mg|kg|g/cm3|g/cm³|g|克/立方厘米|克|千克|公斤|t/h|t|吨|L|升|"
    r"ms|min|h|s|秒|分钟|小时|天|周|次/分|次|只|件|台|套|项|篇|个|倍|目|级|"
    r"ions/cm2|cm-2|rpm|转/分"
)
_NUM = r"\d+(?:\.\d+)?(?:\s*[-~～至到]\s*\d+(?:\.\d+)?)?"
# "（2.4～2.9）Ω": a bracketed range followed by its unit.
_QUANTITY = re.compile(
    rf"(?<![A-Za-z\d.])[（(]?({_NUM})[）)]?\s*(?:多|余)?\s*({_UNITS})(?![A-Za-z])"
)
_RATE_BEFORE = re.compile(r"每(?:分钟|分|小时|秒|天|班|台|人)?\s*$")
# Hardness and roughness put the unit before the number.
_PREFIX_QUANTITY = re.compile(r"(?:HRC|HB|HV|Ra|IP)\s*[≥≤<>＜＞]?\s*\d+(?:\.\d+)?")
_COUNT_UNITS = ("项", "篇", "个", "台", "套", "只", "件", "级", "目", "次")
_CN_MULTIPLE = re.compile(r"[一二两三四五六七八九十]+倍")
_COMPARATOR_BEFORE = re.compile(
    r"(?:[≥≤＞＜><≯≮]|不低于|不高于|不少于|不多于|不大于|不小于|不超过|至少|小于|大于|低于|高于|"
    r"超过|优于)\s*$"
)
_BOUND_AFTER = re.compile(r"^\s*(?:以上|以下|以内|之内|及以上|及以下|左右)")
_TARGET_CUE = re.compile(
    r"达到|降低|降至|降到|减少|减小|提高|提升|增加|缩短|延长|控制在|满足|实现|要求|目标|指标|"
    r"保持|维持|开发|研制|拟|希望|需|确保|保证"
)
_CONTEXT_CUE = re.compile(
    r"目前|现有|现在|原来|原有|通常|常用|现阶段|已|曾|我国|国内|国外|全球|世界|统计|行业|市场|"
    r"过去|相比|相对于|年产|占地|注册|成立"
)
_BUSINESS = re.compile(r"销售|收入|营业|利润|产值|市场值|市场规模|注册资金|占地|人民币|员工|人员")
_STANDARD = re.compile(
    r"(?:GB/T|GB|GJB|JB/T|JB|HG/T|YY/T|YY|ISO|IEC|ASTM|SAE|QC/T)\s*\d+|一级A|"
    r"(?:符合|满足|达到|通过)[^，。；\n]{0,12}(?:FDA|RoHS|REACH|UL\d*|CE认证|AEC-Q\d+)"
)
_CLAUSE_SPLIT = re.compile(r"[。；;！？!?\n]")

_GOAL_HEADING = re.compile(
    r"(目标\s*[：:]|预期目标|研究目标|主要目标|合作目标|期望目标|项目目标|目标内容|达到目标|预期效果|预期结果|"
    r"技术指标|经济指标|指标要求|性能要求|质量要求|希望达到的目标|预期要达到)"
)
_BASE_HEADING = re.compile(
    r"(现有工作基础|工作基础|现有基础|研究基础|实验基础|科研基础|现在基础|项目预算|资金预算|"
    r"企业技术背景|需求内容|技术需求情况|研究内容|拟解决)"
)
_PROBLEM_CUE = re.compile(
    r"难题|难点|问题|瓶颈|缺陷|不足|缺乏|缺少|无法|难以|不能|不够|不佳|不理想|不稳定|不达标|"
    r"偏低|偏高|过高|过低|较低|较差|太低|太高|开裂|裂纹|变形|腐蚀|磨损|失效|故障|堵塞|污染|"
    r"如何|亟需|亟待|急需|迫切|需解决|需要解决|拟解决|技术需求|需求内容|研究内容|替代|攻关|"
    r"降低|提高|改进|优化"
)
_INVESTMENT = re.compile(
    r"(?:投入|投资|预算|经费|出资|资金|费用)[^。；\n]{0,25}?(\d+(?:\.\d+)?)\s*(?:多|余)?\s*"
    r"(万|亿)"
)
_INVESTMENT_AFTER = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:多|余)?\s*(万|亿)\s*元?[^。；\n]{0,8}?(?:投入|投资|预算|经费|研发费用)"
)

# Boilerplate that says nothing about the technical problem by itself.
_GENERIC_PHRASES = (
    "提高产品质量", "提升产品质量", "产品质量", "提高生产效率", "提升生产效率", "生产效率",
    "降低生产成本", "降低成本", "生产成本", "节能环保", "节能降耗", "节能减排", "绿色环保",
    "解决技术难题", "技术难题", "关键技术", "核心技术", "技术支持", "技术合作", "技术指导",
    "技术升级", "转型升级", "产业升级", "产业化", "提高竞争力", "市场竞争力", "竞争力",
    "经济效益", "社会效益", "环境效益", "具有重要意义", "意义重大", "市场前景", "应用前景",
    "发展前景", "迫在眉睫", "势在必行", "自主知识产权", "高新技术企业", "科技创新", "创新能力",
    "智能化", "信息化", "自动化", "数字化", "高质量发展", "新产品", "新工艺", "新技术",
    "专家", "人才", "合作", "研发", "开发", "研究", "需要", "希望", "寻求", "我公司", "公司",
    "企业", "项目", "提高", "提升", "解决", "实现", "进一步", "加快", "促进", "推动",
)
_GENERIC_RE = re.compile("|".join(sorted(map(re.escape, _GENERIC_PHRASES), key=len, reverse=True)))
_NOISE = re.compile(r"[\s\W_\d]+")

_WEIGHTS = {
    "target": 35,
    "problem": 20,
    "goals": 10,
    "investment": 10,
    "length": 10,
    "specific_words": 10,
    "title": 5,
}


@dataclass(frozen=True)
class Hint:
    """One thing that is missing or vague in a demand.

    Parameters
    ----------
    code : str
        Stable machine code, e.g. ``"no_measurable_target"``.
    field : str
        The demand field concerned: ``title``, ``problem``, ``goals``, ``investment``,
        ``keywords`` or ``publishable``.
    message : str
        What to fix, in Simplified Chinese, for the liaison.
    """

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class QualityReport:
    """Outcome of :func:`check_demand`.

    Parameters
    ----------
    verdict : {"specific", "vague"}
        ``"specific"`` when the demand states a technical problem and a measurable target.
    score : int
        0 to 100, the weighted share of satisfied criteria (for sorting and display).
    hints : tuple of Hint
        Everything missing or vague, most important first; may be non-empty for a
        ``"specific"`` demand (e.g. no planned investment).
    targets : tuple of str
        The measurable targets found (quantities, standards), for display.
    """

    verdict: Verdict
    score: int
    hints: tuple[Hint, ...]
    targets: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the hint codes in order."""
        return tuple(h.code for h in self.hints)


def _goal_spans(text: str) -> list[tuple[int, int]]:
    """Return the character spans of goal sections (预期目标 … up to the next base heading)."""
    spans = []
    for m in _GOAL_HEADING.finditer(text):
        nxt = _BASE_HEADING.search(text, m.end())
        spans.append((m.start(), nxt.start() if nxt else len(text)))
    return spans


def _clause_before(text: str, pos: int) -> str:
    """Return the part of the clause that precedes ``pos``."""
    start = max((m.end() for m in _CLAUSE_SPLIT.finditer(text, 0, pos)), default=0)
    return text[start:pos]


def _last(pattern: re.Pattern[str], text: str) -> int:
    """Return the end of the last match of ``pattern`` in ``text``, or -1."""
    return max((m.end() for m in pattern.finditer(text)), default=-1)


def _clause_of(text: str, pos: int) -> str:
    """Return the whole clause around ``pos``."""
    end_m = _CLAUSE_SPLIT.search(text, pos)
    return _clause_before(text, pos) + text[pos : end_m.start() if end_m else len(text)]


def find_targets(text: str, *, all_goals: bool = False) -> list[str]:
    """Return the measurable targets stated in ``text``.

    A quantity (number with a unit, a hardness/roughness value, "两倍") is a target when it is
    bounded by a comparator (≥, 不低于, 以上 …), introduced by a target verb in its clause
    (达到, 降至, 提高 …) without a context cue (目前, 现有, 我国 …), or stands in a goal section.
    Business figures (销售收入, 产值) are ignored. Named standards (GB/T 31485, GJB2837, 一级A)
    count as targets.

    Parameters
    ----------
    text : str
        Free text of a demand, or of its goals field.
    all_goals : bool, default=False
        Treat the whole text as a goal section (used for an explicit goals field).

    Returns
    -------
    list of str
        The matched target snippets, in order of appearance.
    """
    spans = [(0, len(text))] if all_goals else _goal_spans(text)
    found: list[str] = []
    matches = [
        (m.start(), m.end())
        for pattern in (_QUANTITY, _PREFIX_QUANTITY, _CN_MULTIPLE)
        for m in pattern.finditer(text)
    ]
    for start, end in sorted(matches):
        clause = _clause_of(text, start)
        if _BUSINESS.search(clause):
            continue
        before = _clause_before(text, start)
        after = text[end : end + 6]
        bounded = bool(_COMPARATOR_BEFORE.search(before[-8:]) or _BOUND_AFTER.search(after))
        cued = bool(_TARGET_CUE.search(before))
        # A context cue (目前, 我国 …) only disqualifies the number when no target verb follows
        # it in the sentence: "由目前的290t/h提升至330t/h" states a target.
        context = _last(_CONTEXT_CUE, before) > _last(_TARGET_CUE, before)
        in_goals = any(a <= start < b for a, b in spans)
        is_count = text[start:end].endswith(_COUNT_UNITS)
        if is_count and not _RATE_BEFORE.search(before):
            # Counts are deliverables only inside a goal section or with a bound.
            ok = (in_goals or bounded) and not context
        else:
            ok = (bounded or cued or in_goals) and not context
        if ok:
            found.append(text[start:end].strip())
    for m in _STANDARD.finditer(text):
        before = _clause_before(text, m.start())
        if _last(_CONTEXT_CUE, before) <= _last(_TARGET_CUE, before):
            found.append(m.group(0))
    return found


def find_investment(text: str) -> float | None:
    """Return the planned or spent investment stated in ``text``, in 万元, or ``None``.

    Parameters
    ----------
    text : str
        Free text of a demand.

    Returns
    -------
    float or None
        The largest amount introduced by 投入/投资/预算/经费/出资, converted to 万元.
    """
    amounts = []
    for m in list(_INVESTMENT.finditer(text)) + list(_INVESTMENT_AFTER.finditer(text)):
        value = float(m.group(1)) * (10000.0 if m.group(2) == "亿" else 1.0)
        amounts.append(value)
    return max(amounts) if amounts else None


def _specific_chars(text: str) -> int:
    """Return how many characters remain once boilerplate, digits and punctuation are removed."""
    return len(_NOISE.sub("", _GENERIC_RE.sub("", text)))


def check_demand(
    title: str,
    text: str,
    *,
    keywords: Sequence[str] | None = None,
    investment: float | None = None,
    publishable: bool | None = None,
    goals: str | None = None,
) -> QualityReport:
    """Check whether a demand is specific enough to be an effective technology demand.

    Parameters
    ----------
    title : str
        The demand's title.
    text : str
        The demand's content: the technical problem, and, in free text, possibly the goals
        (预期目标 sections) and the investment (投入…万元) as well.
    keywords : sequence of str, optional
        The demand's keywords; ``None`` when the form has none, an empty sequence is flagged.
    investment : float, optional
        Planned investment in 万元; ``None`` means look for it in ``text``.
    publishable : bool, optional
        Whether the enterprise agreed to publication; ``False`` is flagged and makes the
        demand vague (the notice requires publishable content); ``None`` means not asked.
    goals : str, optional
        The expected goals and indicators field; ``None`` means look for them in ``text``.

    Returns
    -------
    QualityReport
        Verdict, score and hints; the verdict is ``"specific"`` when the demand has a problem
        statement, at least one measurable target, enough specific content, and nothing
        blocking (empty keywords given, not publishable).
    """
    title = (title or "").strip()
    text = (text or "").strip()
    goals_text = (goals or "").strip()
    full = f"{text}\n{goals_text}" if goals_text else text
    hints: list[Hint] = []
    ok: dict[str, bool] = {}

    length = len(re.sub(r"\s", "", full))
    ok["length"] = length >= MIN_LENGTH
    specific_chars = _specific_chars(full)
    ok["specific_words"] = specific_chars >= 0.45 * length and specific_chars >= 25
    targets = find_targets(text)
    if goals_text:
        targets += find_targets(goals_text, all_goals=True)
    ok["target"] = bool(targets)
    # A development task with several measurable targets states its problem implicitly.
    ok["problem"] = bool(
        _PROBLEM_CUE.search(full) or _PROBLEM_CUE.search(title) or len(set(targets)) >= 2
    )
    ok["goals"] = bool(goals_text) or bool(_GOAL_HEADING.search(text)) or ok["target"]

    amount = investment if investment is not None else find_investment(full)
    ok["investment"] = amount is not None and amount > 0
    ok["title"] = len(title) >= 4 and _specific_chars(title) >= 2

    if not ok["length"]:
        hints.append(Hint("too_short", "problem",
                          f"需求描述过短（{length}字），请说明技术难题的具体表现、现有做法和预期目标。"))
    if not ok["problem"]:
        hints.append(Hint("no_problem", "problem",
                          "未说明亟待解决的技术难题：请写明难在哪里、现有做法存在什么问题。"))
    if not ok["specific_words"] and ok["length"]:
        hints.append(Hint("generic", "problem",
                          "描述多为“提高产品质量”“解决技术难题”等套话，请写明具体的产品、工艺、"
                          "材料或设备及其技术问题。"))
    elif not ok["specific_words"]:
        hints.append(Hint("generic", "problem",
                          "描述缺少具体的技术内容（产品、工艺、材料或设备），请补充。"))
    if not ok["goals"]:
        hints.append(Hint("no_goals", "goals",
                          "未写预期目标：请说明希望达到的效果和技术指标。"))
    if not ok["target"]:
        hints.append(Hint("no_measurable_target", "goals",
                          "预期目标缺少可衡量的指标：请给出带单位的数值，如“韧性≥67%”"
                          "“寿命大于5000小时”，或应达到的标准编号。"))
    if not ok["investment"]:
        hints.append(Hint("no_investment", "investment",
                          "未说明计划投入资金：请填写拟投入或已投入的金额（万元）。"))
    if not ok["title"]:
        hints.append(Hint("vague_title", "title",
                          "标题过于笼统，请写明具体的产品、工艺或技术方向。"))

    blocking = False
    weights = dict(_WEIGHTS)
    if keywords is not None:
        weights["keywords"] = 5
        ok["keywords"] = any(k.strip() for k in keywords)
        if not ok["keywords"]:
            blocking = True
            hints.append(Hint("no_keywords", "keywords",
                              "未填写关键词：请填写3至5个技术关键词，便于匹配专家。"))
    if publishable is not None:
        weights["publishable"] = 5
        ok["publishable"] = publishable
        if not publishable:
            blocking = True
            hints.append(Hint("not_publishable", "publishable",
                              "该需求未标记为可公开发布：有效需求的相关内容应可公开发布，"
                              "请与企业确认或删去保密内容后标记为可公开。"))

    score = round(100 * sum(w for k, w in weights.items() if ok.get(k)) / sum(weights.values()))
    specific = (
        ok["target"] and ok["problem"] and ok["length"] and ok["specific_words"] and not blocking
    )
    return QualityReport(
        verdict="specific" if specific else "vague",
        score=score,
        hints=tuple(hints),
        targets=tuple(dict.fromkeys(targets)),
    )
