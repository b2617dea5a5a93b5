"""Text of the meeting planner: the default analyzer, TF-IDF vectors and session theme words."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.planning.records import MeetingDemand, PlanningError

__all__ = ["Analyzer", "bigram_analyze", "centroid", "display", "theme_words", "vectorize"]

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
        Any text.

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
    scored.sort()
    chosen: list[str] = []
    for _, _, word in scored:
        # a bigram that is part of a chosen word (or the reverse) adds nothing readable
        if any(word in c or c in word for c in chosen):
            continue
        chosen.append(word)
        if len(chosen) == n_words:
            break
    return tuple(chosen)


