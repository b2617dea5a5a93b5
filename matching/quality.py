"""Effectiveness check of an enterprise technology demand (企业有效技术需求).

The bureau calls a demand effective when it states a real technical problem and a clear
expected outcome, and its content may be published; a measurable indicator strengthens a
demand and a planned investment is reported, but neither is required. :func:`check_demand`
reads the prose (problem cues such as 难以, 不理想, 瓶颈 and outcome cues such as 目标, 希望,
使其, 降低 anywhere in the text, followed by concrete words), refuses texts that only look
substantial (repeated or copied text, filler, buzzword lists, a company profile instead of a
problem, over-long text) and returns a verdict with hints in Chinese that say what to change.
The keyword rule (:func:`check_keywords`) and the deadline rule (:func:`check_deadline`) live
here too, so that the intake form's live panel, the submission, imports and the API decide
them in one place. Nothing here imports the web or the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from .quality_cues import (
    BACKGROUND_CUE,
    BASE_HEADING,
    FIRST_PERSON,
    GENERIC_KEYWORDS,
    GENERIC_RE,
    GOAL_HEADING,
    NOT_A_GOAL_BEFORE,
    OUTCOME_CUE,
    PROBLEM_HEADING,
    PROBLEM_STRONG,
    PROBLEM_WEAK,
    PROFILE_CUE,
    QUESTION,
    WISH_CUE,
    blank_free,
    filler_share,
    find_investment,
    find_targets,
    list_share,
    overlap,
    repetition,
    specific_chars,
)

__all__ = [
    "CheckParams", "DEFAULT_PARAMS", "Hint", "KEYWORD_RULE", "MAX_KEYWORD_CHARS", "MAX_KEYWORDS",
    "MAX_LENGTH", "MIN_KEYWORDS", "QualityReport", "check_deadline", "check_demand",
    "check_keywords", "find_investment", "find_targets", "split_keywords",
]

Verdict = Literal["specific", "vague"]

#: The one keyword rule of the form, the panel, the submission, imports and the API.
MIN_KEYWORDS = 1
MAX_KEYWORDS = 5
MAX_KEYWORD_CHARS = 20
KEYWORD_RULE = f"{MIN_KEYWORDS}至{MAX_KEYWORDS}个，每个不超过{MAX_KEYWORD_CHARS}字"
_KEYWORD_SPLIT = re.compile(r"[,，;；、\s]+")

#: Non-blank characters above which a demand must be condensed (the longest of 181 real demands
#: has 1,602): a reviewer reads problem and goal, not a report.
MAX_LENGTH = 3000

_SENTENCE = re.compile(r"[^。；;！？!?\n]+")
_CLAUSE_SPLIT = re.compile(r"[，,：:]")


@dataclass(frozen=True)
class CheckParams:
    """Thresholds of the check, chosen by cross-validation on hand labels (docs/quality.md).

    Parameters
    ----------
    min_length : int
        Non-blank characters below which a text is called too short, unless problem and goal
        were both found in it (膜污染导致通量下降，通量衰减≤10%).
    min_problem : int
        Problem evidence needed: 2 per sentence with a failure cue (不理想, 难以, 开裂 …),
        1 per sentence with a weaker cue (问题, 难题, 如何 …), each sentence at most 2.
    min_outcome : int
        Outcome evidence needed: 1 per sentence whose outcome cue (目标, 希望, 使其, 降低 …) is
        followed by concrete words, 2 for measurable targets, 1 for a goals field with content.
    min_concrete : int
        Non-generic characters a cue's clause must hold to count as concrete.
    max_generic : float
        Largest share of boilerplate (提高产品质量, 解决技术难题, 公司 …) a text may have.
    max_profile : float
        Share of company-profile sentences above which a text without a problem is told that
        it describes the company instead of a problem.
    """

    min_length: int = 30
    min_problem: int = 1
    min_outcome: int = 1
    min_concrete: int = 6
    max_generic: float = 0.5
    max_profile: float = 0.4


DEFAULT_PARAMS = CheckParams()


@dataclass(frozen=True)
class Hint:
    """One thing that is missing, vague or wrong in a demand.

    Parameters
    ----------
    code : str
        Stable machine code, e.g. ``"no_problem"``.
    field : str
        The demand field concerned: ``title``, ``problem``, ``goals``, ``investment``,
        ``keywords``, ``deadline`` or ``publishable``.
    message : str
        What to change, in Simplified Chinese, naming the value at fault where there is one.
    blocking : bool
        Whether the hint keeps the demand from being submitted (``False``: advice only).
    """

    code: str
    field: str
    message: str
    blocking: bool = True


@dataclass(frozen=True)
class QualityReport:
    """Outcome of :func:`check_demand`.

    Parameters
    ----------
    verdict : {"specific", "vague"}
        ``"specific"`` when problem and expected outcome are stated and no blocking hint is left
        (a past deadline blocks submission but does not make the content vague).
    score : int
        0 to 100 for sorting and display; a vague demand never scores above 59, a
        repeated, filler or buzzword text never above 30.
    hints : tuple of Hint
        Blocking hints first, then advice (no indicator, no investment, vague title).
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

    @property
    def blocking(self) -> tuple[Hint, ...]:
        """Return the hints that keep the demand from being submitted."""
        return tuple(h for h in self.hints if h.blocking)


# --- keywords and deadline: one rule each -------------------------------------------------------
def split_keywords(value: str | Iterable[str] | None) -> list[str]:
    """Split typed keywords on commas, 、, semicolons and spaces; keep order, drop repeats."""
    if value is None:
        return []
    parts = _KEYWORD_SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def check_keywords(keywords: str | Iterable[str] | None) -> list[Hint]:
    """Return what breaks the keyword rule (1-5 keywords, each at most 20 characters, specific)."""
    words = split_keywords(keywords)
    hints: list[Hint] = []
    if len(words) < MIN_KEYWORDS:
        hints.append(Hint("no_keywords", "keywords",
                          f"未填写关键词：请填写{KEYWORD_RULE}的技术关键词，便于匹配专家。"))
    if len(words) > MAX_KEYWORDS:
        hints.append(Hint("too_many_keywords", "keywords",
                          f"关键词最多 {MAX_KEYWORDS} 个（现有 {len(words)} 个）："
                          "请保留最能代表技术方向的几个。"))
    for word in (w for w in words if len(w) > MAX_KEYWORD_CHARS):
        hints.append(Hint("keyword_too_long", "keywords",
                          f"关键词“{word[:12]}…”有{len(word)}字，每个不超过{MAX_KEYWORD_CHARS}字："
                          "请拆成几个词或只保留技术名称。"))
    generic = [w for w in words if w in GENERIC_KEYWORDS]
    if generic:
        hints.append(Hint("generic_keywords", "keywords",
                          f"关键词“{'、'.join(generic)}”过于笼统，匹配不到专家：请换成具体的产品、"
                          "材料、工艺或设备名称，如“立方氮化硼”“固液分离”。"))
    return hints


def check_deadline(deadline: date | None, today: date | None) -> Hint | None:
    """Return the hint for a deadline before ``today`` (both dates in Beijing), else ``None``."""
    if deadline is None or today is None or deadline >= today:
        return None
    return Hint("deadline_passed", "deadline",
                f"截止日期 {deadline.isoformat()} 早于今天（{today.isoformat()}）："
                "请改为今天或以后的日期，或清空。")


# --- reading the prose ---------------------------------------------------------------------------
def _concrete(clause: str, cue_end: int) -> int:
    """Return the non-generic characters of a clause, favouring what follows the cue."""
    return max(specific_chars(clause[cue_end:]), specific_chars(clause) // 2)


def _ability(clause: str, cue: re.Match[str]) -> bool:
    """Return whether an outcome cue states an ability or a past result (可降低, 实现了)."""
    before = clause[:cue.start()]
    if QUESTION.search(before):  # 怎么能够实现…: a goal asked as a question
        return False
    return bool(NOT_A_GOAL_BEFORE.search(before) or clause[cue.end():cue.end() + 1] == "了")


@dataclass(frozen=True)
class _Reading:
    problem: int
    outcome: int
    profile: float
    problem_text: str = ""  # the first problem sentence found, quoted in hints


def _quote(sentence: str, limit: int = 24) -> str:
    """Return a sentence shortened for a hint."""
    sentence = re.sub(r"\s+", "", sentence)
    return sentence if len(sentence) <= limit else sentence[:limit] + "…"


def _problem_gain(sentence: str, params: CheckParams) -> tuple[int, str]:
    """Return (2, clause) for a concrete failure, (1, clause) for a weaker problem, or (0, "")."""
    gain, where = 0, ""
    whole = specific_chars(sentence)
    for clause in _CLAUSE_SPLIT.split(sentence):
        if PROBLEM_STRONG.search(clause) and max(specific_chars(clause), whole // 2) >= (
                params.min_concrete):
            return 2, clause
        if PROBLEM_WEAK.search(clause) and specific_chars(clause) >= 2 * params.min_concrete:
            gain, where = 1, where or clause
    return gain, where


def _is_outcome(sentence: str, params: CheckParams) -> bool:
    """Return whether a clause states a goal: a target cue or a wish followed by concrete words."""
    for clause in _CLAUSE_SPLIT.split(sentence):
        cue = next((c for c in OUTCOME_CUE.finditer(clause) if not _ability(clause, c)), None)
        wish = WISH_CUE.search(clause)
        if (cue and _concrete(clause, cue.end()) >= params.min_concrete) or (
                wish and specific_chars(clause[wish.end():]) >= 4 * params.min_concrete):
            return True
    return False


def _read(text: str, params: CheckParams) -> _Reading:
    """Weigh problem and outcome evidence sentence by sentence, skipping company profile.

    Under a goal heading (预期目标：) every concrete item counts as an outcome, under a problem
    heading (技术难题有：, 存在问题：) every concrete item as a problem, under a base heading
    (现有工作基础) nothing but stated failures counts.
    """
    problem = outcome = profile_chars = 0
    first_problem = ""
    total = max(1, len(blank_free(text)))
    section = None
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0).strip()
        if not sentence:
            continue
        heading = PROBLEM_HEADING.search(sentence)
        if GOAL_HEADING.search(sentence[:12]):
            section = "goal"
        elif BASE_HEADING.search(sentence[:12]):
            section = "base"
        elif heading:
            section = "problem"
            sentence = sentence[heading.end():]
        failing = PROBLEM_STRONG.search(sentence)
        background = (BACKGROUND_CUE.search(sentence) and not FIRST_PERSON.search(sentence)
                      and section != "goal")
        listed = section in ("goal", "problem") and specific_chars(sentence) >= params.min_concrete
        if background or (not failing and not listed and (
                section == "base" or len(PROFILE_CUE.findall(sentence)) >= 2)):
            profile_chars += len(blank_free(sentence))
            continue
        gain, clause = _problem_gain(sentence, params)
        if listed and section == "problem" and not gain:
            gain, clause = 1, sentence
        if gain and not first_problem:
            first_problem = _quote(clause)
        problem += gain
        if _is_outcome(sentence, params) or (listed and section == "goal"):
            outcome += 1
    return _Reading(problem, outcome, profile_chars / total, first_problem)


def _most_repeated(text: str) -> str:
    """Return the sentence that occurs most often (or the text's start)."""
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    return max(sentences, key=sentences.count) if sentences else text


def _top_generic(text: str, k: int = 3) -> list[str]:
    """Return the boilerplate phrases of a text, most frequent first."""
    found = [m.group(0) for m in GENERIC_RE.finditer(text) if len(m.group(0)) >= 4]
    return sorted(dict.fromkeys(found), key=found.count, reverse=True)[:k]


def check_demand(
    title: str,
    text: str,
    *,
    keywords: Sequence[str] | str | None = None,
    investment: float | None = None,
    publishable: bool | None = None,
    goals: str | None = None,
    deadline: date | None = None,
    today: date | None = None,
    params: CheckParams = DEFAULT_PARAMS,
) -> QualityReport:
    """Check whether a demand states a technical problem and an expected outcome.

    Parameters
    ----------
    title : str
        The demand's title.
    text : str
        The demand's content in prose: problem, and possibly goals and investment as well.
    keywords : sequence of str or str, optional
        The demand's keywords; ``None`` when not asked (free text), else the keyword rule applies.
    investment : float, optional
        Planned investment in 万元; ``None`` means look for it in ``text``. Advice only.
    publishable : bool, optional
        Whether the enterprise agreed to publication; ``False`` makes the demand vague.
    goals : str, optional
        The expected goals field; ``None`` means look for goals in ``text``.
    deadline, today : date, optional
        The demand's deadline and today's date in Beijing; a past deadline blocks.
    params : CheckParams, default=DEFAULT_PARAMS
        Thresholds (for tuning; the defaults are the cross-validated ones).

    Returns
    -------
    QualityReport
        Verdict, score, hints (blocking first) and the measurable targets found.
    """
    title = (title or "").strip()
    text = (text or "").strip()
    goals_text = (goals or "").strip()
    hints: list[Hint] = []
    if goals_text and text and overlap(text, goals_text) >= 0.8:
        hints.append(Hint("copied_goals", "goals",
                          "预期目标与技术难题的内容基本相同：请在预期目标中写明要达到的效果、状态或"
                          "指标，不要复制难题描述。"))
        goals_text = ""
    full = f"{text}\n{goals_text}" if goals_text else text
    length = len(blank_free(full))
    found = find_targets(text) + (find_targets(goals_text, all_goals=True) if goals_text else [])
    targets = list(dict.fromkeys(found))
    reading = _read(text, params)
    goal_reading = _read(goals_text, params)
    problem = reading.problem + _read(title, params).problem // 2
    outcome = reading.outcome + goal_reading.outcome + (2 if targets else 0)
    if goals_text and specific_chars(goals_text) >= 2 * params.min_concrete:
        outcome += 1
    if len(targets) >= 2:  # a development task with several measurable targets
        problem = max(problem, params.min_problem)
    generic_share = 1 - specific_chars(full) / length if length else 1.0

    # Tricks first: a text that only looks substantial is told exactly that.
    repeated = repetition(full) >= 0.3
    filler = filler_share(full) >= 0.2
    listed = list_share(full) >= 0.5
    if repeated:
        hints.append(Hint("repeated", "problem",
                          f"描述中同一内容反复出现（如“{_quote(_most_repeated(full))}”）："
                          "请删去重复的句子，每个问题和目标只写一次。"))
    if filler:
        hints.append(Hint("filler", "problem",
                          "描述含“详见附件”“同上”或重复字符等填充内容：请直接写明技术难题和预期目标。"))
    if listed:
        hints.append(Hint("buzzwords", "problem",
                          "描述主要是词语罗列：请用完整的句子写明哪个产品或工艺遇到了什么问题、"
                          "希望达到什么效果。"))
    if length > MAX_LENGTH:
        hints.append(Hint("too_long", "problem",
                          f"描述过长（{length}字，上限{MAX_LENGTH}字）：请精简，保留技术难题、预期目标"
                          "和指标，删去企业介绍、行业背景和项目计划。"))
    has_problem = problem >= params.min_problem
    has_outcome = outcome >= params.min_outcome
    if length < params.min_length and not (has_problem and has_outcome):
        hints.append(Hint("too_short", "problem",
                          f"需求描述过短（{length}字）：请说明技术难题的具体表现、现有做法和预期目标。"))
    elif generic_share > params.max_generic:
        phrases = "".join(f"“{p}”" for p in _top_generic(full)) or "“提高产品质量”“解决技术难题”"
        hints.append(Hint("generic", "problem",
                          f"描述多为{phrases}等套话（约占{round(100 * generic_share)}%）："
                          "请写明具体的产品、工艺、材料或设备及其技术问题。"))
    if not has_problem and reading.profile >= params.max_profile:
        hints.append(Hint("company_profile", "problem",
                          "描述主要是企业简介（成立时间、资质、规模）：请改写为企业当前遇到的技术难题，"
                          "企业情况可简要放在“现有工作基础”中。"))
    elif not has_problem:
        hints.append(Hint("no_problem", "problem",
                          "未说明亟待解决的技术难题：请写明现在哪里做不到、效果如何不理想，"
                          "如“分离后液体含固率高，现有设备效果均不理想”。"))
    if not has_outcome:
        stated = f"已写明问题“{reading.problem_text}”，但" if reading.problem_text else ""
        hints.append(Hint("no_goals", "goals",
                          f"{stated}未写预期目标：请说明解决后希望达到的效果或状态，"
                          "如“目标是降低分离后液体的含固率”。"))
    if keywords is not None:
        hints.extend(check_keywords(keywords))
    late = check_deadline(deadline, today)
    if late is not None:
        hints.append(late)
    if publishable is False:
        hints.append(Hint("not_publishable", "publishable",
                          "该需求未标记为可公开发布：有效需求的相关内容应可公开发布，"
                          "请与企业确认或删去保密内容后标记为可公开。"))

    # Advice: reported, never blocking.
    if not targets:
        hints.append(Hint("no_measurable_target", "goals",
                          "预期目标缺少可衡量的指标：可补充带单位的数值，如“韧性≥67%”“寿命大于"
                          "5000小时”，或应达到的标准编号，便于验收（不是必填）。", blocking=False))
    amount = investment if investment is not None else find_investment(full)
    if not (amount is not None and amount > 0):
        hints.append(Hint("no_investment", "investment",
                          "未说明计划投入资金：可填写拟投入或已投入的金额（万元）（不是必填）。",
                          blocking=False))
    if not (len(title) >= 4 and specific_chars(title) >= 2):
        hints.append(Hint("vague_title", "title",
                          "标题过于笼统：请写明具体的产品、工艺或技术方向。", blocking=False))

    hints.sort(key=lambda h: not h.blocking)
    # A past deadline blocks submission but says nothing about the content: not part of the verdict.
    specific = not any(h.blocking and h.field != "deadline" for h in hints)
    parts = {"problem": (25, has_problem), "outcome": (25, has_outcome),
             "indicator": (15, bool(targets)), "substance": (15, generic_share <= params.max_generic
                                                             and length >= params.min_length),
             "investment": (10, amount is not None and amount > 0),
             "title": (5, len(title) >= 4), "clean": (5, not (repeated or filler or listed))}
    total = sum(w for w, _ok in parts.values())
    score = round(100 * sum(w for w, ok in parts.values() if ok) / total)
    if not specific:
        score = min(score, 30 if repeated or filler or listed else 59)
    return QualityReport(verdict="specific" if specific else "vague", score=score,
                         hints=tuple(hints), targets=tuple(targets))

