"""Which matched terms a person reads as reasons: chips, and single characters for one grey line.

Display only, like the rest of :mod:`matching.ranker.explain`: a chip is a content word or
phrase of the demand (two characters or more); the grey line shows only single Chinese
characters that mean something alone (机, 面), never a digit, a lone Latin letter, a unit, a
function character or a fragment; every other matched term is counted in the minor share only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from matching.text import load_stopwords, sub_words

__all__ = ["meaningful_char", "query_boundaries", "query_context", "readable"]

_UNITS = (
    "mm|cm|dm|km|nm|um|μm|m|mg|kg|g|t|ml|l|mpa|kpa|gpa|pa|hz|khz|mhz|ghz|kw|kwh|mw|w|kv|mv|v|"
    "ma|a|db|ppm|ppb|rpm|s|ms|min|h|"
    "℃|°c|%|‰|吨|千克|公斤|克|毫克|米|毫米|厘米|微米|纳米|公里|千米|升|毫升|秒|毫秒|分钟|小时|天|"
    "周|月|年|元|万元|亿元|万|亿|千|百|倍|次|个|件|台|套|项|级|度|伏|安|瓦|千瓦|兆帕|赫兹|分贝|分"
)
#: Not a reason a person reads: numbers, years, units, numbers with units (60, 2014年, mm, 0.1微米).
_NOT_A_REASON = re.compile(rf"(?:[\d.,%~\-]*(?:{_UNITS})?|(?:{_UNITS}))", re.IGNORECASE)
_ASCII = re.compile(r"[0-9a-z.\-]+", re.IGNORECASE)
#: A number run against Chinese text: 10分钟, 2014年, 提前10 (a phrase that begins or ends on a
#: number is a measurement, not a reason; 3D打印 and 5G are whole words and stay chips).
_NUMBER_EDGE = re.compile(r"^[\d.]+[\u4e00-\u9fff]|[\u4e00-\u9fff][\d.]+$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
#: Single characters that mean nothing alone, besides the single-character stopwords and the
#: units: numerals, adverbs, auxiliaries and the affixes of longer words (性 of 一致性, 化, 率).
_EMPTY_CHARS = frozenset(
    "零〇一二两三四五六七八九十百千万亿们也就都还又再很更最已能可会要应需不无没非未每各某本所给让"
    "使如若则即且但因至到进行性化率式型类者第用作成来去做好多少大小高低新内外前后左右间")


def meaningful_char(term: str) -> bool:
    """Whether a single matched character may be shown in the grey line (机, 面; not 6, 与, 分)."""
    return (len(term) == 1 and bool(_HAN.fullmatch(term)) and term not in _EMPTY_CHARS
            and term not in load_stopwords() and not _NOT_A_REASON.fullmatch(term))


def query_boundaries(
    query_tokens: Sequence[str],
) -> tuple[str, frozenset[int], frozenset[int]]:
    """Rebuild the query's text (word characters only) and the offsets where its words begin/end.

    :func:`matching.text.analyze` writes the words first, then for each stretch of text its
    characters followed by its pairs, so the stretches and the word positions inside them can be
    recovered from the tokens alone.

    Parameters
    ----------
    query_tokens : sequence of str
        The query's tokens in :func:`matching.text.analyze` order.

    Returns
    -------
    text : str
        The stretches joined without separators.
    starts, ends : frozenset of int
        Offsets in ``text`` where a word (or a stretch) starts, and where one ends.
    """
    words = [t[2:] for t in query_tokens if t.startswith("w:")]
    parts: list[str] = []
    chars: list[str] = []
    n_pairs = 0
    for token in (*query_tokens, "c:"):  # the sentinel closes the last stretch
        if token.startswith("c:") and n_pairs:
            # the last n_pairs + 1 characters form a stretch; any before it are single ones
            cut = len(chars) - (n_pairs + 1)
            parts.extend(chars[:max(cut, 0)])
            parts.append("".join(chars[max(cut, 0):]))
            chars, n_pairs = [], 0
        if token.startswith("c:"):
            chars.append(token[2:])
        elif token.startswith("b:"):
            n_pairs += 1
    parts.extend(chars[:-1] if chars else [])  # characters left over: single stretches
    text = "".join(parts)
    bounds = {0, len(text)}
    pos = 0
    for part in parts:  # a stretch ends where a non-word character was
        pos += len(part)
        bounds.add(pos)
    starts, ends = set(bounds), set(bounds)
    pointer = 0
    for word in words:
        plain = re.sub(r"[\W_]+", "", word)
        at = text.find(plain, pointer) if plain else -1
        if at >= 0:
            starts.add(at)
            ends.add(at + len(plain))
            pointer = at + len(plain)
    # A phrase must begin where a word begins and end where a word ends: not 检测与 (与 is a
    # stopword, not a word of the query) nor 与涂.
    return text, frozenset(starts), frozenset(ends)


def _is_reason(term: str, words: dict[str, str], text: str,
               bounds: tuple[frozenset[int], frozenset[int]]) -> bool:
    """Whether a matched term reads as a reason: a word, whole words, or a word inside a word."""
    plain = re.sub(r"[\W_]+", "", term)
    if plain in words:
        return True
    if _NUMBER_EDGE.search(plain):
        return False  # 提前10, 10分钟: a phrase ending on a number
    if _ASCII.fullmatch(term):
        return False  # car of CAR-T, ion of Li-ion: only whole ASCII words are reasons
    start = text.find(plain)
    while start >= 0:  # a phrase of whole words: 电池包热失控
        if start in bounds[0] and start + len(plain) in bounds[1]:
            return True
        start = text.find(plain, start + 1)
    # a dictionary word inside one of the query's words: 密度 of 面密度, 控制 of 闭环控制
    return any(plain in word and plain in sub_words(word) for word in words.values())


def query_context(query_tokens: Sequence[str]) -> tuple[str, Any, dict[str, str], dict]:
    """Return what :func:`readable` needs of a query: its text, word boundaries and words,
    and an empty memo of its verdicts on terms (the experts of one ranking share most terms)."""
    text, starts, ends = query_boundaries(query_tokens)
    words = {re.sub(r"[\W_]+", "", t[2:]): t[2:] for t in query_tokens if t.startswith("w:")}
    return text, (starts, ends), words, {}


def readable(
    terms: Sequence[tuple[str, float]],
    query_tokens: Sequence[str],
    context: tuple[str, Any, dict[str, str]] | None = None,
) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...], float]:
    """Split an expert's terms into chips a person reads as reasons and the minor evidence.

    A chip is a term of at least two characters of the demand that is not a number, a year or
    a unit, and that is a word of the demand, a phrase of whole words (电池包热失控) or a
    dictionary word inside one of its words (密度 of 面密度); not a fragment across words (包热
    of 电池包|热失控) or inside one (环控 of 闭环控制), nor a phrase that begins or ends on a
    number (提前10); an ASCII term must be a whole word (not car of CAR-T). A span that is not
    a reason gives its share to the longest reason inside it (在线检测 of 在线检测与). The grey
    line gets only the single characters that mean something alone (:func:`meaningful_char`).

    Parameters
    ----------
    terms : sequence of (str, float)
        Terms and shares from :func:`fold_terms`.
    query_tokens : sequence of str
        The query's tokens in :func:`matching.text.analyze` order.
    context : tuple, optional
        :func:`query_context` of the tokens, when already computed for this query (its memo
        is filled in).

    Returns
    -------
    chips : tuple of (str, float)
    minor : tuple of str
        The meaningful single characters among the other matched terms (largest share first),
        for one grey line; empty when there are none (no line).
    minor_share : float
        The share of the lexical score of all the terms that are not chips (characters,
        numbers, fragments).
    """
    text, bounds, words, memo = context or query_context(query_tokens)
    chips: dict[str, float] = {}
    minor, share = [], 0.0
    for term, value in terms:
        plain = term.replace(" ", "")
        verdict = memo.get(plain)
        if verdict is None:  # (reads as a reason, else the reason trimmed out of it or None)
            reads = _reads_as_reason(plain, words, text, bounds)
            verdict = memo[plain] = (reads, None if reads else _trimmed(plain, words, text,
                                                                          bounds))
        chip = term if verdict[0] else verdict[1]
        if chip is None:
            if meaningful_char(plain):
                minor.append(plain)
            share += value
            continue
        # a trimmed span (在线检测 of 在线检测与) joins a chip that holds it
        home = next((c for c in chips if chip != term and chip in c.replace(" ", "")), chip)
        chips[home] = chips.get(home, 0.0) + value
    ordered = sorted(chips.items(), key=lambda kv: -kv[1])
    return tuple(ordered), tuple(minor), share


def _reads_as_reason(plain: str, words: dict[str, str], text: str,
                     bounds: tuple[frozenset[int], frozenset[int]]) -> bool:
    return (len(plain) >= 2 and not _NOT_A_REASON.fullmatch(plain)
            and _is_reason(plain, words, text, bounds))


def _trimmed(plain: str, words: dict[str, str], text: str,
             bounds: tuple[frozenset[int], frozenset[int]]) -> str | None:
    """Return the longest reason inside a span that is not one (在线检测 of 在线检测与), or None.

    A span of matched pairs can run one character past a word of the demand (与 of 检测与闭环);
    the words it holds are still the reason the expert matched.
    """
    if len(plain) < 3 or _ASCII.fullmatch(plain):
        return None
    for size in range(len(plain) - 1, 1, -1):
        for start in range(len(plain) - size + 1):
            sub = plain[start:start + size]
            if _reads_as_reason(sub, words, text, bounds):
                return sub
    return None
