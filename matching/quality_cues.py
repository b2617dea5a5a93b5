"""Cue words, patterns and text measures of the effectiveness check (:mod:`matching.quality`).

Kept apart from the decision so that the rules read in one screen: measurable targets
(:func:`find_targets`), investment (:func:`find_investment`), boilerplate (:func:`specific_chars`),
problem, outcome and company-profile cues, the keywords too generic to match an expert, and the
measures of texts that only look substantial (:func:`repetition`, :func:`filler_share`,
:func:`list_share`, :func:`overlap`).
"""

from __future__ import annotations

import re

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
_BUSINESS = re.compile(
    r"销售|收入|营业|利润|产值|市场值|市场规模|注册资金|占地|人民币|员工|人员|专利|论文|著作权|人才"
)
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
    "企业", "项目", "客户要求", "市场要求", "市场需求", "客户需求", "要求",
    "预想效果", "预期效果", "理想效果", "效果", "对接", "通过", "给予", "有效", "更好",
    "提高", "提升", "解决", "实现", "进一步", "加快", "促进", "推动",
    "存在一些问题", "一些问题", "存在问题", "技术水平", "专家指导", "得到专家", "技术改进",
    "相关技术", "目前", "一些", "方面", "相关",
)
GENERIC_RE = re.compile("|".join(sorted(map(re.escape, _GENERIC_PHRASES), key=len, reverse=True)))
_NOISE = re.compile(r"[\s\W_\d]+")

#: A failure stated in the text: what does not work today.
PROBLEM_STRONG = re.compile(
    r"不理想|不太理想|不好|不佳|不足|不够|不稳定|不达标|不合格|不均匀|不耐|不易|不到位|不成熟|不利于|无法|难以|"
    r"不能|很难|较难|偏低|偏高|过高|过低|较低|较差|太低|太高|太重|太大|低下|落后|滞后|开裂|裂纹|"
    r"爆裂|起泡|脱落|剥落|变形|翘曲|腐蚀|锈蚀|磨损|失效|故障|堵塞|蓬堵|卡料|烧坏|烧损|污染|浪费|隐患|缺陷|缺乏|"
    r"缺少|匮乏|欠缺|困难|受限|制约|忽略|差别|差距|依赖进口|效率低|成本高|能耗高|寿命短|周期长|"
    r"下降|衰减|波动|噪声|噪音|异响|黑点|黑斑|发霉|氧化皮|增碳|残留|超标|未通过|损失|敏感|毒性|比人工低"
)
#: A weaker problem statement: names a problem without saying what fails.
PROBLEM_WEAK = re.compile(
    r"难题|难点|问题|瓶颈|痛点|如何|怎样|怎么|亟需|亟待|急需|迫切|需解决|需要解决|拟解决|攻关|"
    r"挑战|存在|现状|目前是采用|废水|废渣|废料|废气|替代|代替|取代|现采用|目前采用|传统"
)
#: The expected outcome: a goal heading or wish followed by concrete words, or a target state.
OUTCOME_CUE = re.compile(
    r"目标|预期|希望|期望|要求|达到|使其|使之|降低|降至|降到|减少|减小|减轻|提高|提升|增加|增强|"
    r"缩短|延长|控制在|满足|符合|替代|取代|代替|消除|去除|避免|防止|杜绝|确保|保证|改善|不再|无需|"
    r"不用|实现|更(?:适合|适用|高效|稳定|可靠|均匀|耐|轻|快|好)"
)
#: A wish for a solution: an outcome only when a concrete object follows (four times the words).
WISH_CUE = re.compile(
    r"寻找|寻求|需求|需要|想要|想购买|拟开发|拟研制|研制出|开发出|研发出|急需|亟需"
)
#: Industry background or praise of a technique: no problem of the enterprise by itself.
BACKGROUND_CUE = re.compile(
    r"随着|我国|国内外|国际上|全球|世界|据统计|统计|前景|热点|前沿|国家|政策|优势|优点|"
    r"意义|必将|势在必行|广泛应用|得到了|发展迅速|发展趋势"
)
#: Who has the problem: a sentence naming the enterprise or its project is not background.
FIRST_PERSON = re.compile(r"我|本公司|我司|本单位|公司|企业|本项目|该项目|目前|现有|现在|现阶段")
#: A cue describing an ability or a past result rather than a goal (可降低, 实现了, 已达到).
NOT_A_GOAL_BEFORE = re.compile(r"(?:可|可以|能|能够|将|会|已|已经|均|都)$")
#: A heading that introduces a list of problems (技术难题有：, 存在问题：, 希望解决的技术难题).
PROBLEM_HEADING = re.compile(
    r"(?:难题|难点|问题|瓶颈)(?:有|如下|是|为|包括|主要有)?\s*[：:]|"
    r"(?:希望|拟|需要?|需求)解决的?(?:技术)?(?:难题|问题)\s*[：:]?|存在问题\s*[：:]|面临的难题\s*[：:]?"
)
#: A question that asks for the goal (如何…, 怎么能够…).
QUESTION = re.compile(r"如何|怎么|怎样|希望|要求|需要")
#: Sentences about the enterprise rather than its problem (公司 alone is not enough).
PROFILE_CUE = re.compile(
    r"成立|创立|注册资金|注册资本|占地|高新技术企业|拥有|员工|职工|专利|研发中心|技术中心|研究中心|"
    r"工作站|实验室|产值|销售收入|营业|荣获|被评为|认定|认证|位于|是一家|建有|设备齐全|团队|基地|"
    r"平台|合作关系|资质|市场前景|应用前景|经济效益|社会效益|随着|我国|国内外|全球|据统计|趋势"
)
GOAL_HEADING = _GOAL_HEADING
BASE_HEADING = re.compile(
    r"现有工作基础|工作基础|现有基础|研究基础|实验基础|科研基础|现在基础|想有工作基础|企业技术背景|"
    r"项目预算|资金预算"
)

#: Keywords that match every expert and so none: they say nothing about the technology.
GENERIC_KEYWORDS = frozenset(
    "技术 创新 科技 技术创新 科技创新 研发 研究 开发 合作 技术合作 产品 新产品 质量 产品质量 工艺 "
    "新工艺 新技术 新材料 材料 设备 智能 智能化 自动化 信息化 数字化 高新技术 产业化 转型升级 升级 "
    "改造 优化 应用 项目 需求 技术需求 效率 成本 节能 环保 节能环保 绿色 其他 其它 无".split()
)


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


def specific_chars(text: str) -> int:
    """Return how many characters remain once boilerplate, digits and punctuation are removed."""
    return len(_NOISE.sub("", GENERIC_RE.sub("", text)))


# --- text measures -------------------------------------------------------------------------
_LIST_ITEM = re.compile(r"[^、，,；;。\n/|]+")
_RUN = re.compile(r"(.)\1{3,}")
_FILLER = re.compile(
    r"详见附件|见附件|如附件|同上|暂无|待定|待补充|不详|测试|test|xxx+|aaa+|……|\.{3,}|[？?]{2,}|"
    r"啊+|哈+|嗯+|无$|略$", re.IGNORECASE,
)


def blank_free(text: str) -> str:
    """Return ``text`` without white space."""
    return re.sub(r"\s", "", text)


def repetition(text: str, n: int = 8) -> float:
    """Return the share of repeated character n-grams (0 for varied text, near 1 for copies)."""
    flat = blank_free(text)
    grams = [flat[i:i + n] for i in range(len(flat) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if len(grams) > 20 else 0.0


def filler_share(text: str) -> float:
    """Return the share of characters that are filler (详见附件, 同上, runs like 啊啊啊啊)."""
    flat = blank_free(text)
    if not flat:
        return 0.0
    junk = sum(len(m.group(0)) for m in _FILLER.finditer(flat))
    junk += sum(len(m.group(0)) for m in _RUN.finditer(flat) if not m.group(1).isdigit())
    return min(1.0, junk / len(flat))


def list_share(text: str) -> float:
    """Return the share of text in runs of four or more short list items (a buzzword list)."""
    flat = blank_free(text)
    if not flat:
        return 0.0
    items = [m.group(0) for m in _LIST_ITEM.finditer(text.replace(" ", "、"))]
    listed, run = 0, []
    for item in items + [""]:
        if 0 < len(item.strip()) <= 6:
            run.append(len(item.strip()))
            continue
        if len(run) >= 4:
            listed += sum(run)
        run = []
    return listed / len(flat)


def overlap(a: str, b: str, n: int = 4) -> float:
    """Return the share of ``b``'s character n-grams that also occur in ``a``."""
    grams_b = {b[i:i + n] for i in range(len(b) - n + 1)}
    if not grams_b:
        return 0.0
    grams_a = {a[i:i + n] for i in range(len(a) - n + 1)}
    return len(grams_a & grams_b) / len(grams_b)
