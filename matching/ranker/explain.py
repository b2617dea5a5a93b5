"""Explanations of a ranking: the matched terms of each expert and the item closest to the query.

Display only: nothing here changes a score. The terms come from the postings the expert shares
with the query (:mod:`matching.ranker.postings`), each with its share of the fused lexical score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from matching.fusion import percent
from matching.ranker.postings import TYPE_CODES, Postings, ranges
from matching.ranker.reasons import query_context, readable
from matching.records import RankedExpert

__all__ = ["best_items", "contributions", "fold_terms", "pair_runs", "ranked", "readable", "spans"]

def ranked(
    model: Any,
    q: Any,
    all_ids: np.ndarray,
    all_tw: np.ndarray,
    query_tokens: list[str],
    idx: np.ndarray,
    values: np.ndarray,
    carried: np.ndarray,
    semantic_items: Sequence[int | None],
) -> list[RankedExpert]:
    """Return the explained lines of the experts ``idx`` (rows of a fitted ExpertRanker).

    Parameters
    ----------
    model : ExpertRanker
        Fitted; its postings, token table and item titles are read.
    q : _Query
        The query's scored tokens and statistics.
    all_ids, all_tw : ndarray
        All known token ids of the query (sorted) and their type weights.
    query_tokens : list of str
        The query's tokens in :func:`matching.text.analyze` order.
    idx, values : ndarray
        Rows and final scores of the experts, in display order.
    carried : ndarray of bool
        Whether the semantic part carried each expert.
    semantic_items : sequence of int or None
        Index of the item closest in meaning, per expert.

    Returns
    -------
    list of RankedExpert
    """
    postings = model.postings_
    cw = model.cosine_weight
    rows, at, contrib = contributions(
        postings, q.ids, q.tw, (cw / q.std_a, (1.0 - cw) / q.std_b), idx
    )
    qa_all = all_tw * model.idf_weight_[all_ids] / q.q_norm
    best = best_items(postings, model.item_indptr_, idx, all_ids, qa_all)
    runs = pair_runs(query_tokens)
    # Pairs above max_df (研究, 技术 ...) are not scored but still join a span where the
    # expert has them, so a span does not stop short of a common pair.
    unscored = all_ids[model.token_type_[all_ids] == TYPE_CODES["b:"]]
    if unscored.size:  # both sorted
        at_q = np.minimum(np.searchsorted(q.ids, unscored), max(q.ids.size - 1, 0))
        unscored = unscored[q.ids[at_q] != unscored] if q.ids.size else unscored
    context = query_context(query_tokens)
    unscored_names = model.tokens_[unscored].tolist() if unscored.size and runs else []
    # the postings of each expert, grouped once (rows come expert by expert, in idx order)
    order = np.argsort(rows, kind="stable")
    bounds_of = np.searchsorted(rows[order], idx.astype(rows.dtype, copy=False))
    ends_of = np.searchsorted(rows[order], idx.astype(rows.dtype, copy=False), side="right")
    # each distinct matched token read once from the token table (a string table when mapped)
    used, which = np.unique(at[order], return_inverse=True)
    names = model.tokens_[q.ids[used]].tolist() if used.size else []
    token_at = [names[k] for k in which.ravel().tolist()]
    contrib_of = contrib[order].tolist()
    out = []
    for k, (i, v, b) in enumerate(zip(idx.tolist(), values.tolist(), best, strict=True)):
        lo, hi = int(bounds_of[k]), int(ends_of[k])
        links: list[str] = []
        if unscored.size and runs:
            row = postings.row(i)
            if row.size:  # sorted token ids of the expert's profile
                at_row = np.minimum(np.searchsorted(row, unscored), row.size - 1)
                links = [unscored_names[k] for k in
                         np.flatnonzero(row[at_row] == unscored).tolist()]
        terms = fold_terms(token_at[lo:hi], contrib_of[lo:hi], model.max_terms, runs, links)
        first = int(model.item_indptr_[i])
        title = None if b is None else model.item_titles_[first + b]
        s_item = semantic_items[k]
        chips, minor, minor_share = readable(terms, query_tokens, context)
        out.append(
            RankedExpert(
                expert_id=model.expert_ids_[i].item(),
                score=v,
                terms=terms,
                best_item=b,
                best_item_title=title,
                semantic=bool(carried[k]),
                semantic_item=s_item,
                semantic_item_title=None if s_item is None else model.item_titles_[first + s_item],
                percent=percent(v),
                chips=chips,
                minor_terms=minor,
                minor_share=minor_share,
            )
        )
    return out


def contributions(
    postings: Postings,
    ids: np.ndarray,
    tw: np.ndarray,
    weights: tuple[float, float],
    experts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (expert, position in ``ids``, share of the fused score) of the experts' postings.

    Parameters
    ----------
    postings : Postings
    ids : ndarray
        Sorted scored token ids of the query.
    tw : ndarray
        Query-side type weight of each scored token.
    weights : (float, float)
        Factor of the cosine part and of the query-likelihood part in the fused score
        (the mixing weight divided by the part's deviation).
    experts : ndarray of int
        Rows of the experts explained.

    Returns
    -------
    rows, at, contrib : ndarray
    """
    starts = postings.row_indptr[experts].astype(np.int64)
    sizes = postings.row_indptr[experts + 1] - starts
    offsets = ranges(starts, sizes)
    tokens = postings.row_tokens[offsets]
    at = np.minimum(np.searchsorted(ids, tokens), max(ids.size - 1, 0))
    hit = ids[at] == tokens if ids.size else np.zeros(tokens.size, dtype=bool)
    rows = np.repeat(experts, sizes)[hit]
    at = at[hit]
    where = postings.row_postings[offsets[hit]]
    w = tw[at]
    cos = postings.cos.data[where]
    ql = postings.ql.data[where]
    return rows, at, weights[0] * w * cos + weights[1] * w * ql


def best_items(
    postings: Postings,
    item_indptr: np.ndarray,
    experts: np.ndarray,
    ids: np.ndarray,
    qa: np.ndarray,
) -> list[int | None]:
    """Return, per expert, the index of the item closest to the query in words.

    Parameters
    ----------
    postings : Postings
    item_indptr : ndarray of shape (n_experts + 1,)
        Items of expert ``i`` are rows ``item_indptr[i]:item_indptr[i + 1]``.
    experts : ndarray of int
    ids : ndarray
        Sorted known token ids of the query.
    qa : ndarray
        Unit-length query weight of each of ``ids``.

    Returns
    -------
    list of int or None
        None where no item shares a token with the query.
    """
    best: list[int | None] = [None] * len(experts)
    first = item_indptr[experts]
    count = item_indptr[experts + 1] - first
    n_items = int(count.sum())
    if not ids.size or not n_items:
        return best
    items = ranges(first, count)
    csr = postings.items_csr
    starts = csr.indptr[items].astype(np.int64)
    sizes = csr.indptr[items + 1] - starts
    offsets = ranges(starts, sizes)
    cols = csr.indices[offsets]
    hit = np.minimum(np.searchsorted(ids, cols), ids.size - 1)
    ok = ids[hit] == cols
    owner = np.repeat(np.arange(n_items), sizes)[ok]
    values = np.bincount(
        owner, weights=csr.data[offsets[ok]] * qa[hit[ok]], minlength=n_items
    ).tolist()
    pos = 0
    for k, c in enumerate(count.tolist()):
        mine = values[pos : pos + c]
        pos += c
        if mine and max(mine) > 0:
            best[k] = mine.index(max(mine))  # the first of equal best items
    return best


def pair_runs(query_tokens: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Return the query's character pairs grouped into runs of consecutive text positions.

    :func:`matching.text.analyze` writes the pairs of each stretch of text together and in text
    order, after that stretch's characters, so a run is a maximal sequence of ``b:`` tokens in
    which each pair starts with the last character of the one before. Runs of a single pair
    (nothing to join) and repeated runs are left out.

    Parameters
    ----------
    query_tokens : iterable of str
        The query's tokens in the order :func:`matching.text.analyze` returned them.

    Returns
    -------
    tuple of tuple of str
        Pair texts (two characters each) per run, in query order.
    """
    runs: dict[tuple[str, ...], None] = {}
    current: list[str] = []
    for token in query_tokens:
        pair: str | None = None
        if len(token) == 4 and token.startswith("b:"):
            pair = token[2:]
            if current and current[-1][1] == pair[0]:
                current.append(pair)
                continue
        if len(current) > 1:
            runs[tuple(current)] = None
        current = [pair] if pair else []
    if len(current) > 1:
        runs[tuple(current)] = None
    return tuple(runs)


def spans(runs: Iterable[Sequence[str]], matched: set[str]) -> list[str]:
    """Return the texts of the query stretches made of two or more matched consecutive pairs."""
    out: dict[str, None] = {}
    for run in runs:
        span: list[str] = []
        for pair in (*run, None):  # None closes the last span
            if pair is not None and pair in matched:
                span.append(pair)
                continue
            if len(span) > 1:
                out[span[0] + "".join(p[1] for p in span[1:])] = None
            span = []
    return list(out)


def fold_terms(
    tokens: list[str],
    contrib: list[float],
    max_terms: int,
    runs: Iterable[Sequence[str]] = (),
    links: Iterable[str] = (),
) -> tuple[tuple[str, float], ...]:
    """Gather an expert's matched tokens into readable terms; return the top shares.

    Parameters
    ----------
    tokens : list of str
        The expert's matched query tokens (``w:``, ``c:``, ``b:``), each once.
    contrib : list of float
        Each token's part of the fused score.
    max_terms : int
        Number of terms kept.
    runs : iterable of sequence of str, default=()
        The query's character pairs in runs of consecutive positions (:func:`pair_runs`).
    links : iterable of str, default=()
        Pair tokens (``b:``) the expert has that were not scored: they join matched pairs into
        a span without a share of their own.

    Returns
    -------
    tuple of (str, float)
        Terms with their share of the total, largest first, at most ``max_terms``.

    Notes
    -----
    Matched pairs that are consecutive in the query (``runs``) are joined into one span of the
    query, e.g. 电池 池包 包热 热失 失控 into 电池包热失控, rather than shown as chips that cross
    word boundaries. A matched word or span contained in a longer one folds into it (ties: the
    earliest); the remaining characters and pairs go to the longest term containing them, or
    are shown on their own. Values are only moved, never dropped, so shares of all terms sum
    to 1 before the cut to ``max_terms``.
    """
    total = math.fsum(contrib)
    if total <= 0:
        return ()
    shares: dict[str, float] = {}
    pending: list[tuple[str, float]] = []
    for token, value in zip(tokens, contrib, strict=True):
        if token.startswith(("c:", "b:")):
            pending.append((token, value))
        else:
            key = token[2:] if token.startswith("w:") else token
            shares[key] = shares.get(key, 0.0) + value
    pairs = {token[2:] for token, _ in pending if token.startswith("b:")}
    pairs.update(token[2:] for token in links)
    found = spans(runs, pairs) if len(pairs) > 1 else []
    if found:
        is_span = set(found)
        for span in found:
            shares.setdefault(span, 0.0)
        # A span and a word one of which contains the other fold into the longer one (words
        # alone keep their chips, as without spans). Longest container first, then earliest;
        # owners are strictly longer, so following them ends. A few dozen terms at most.
        by_length = sorted(shares, key=len, reverse=True)  # stable: earliest first among equals
        owner_of: dict[str, str] = {}
        for key in shares:
            for other in by_length:
                if len(other) <= len(key):
                    break
                if key in other and (key in is_span or other in is_span):
                    owner_of[key] = other
                    break
        for key in list(owner_of):
            owner = owner_of[key]
            while owner in owner_of:
                owner = owner_of[owner]
            shares[owner] += shares.pop(key)
    # Pairs first, so that a single character can fold into a pair kept on its own.
    pending.sort(key=lambda tv: tv[0][0] != "b")
    # A character or pair goes to the longest key containing it (ties: the earliest key), keys
    # added on the way included. owners maps each 1- and 2-character substring of the keys to
    # (-length, insertion index, key) of its owner so far: a dict lookup instead of a scan.
    owners: dict[str, tuple[int, int, str]] = {}

    def claim(key: str, index: int) -> None:
        rank = (-len(key), index, key)
        for size in (1, 2):
            for i in range(len(key) - size + 1):
                sub = key[i : i + size]
                current = owners.get(sub)
                if current is None or rank < current:
                    owners[sub] = rank

    for index, key in enumerate(shares):
        claim(key, index)
    for token, value in pending:
        text = token[2:]
        if 1 <= len(text) <= 2:
            found = owners.get(text)
            owner = None if found is None else found[2]
        else:  # not made by analyze(); the plain scan in owner order
            owner = next((w for w in sorted(shares, key=len, reverse=True) if text in w), None)
        if owner is None:
            claim(text, len(shares))
            shares[text] = value
        else:
            shares[owner] += value
    # A span whose pairs all went to longer words keeps 0 and takes no place in the cut.
    ranked = sorted(
        ((term, value) for term, value in shares.items() if value > 0),
        key=lambda kv: (-kv[1], kv[0]),
    )[:max_terms]
    return tuple((term, value / total) for term, value in ranked)
