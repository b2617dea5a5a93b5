"""Text of the meeting planner: the default analyzer, TF-IDF vectors and session theme words."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.planning.plan_records import MeetingDemand, PlanningError

__all__ = [
    "Analyzer",
    "bigram_analyze",
    "centroid",
    "display",
    "theme_phrases",
    "theme_words",
    "vectorize",
]

Analyzer = Callable[[str], Sequence[str]]

_CJK_OR_WORD = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PREFIX = re.compile(r"^[a-z]:")
#: Words of the form of a text, not of its topic ("（关键词：…）" marks keyword lists).
_THEME_STOPWORDS = frozenset({"关键词", "关键字", "研究", "基于", "关于", "探讨", "若干", "需求"})
_FUNCTION_CHARS = frozenset("的与和及于对在为是了其之以并或等及中下")


def bigram_analyze(text: str) -> list[str]:
    """Split ``text`` into character bigrams of its Chinese runs and whole Latin/digit words.

    The default analyzer of the planner; the application passes ``matching.text.analyze``.

    Parameters
    ----------
    text : str
        The text of a demand or of an expert.

    Returns
    -------
    list of str
        Bigrams of each run of Chinese characters (a one-character run is kept whole) and
        each run of Latin letters or digits, lower-cased.
    """
    tokens: list[str] = []
    for run in _CJK_OR_WORD.findall(text or ""):
        if _CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run.lower())
    return tokens


def _passthrough(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def vectorize(
    demands: Sequence[MeetingDemand], analyzer: Analyzer
) -> tuple[sp.csr_matrix, np.ndarray]:
    docs = [list(d.tokens) if d.tokens else list(analyzer(d.text)) for d in demands]
    if not any(docs):
        raise PlanningError(
            "所选需求都没有可用的文字内容，无法按主题分场：请补充需求描述", "empty_text"
        )
    vectorizer = TfidfVectorizer(analyzer=_passthrough, sublinear_tf=True)
    matrix = vectorizer.fit_transform(docs).tocsr()
    return matrix, vectorizer.get_feature_names_out()


def centroid(matrix: sp.csr_matrix, rows: Sequence[int]) -> np.ndarray:
    vec = np.asarray(matrix[list(rows)].mean(axis=0)).ravel()
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


def display(term: str) -> str:
    return _PREFIX.sub("", term)


def _readability(term: str) -> float:
    """Weight a term by how readable it is as a theme word: jieba words first, no single chars."""
    text = display(term)
    if len(text) < 2 or text in _THEME_STOPWORDS:
        return 0.0
    if not term.startswith("w:") and any(ch in _FUNCTION_CHARS for ch in text):
        # a bigram across a function character ("与治", "的信") reads as noise
        return 0.0
    if term.startswith("w:") or not _PREFIX.match(term):
        return 1.5 if term.startswith("w:") else 1.0
    return 0.8 if term.startswith("b:") else 0.0


def _best_distinct(scored: list[tuple[float, int, str]], n_words: int) -> tuple[str, ...]:
    """Return up to ``n_words`` words, best (lowest key) first, none inside another one.

    A word that is part of a chosen word (or the reverse) adds nothing readable.
    """
    scored.sort()
    chosen: list[str] = []
    for _, _, word in scored:
        if any(word in c or c in word for c in chosen):
            continue
        chosen.append(word)
        if len(chosen) == n_words:
            break
    return tuple(chosen)


def theme_words(
    matrix: sp.csr_matrix, rows: Sequence[int], terms: np.ndarray, n_words: int
) -> tuple[str, ...]:
    if not rows:
        return ()
    weights = np.asarray(matrix[list(rows)].sum(axis=0)).ravel()
    order = np.argsort(-weights, kind="stable")
    scored: list[tuple[float, int, str]] = []
    for rank, j in enumerate(order[: max(50, 10 * n_words)]):
        if weights[j] <= 0:
            break
        readability = _readability(str(terms[j]))
        if readability > 0:
            scored.append((-weights[j] * readability, rank, display(str(terms[j]))))
    return _best_distinct(scored, n_words)




#: Words too general to name a session on their own (they may sit inside a phrase).
FILLERS = frozenset(
    "数据 分析 技术 系统 平台 研究 开发 应用 方法 问题 提升 优化 建设 设计 关键 工艺 装置 设备 "
    "产品 方案 能力 效率 质量 实现 提高 解决 需要 相关 新型 基于 企业 公司 项目 支持 服务 管理 "
    "控制 改进 改善 研制 构建 打造 推进 升级 降低 减少 增加 制备 生产 工程 创新 合作 需求 高效 "
    "智能化 一种 体系 模型 算法 材料 产业 领域 行业 信息 架构 方式 手段 过程 实时 问题".split()
) | _THEME_STOPWORDS
#: Longest phrase (in characters) built from adjacent words.
MAX_PHRASE = 10


def _runs(words: Sequence[str], text: str) -> list[list[str]]:
    """Split a demand's words into runs that are adjacent in its text (no filler inside)."""
    runs: list[list[str]] = []
    current: list[str] = []
    for word in words:
        if word in FILLERS or len(word) < 2 and not word.isalnum():
            if current:
                runs.append(current)
            current = []
            continue
        if current and "".join(current) + word in text:
            current.append(word)
        else:
            if current:
                runs.append(current)
            current = [word]
    if current:
        runs.append(current)
    return runs


def _candidates(words: Sequence[str], text: str, count: Callable[[str], int]) -> set[str]:
    """Whole-word phrases of a demand: sub-runs of adjacent words, and long single words.

    Two adjacent words are *tight* when they nearly always occur together in the meeting's
    demands (湖仓 | 一体, 多式 | 联运: jieba split a compound): a phrase never starts or ends
    between tight words, so no fragment of a compound becomes a theme word.
    """
    out: set[str] = set()
    for run in _runs(words, text):
        pairs = zip(run, run[1:], strict=False)
        tight = [count(a + b) >= 0.7 * max(count(a), count(b)) for a, b in pairs]
        for i in range(len(run)):
            if len(run[i]) >= 3:
                out.add(run[i])  # a long word is a word, wherever it stands
            if i and tight[i - 1]:
                continue  # would start inside a compound
            phrase = ""
            for j in range(i, len(run)):
                phrase += run[j]
                if len(phrase) > MAX_PHRASE:
                    break
                if len(phrase) >= 2 and (j == len(run) - 1 or not tight[j]):
                    out.add(phrase)
    return out


def _words_of(demand: MeetingDemand) -> list[str] | None:
    words = [tok[2:] for tok in demand.tokens if tok.startswith("w:")]
    return words or None


def theme_phrases(
    session_demands: Sequence[MeetingDemand],
    meeting_demands: Sequence[MeetingDemand],
    n_words: int = 5,
) -> tuple[str, ...] | None:
    """Return the theme words of a session: whole words or phrases of its demands, no fillers.

    A candidate is a word or a run of adjacent words of one demand (see :func:`_candidates`);
    it scores by how many of the session's demands contain it, times its inverse document
    frequency over the meeting's demands, with a slight preference for longer phrases. A
    candidate inside, or containing, one already chosen is skipped.

    Returns ``None`` when the demands carry no word tokens (``w:`` prefixed, as
    ``matching.text.analyze`` makes); the caller then falls back to :func:`theme_words`.
    """
    texts = [(d.text or "").lower() for d in session_demands]
    all_texts = [(d.text or "").lower() for d in meeting_demands] or texts
    cache: dict[str, int] = {}

    def count(s: str) -> int:
        if s not in cache:
            cache[s] = sum(1 for text in all_texts if s in text)
        return cache[s]

    per_demand = []
    for d, text in zip(session_demands, texts, strict=True):
        words = _words_of(d)
        if words is None:
            return None
        per_demand.append(_candidates(words, text, count))
    pool = set().union(*per_demand) if per_demand else set()
    if not pool:
        return ()
    n_all = len(all_texts)
    scored = []
    for cand in pool:
        if n_all >= 4 and count(cand) > n_all / 2:
            continue  # said by most of the meeting's demands: boilerplate, not a topic
        in_session = sum(1 for text in texts if cand in text)
        df = count(cand)
        idf = math.log((1 + n_all) / (1 + df)) + 1
        scored.append((-(in_session * idf * (1 + 0.05 * len(cand))), -len(cand), cand))
    return _best_distinct(scored, n_words)
