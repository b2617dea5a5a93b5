"""Lexical expert ranker: cosine over tf-idf fused with Dirichlet query likelihood.

Built from stored tokens only (see :mod:`matching.text`), held in memory as sparse matrices in
compressed-column form, so a query touches only the columns of its own tokens. Per-query
z-score statistics over all experts are computed from sums over the experts the query touches
plus closed-form terms of the others, so no query does work proportional to the collection
beyond a few vector passes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from matching.records import ExpertDoc, RankedExpert

__all__ = ["EmptyQueryError", "ExpertRanker", "TokenIndex", "zscore"]

_TYPE_CODES = {"w:": 0, "c:": 1, "b:": 2}
_INT32_MAX = np.iinfo(np.int32).max
_BLOCK = 1024  # block size of the top-k pre-selection
# Query tokens in at most this many profiles are always scored: among a few dozen experts a
# token shared by half of them still tells them apart, and such collections are fast anyway.
_MIN_SKIPPED_DF = 50


class EmptyQueryError(ValueError):
    """Raised when a query has no token that could be matched."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "需求文本中没有可用于匹配的关键词，请补充具体的技术问题、产品或工艺名称后再匹配。"
        )


def zscore(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Standardise ``values`` with the mean and deviation of ``values[mask]``.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Scores.
    mask : ndarray of bool, optional
        Entries the statistics are computed on (all by default).

    Returns
    -------
    ndarray of shape (n,)
        ``(values - mean) / std``; a zero deviation is treated as 1.
    """
    ref = values if mask is None else values[mask]
    if ref.size == 0:
        return np.zeros_like(values, dtype=np.float64)
    mean = float(ref.mean())
    std = float(ref.std())
    return (values - mean) / (std if std > 0 else 1.0)


def _token_ids(
    token_lists: Sequence[Sequence[str]], vocabulary: dict[str, int], grow: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return (token ids of all documents end to end, number of ids per document).

    With ``grow``, unknown tokens get the next id in order of first occurrence (added to
    ``vocabulary`` in place); otherwise they are skipped. The lookups run in C (``map`` over a
    dict method feeding ``np.fromiter``), not in a Python loop.
    """
    n_docs = len(token_lists)
    sizes = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_docs)
    total = int(sizes.sum())
    flat = chain.from_iterable(token_lists)
    id_dtype = np.int32 if len(vocabulary) + total < _INT32_MAX else np.int64
    if grow:
        # A missing key is inserted with the current size as its id, inside the lookup.
        ids: defaultdict[str, int] = defaultdict(None, vocabulary)
        ids.default_factory = ids.__len__
        cols = np.fromiter(map(ids.__getitem__, flat), dtype=id_dtype, count=total)
        if len(ids) > len(vocabulary):
            vocabulary.update(ids)
        return cols, sizes
    cols = np.fromiter(map(vocabulary.get, flat, repeat(-1)), dtype=id_dtype, count=total)
    known = cols >= 0
    if not known.all():
        rows = np.repeat(np.arange(n_docs), sizes)[known]
        sizes = np.bincount(rows, minlength=n_docs)
        cols = cols[known]
    return cols, sizes


def _count_matrix(cols: np.ndarray, sizes: np.ndarray, n_cols: int) -> sparse.csr_array:
    """Return the (documents x tokens) count matrix, rows with sorted unique columns."""
    idx_dtype = np.int32 if max(cols.size, n_cols) < _INT32_MAX else np.int64
    indptr = np.zeros(len(sizes) + 1, dtype=idx_dtype)
    np.cumsum(sizes, out=indptr[1:])
    matrix = sparse.csr_array(
        (np.ones(cols.size, dtype=np.float32), cols.astype(idx_dtype, copy=False), indptr),
        shape=(len(sizes), n_cols),
    )
    matrix.sum_duplicates()
    return matrix


@dataclass
class TokenIndex:
    """Token counts of a set of documents in compressed-column form.

    Attributes
    ----------
    counts : scipy.sparse.csc_array of shape (n_docs, n_tokens), float32
    lengths : ndarray of shape (n_docs,)
        Number of tokens per document.
    """

    counts: sparse.csc_array
    lengths: np.ndarray

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], vocabulary: dict[str, int], grow: bool
    ) -> TokenIndex:
        """Count tokens per document, adding new tokens to ``vocabulary`` if ``grow``."""
        lists = token_lists if isinstance(token_lists, list) else list(token_lists)
        matrix = _count_matrix(*_token_ids(lists, vocabulary, grow), len(vocabulary))
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
        return cls(counts=matrix.tocsc(), lengths=lengths)

    def columns(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (rows, counts, position of the column in ``ids``) of the non-zeros in ``ids``."""
        offsets, pos = self.offsets(ids)
        return self.counts.indices[offsets], self.counts.data[offsets], pos

    def offsets(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (offsets into the stored arrays, position in ``ids``) of the columns ``ids``."""
        indptr = self.counts.indptr
        starts = indptr[ids]
        lengths = indptr[ids + 1] - starts
        total = int(lengths.sum())
        pos = np.repeat(np.arange(len(ids)), lengths)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        return offsets, pos

    def norms(self, weights: np.ndarray) -> np.ndarray:
        """Return the L2 norm of each row of ``(1 + ln tf) * weights[token]``."""
        return _row_norms(self.counts.tocsr(), weights)


def _row_norms(csr: sparse.csr_array, weights: np.ndarray) -> np.ndarray:
    """Return the L2 norm of each row of ``(1 + ln tf) * weights[token]`` for a CSR count matrix."""
    values = (1.0 + np.log(csr.data.astype(np.float64))) * weights[csr.indices]
    squares = sparse.csr_array((values * values, csr.indices, csr.indptr), shape=csr.shape)
    return np.sqrt(squares @ np.ones(csr.shape[1]))


@dataclass(frozen=True)
class _Query:
    """A query's scored token ids with their weights and the per-query statistics."""

    ids: np.ndarray  # scored token ids, sorted
    tw: np.ndarray  # query-side type weight of each scored token
    q_norm: float  # L2 norm of tw * idf^p over the scored tokens
    a: np.ndarray  # cosine x q_norm per expert, float32 (0 where no scored token matches)
    b: np.ndarray  # token part of the query likelihood per expert, float32
    n_tokens: float  # sum of tw: weight of the length term
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float


class ExpertRanker(BaseEstimator):
    """Rank experts for a demand's tokens.

    The lexical score is ``cosine_weight * z(A) + (1 - cosine_weight) * z(B)``, z-scored per
    query over the experts that have text, where ``A`` is the cosine between the binary query
    and sublinear tf x idf^``idf_power`` profiles, and ``B`` is Dirichlet-smoothed query
    likelihood with a binary query. Optionally an item-level cosine (best item, mean or top-3)
    is mixed in with ``item_weight``.

    Query tokens found in more than ``max_df`` of the profiles (stop characters such as 的,
    和) are not scored, unless no other known token is left: their postings are most of the
    work of a query and they carry almost no ranking signal.

    Parameters
    ----------
    idf_power : float, default=1.0
        Exponent of ``idf = ln((1 + N) / (1 + df)) + 1`` in the cosine part.
        Defaults were picked by a grid on the nsfc-dev set (docs/matching.md); the grid is flat
        (0.400-0.408 nDCG@10), 1.0 and ``char_weight=1.5`` were picked in most CV folds.
    mu : float, default=200.0
        Dirichlet prior of the query-likelihood part.
    cosine_weight : float, default=0.5
        Share of the cosine part in the lexical score.
    word_weight, char_weight, bigram_weight : float, default=1.0, 1.5, 1.0
        Query-side weights of word, character and character-pair tokens.
    max_df : float, default=0.4
        Largest share of the experts with text a query token may occur in to be scored,
        in (0, 1]; 1.0 scores every token. Tokens found in at most 50 profiles are always
        scored, so small collections are not affected. On nsfc-dev nDCG@10 is flat from 1.0 (0.4043)
        down to 0.3 (0.4027), 0.4 gives 0.4051; at 100k experts it halves the postings a
        query reads.
    item_weight : float, default=0.0
        Share of the item-level score; 0 keeps items for the explanation only.
    item_aggregation : {"max", "mean", "top3"}, default="max"
        How item cosines are combined per expert when ``item_weight > 0``.
    max_terms : int, default=8
        Number of (term, share) pairs kept in each explanation.

    Attributes
    ----------
    vocabulary_ : dict of str to int
    expert_ids_ : list
    n_experts_ : int
    """

    def __init__(
        self,
        idf_power: float = 1.0,
        mu: float = 200.0,
        cosine_weight: float = 0.5,
        word_weight: float = 1.0,
        char_weight: float = 1.5,
        bigram_weight: float = 1.0,
        max_df: float = 0.4,
        item_weight: float = 0.0,
        item_aggregation: str = "max",
        max_terms: int = 8,
    ) -> None:
        self.idf_power = idf_power
        self.mu = mu
        self.cosine_weight = cosine_weight
        self.word_weight = word_weight
        self.char_weight = char_weight
        self.bigram_weight = bigram_weight
        self.max_df = max_df
        self.item_weight = item_weight
        self.item_aggregation = item_aggregation
        self.max_terms = max_terms

    # ------------------------------------------------------------------ fit
    def fit(self, docs: Sequence[ExpertDoc], y: None = None) -> ExpertRanker:
        """Build the index from the experts' stored tokens.

        Parameters
        ----------
        docs : sequence of ExpertDoc
            Experts with their stored profile and item tokens; no text is segmented here.
        y : None
            Ignored.

        Returns
        -------
        self : ExpertRanker
        """
        if self.item_aggregation not in ("max", "mean", "top3"):
            raise ValueError(f"unknown item_aggregation {self.item_aggregation!r}")
        if not 0.0 < self.max_df <= 1.0:
            raise ValueError(f"max_df must be in (0, 1], got {self.max_df!r}")
        profile_lists = [d.tokens for d in docs]
        item_lists = [item.tokens for d in docs for item in d.items]
        vocabulary: dict[str, int] = {}
        # Profile tokens first, then tokens seen only in items: ids in order of first occurrence.
        profile_ids = _token_ids(profile_lists, vocabulary, grow=True)
        item_ids = _token_ids(item_lists, vocabulary, grow=True)
        n_vocab = len(vocabulary)
        n = len(docs)
        self.vocabulary_ = vocabulary
        self.n_experts_ = n
        self.expert_ids_ = [d.id for d in docs]
        self.id_index_ = {eid: i for i, eid in enumerate(self.expert_ids_)}

        profiles = _count_matrix(*profile_ids, n_vocab)
        del profile_ids
        lengths = np.asarray(profiles.sum(axis=1), dtype=np.float64).ravel()
        self.has_text_ = lengths > 0
        self.all_text_ = bool(self.has_text_.all())
        self.n_text_ = int(self.has_text_.sum())
        df = np.bincount(profiles.indices, minlength=n_vocab)
        cf = np.bincount(profiles.indices, weights=profiles.data, minlength=n_vocab)
        self.df_ = df.astype(np.int64)
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1.0
        self.idf_weight_ = self.idf_**self.idf_power
        total = max(float(cf.sum()), 1.0)
        # Tokens seen only in items get the smallest collection probability, never zero.
        self.collection_prob_ = np.maximum(cf, 0.5) / total
        del cf
        profile_norm = _row_norms(profiles, self.idf_weight_)
        # Experts without text have length 0, hence a length term of exactly 0: sums over all
        # experts equal sums over the experts with text.
        self.length_term_ = np.log(self.mu / (lengths + self.mu))
        self.length_term32_ = self.length_term_.astype(np.float32)
        self.length_sums_ = (
            float(self.length_term_.sum()),
            _dot(self.length_term_, self.length_term_),
        )
        # Per-posting values computed once, so a query only slices columns and sums:
        # cosine (1 + ln tf) idf^2p / norm (the query's idf^p folded in), ln(1 + tf / (mu p)).
        # The column form is built from a matrix whose values are the row-form positions, so
        # that the rows of the experts shown can find their postings again (explanations).
        nnz = profiles.nnz
        pos_dtype = np.int32 if nnz < _INT32_MAX else np.int64
        csc = sparse.csr_array(
            (np.arange(nnz, dtype=pos_dtype), profiles.indices, profiles.indptr),
            shape=profiles.shape,
        ).tocsc()
        from_rows = csc.data
        to_cols = np.empty(nnz, dtype=pos_dtype)
        to_cols[from_rows] = np.arange(nnz, dtype=pos_dtype)
        self.row_indptr_ = profiles.indptr
        self.row_tokens_ = profiles.indices
        self.row_postings_ = to_cols
        tf = profiles.data[from_rows]
        del profiles, from_rows, to_cols
        col = np.repeat(np.arange(n_vocab, dtype=csc.indices.dtype), np.diff(csc.indptr))
        norm = np.where(profile_norm > 0, profile_norm, 1.0).astype(np.float32)
        idf2 = (self.idf_weight_ * self.idf_weight_).astype(np.float32)
        cos = np.log(tf)
        cos += 1.0
        cos *= idf2[col]
        cos /= norm[csc.indices]
        ql = tf / (self.mu * self.collection_prob_.astype(np.float32)[col])
        np.log1p(ql, out=ql)
        del col
        shape = (n, n_vocab)
        self.post_cos_ = sparse.csc_array((cos, csc.indices, csc.indptr), shape=shape)
        self.post_ql_ = sparse.csc_array((ql, csc.indices, csc.indptr), shape=shape)
        del csc, tf, cos, ql

        # Items: rows are read for the experts shown (best item); columns only if scored.
        items = _count_matrix(*item_ids, n_vocab)
        del item_ids
        item_norm = _row_norms(items, self.idf_weight_)
        data = np.log(items.data)
        data += 1.0
        data *= self.idf_weight_.astype(np.float32)[items.indices]
        data /= np.where(item_norm > 0, item_norm, 1.0).astype(np.float32)[
            np.repeat(np.arange(items.shape[0]), np.diff(items.indptr))
        ]
        items.data = data
        self.items_csr_ = items
        self.items_csc_ = items.tocsc() if self.item_weight > 0 else None

        tokens = list(vocabulary)
        self.tokens_ = np.empty(n_vocab, dtype=object)
        self.tokens_[:] = tokens
        self.token_type_ = np.fromiter(
            map(_TYPE_CODES.get, map(itemgetter(slice(0, 2)), tokens), repeat(0)),
            dtype=np.int8,
            count=n_vocab,
        )

        counts = np.array([len(d.items) for d in docs], dtype=np.int64)
        self.item_indptr_ = np.concatenate([[0], np.cumsum(counts)])
        self.item_owner_ = np.repeat(np.arange(n), counts)
        self.item_titles_ = [item.title for d in docs for item in d.items]

        self.institution_ids_ = np.array(
            [-1 if d.institution_id is None else d.institution_id for d in docs], dtype=np.int64
        )
        self.is_academician_ = np.array([d.is_academician for d in docs], dtype=bool)
        self.field_members_ = _members(d.field_ids for d in docs)
        self.industry_members_ = _members(d.industry_ids for d in docs)
        return self

    # --------------------------------------------------------------- query
    def _known(self, query_tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return the distinct known token ids of a query (sorted) and their type weights.

        Raises
        ------
        EmptyQueryError
            If the query has no word token: characters alone come from stopwords only.
        """
        tokens = [t for t in query_tokens if t]
        if not any(t[1:2] != ":" or t[0] == "w" for t in tokens):
            raise EmptyQueryError()
        get = self.vocabulary_.get
        ids = np.array(sorted({c for c in map(get, tokens) if c is not None}), dtype=np.int64)
        type_weights = np.array([self.word_weight, self.char_weight, self.bigram_weight])
        return ids, type_weights[self.token_type_[ids]] if ids.size else np.zeros(0)

    def _scored(self, ids: np.ndarray, tw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop the query tokens above ``max_df``, unless none with postings would remain."""
        if self.max_df >= 1.0 or not ids.size:
            return ids, tw
        df = self.df_[ids]
        keep = df <= max(self.max_df * self.n_text_, _MIN_SKIPPED_DF)
        if not (keep & (df > 0)).any():
            return ids, tw
        return ids[keep], tw[keep]

    def _lexical(self, query_tokens: Iterable[str]) -> tuple[_Query, np.ndarray, np.ndarray]:
        """Score the query's postings; return them with all known ids and their type weights."""
        all_ids, all_tw = self._known(query_tokens)
        ids, tw = self._scored(all_ids, all_tw)
        w = tw.astype(np.float32)
        # Column slices of the scored tokens only; sums in float32 over at most a few hundred
        # terms per expert, then float64 for the statistics.
        a32 = self.post_cos_[:, ids] @ w
        b32 = self.post_ql_[:, ids] @ w
        a = a32.astype(np.float64)
        b = b32.astype(np.float64)
        qw = tw * self.idf_weight_[ids]
        q_norm = float(np.sqrt(qw @ qw)) or 1.0
        n_tokens = float(tw.sum())
        # z statistics over the experts with text. Those without text have a = b = 0 and a
        # length term of 0, so plain sums over all experts are sums over the ones with text;
        # B = b + n_tokens * L expands into sums of b, b^2, b L and the fitted sums of L, L^2.
        count = max(self.n_text_, 1)
        sum_l, sum_l2 = self.length_sums_
        mean_a = float(a.sum()) / count
        var_a = _dot(a, a) / count - mean_a * mean_a
        sum_b = float(b.sum()) + n_tokens * sum_l
        mean_b = sum_b / count
        var_b = (
            _dot(b, b) + 2.0 * n_tokens * _dot(b, self.length_term_) + n_tokens**2 * sum_l2
        ) / count - mean_b * mean_b
        query = _Query(
            ids=ids,
            tw=tw,
            q_norm=q_norm,
            a=a32,
            b=b32,
            n_tokens=n_tokens,
            mean_a=mean_a,
            std_a=_std(var_a, mean_a),
            mean_b=mean_b,
            std_b=_std(var_b, mean_b),
        )
        return query, all_ids, all_tw

    def _fused(self, q: _Query, idx: np.ndarray | None = None) -> np.ndarray:
        """Return the fused z-scores of the experts ``idx`` (all experts if None)."""
        a = (q.a if idx is None else q.a[idx]).astype(np.float64)
        b = (q.b if idx is None else q.b[idx]).astype(np.float64)
        length = self.length_term_ if idx is None else self.length_term_[idx]
        cw = self.cosine_weight
        return (
            cw * (a - q.mean_a) / q.std_a
            + (1.0 - cw) * (b + q.n_tokens * length - q.mean_b) / q.std_b
        )

    def _top(self, q: _Query, mask: np.ndarray, final: np.ndarray | None, top: int) -> np.ndarray:
        """Return the (unordered) indices of the ``top`` best experts within ``mask``."""
        n_candidates = int(np.count_nonzero(mask))
        if n_candidates == 0 or top <= 0:
            return np.zeros(0, dtype=np.int64)
        if n_candidates <= top:
            return np.flatnonzero(mask)
        if final is None:
            # The fused score up to its constant, in float32 over all experts in place: cheaper
            # than gathering the candidates (most experts share some token with a query).
            beta = (1.0 - self.cosine_weight) / q.std_b
            final = np.multiply(q.a, np.float32(self.cosine_weight / q.std_a))
            part = np.multiply(q.b, np.float32(beta))
            final += part
            np.multiply(self.length_term32_, np.float32(beta * q.n_tokens), out=part)
            final += part
            # Push the others far down by arithmetic: boolean-mask assignment is ~15x slower.
            final -= np.multiply(~mask, np.float32(1e30), dtype=np.float32)
        else:
            final = np.where(mask, final, -np.inf)
        # The top-th largest block maximum bounds the top-th largest value from below, so only
        # the few values above it need a partition.
        n_blocks = final.size // _BLOCK
        maxima = final[: n_blocks * _BLOCK].reshape(n_blocks, _BLOCK).max(axis=1)
        if final.size > n_blocks * _BLOCK:
            maxima = np.append(maxima, final[n_blocks * _BLOCK :].max())
        if maxima.size >= top:
            bound = np.partition(maxima, maxima.size - top)[maxima.size - top]
            idx = np.flatnonzero(final >= bound)
        else:
            idx = np.arange(final.size)
        return idx[np.argpartition(final[idx], idx.size - top)[idx.size - top :]]

    def _dense(self, q: _Query) -> np.ndarray:
        """Return the lexical score of every expert, item level included."""
        score = self._fused(q)
        if self.item_weight > 0 and self.items_csc_ is not None and self.items_csc_.shape[0]:
            qa = (q.tw * self.idf_weight_[q.ids] / q.q_norm).astype(np.float32)
            item_scores = (self.items_csc_[:, q.ids] @ qa).astype(np.float64)
            mask = None if self.all_text_ else self.has_text_
            z_i, _ = _z(self._aggregate_items(item_scores), mask)
            score = (1.0 - self.item_weight) * score + self.item_weight * z_i
        return score

    def _contributions(
        self, q: _Query, experts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (expert, position in ``q.ids``, share of the fused score) of their postings."""
        starts = self.row_indptr_[experts].astype(np.int64)
        sizes = self.row_indptr_[experts + 1] - starts
        offsets = _ranges(starts, sizes)
        tokens = self.row_tokens_[offsets]
        at = np.minimum(np.searchsorted(q.ids, tokens), max(q.ids.size - 1, 0))
        hit = q.ids[at] == tokens if q.ids.size else np.zeros(tokens.size, dtype=bool)
        rows = np.repeat(experts, sizes)[hit]
        at = at[hit]
        where = self.row_postings_[offsets[hit]]
        cw = self.cosine_weight
        tw = q.tw[at]
        cos = self.post_cos_.data[where]
        ql = self.post_ql_.data[where]
        return rows, at, cw * tw * cos / q.std_a + (1.0 - cw) * tw * ql / q.std_b

    def _best_items(self, experts: np.ndarray, ids: np.ndarray, qa: np.ndarray) -> list[int | None]:
        """Return, per expert, the index of the item closest to the query (None if none match)."""
        best: list[int | None] = [None] * len(experts)
        first = self.item_indptr_[experts]
        count = self.item_indptr_[experts + 1] - first
        n_items = int(count.sum())
        if not ids.size or not n_items:
            return best
        items = _ranges(first, count)
        csr = self.items_csr_
        starts = csr.indptr[items].astype(np.int64)
        sizes = csr.indptr[items + 1] - starts
        offsets = _ranges(starts, sizes)
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

    def _aggregate_items(self, item_scores: np.ndarray) -> np.ndarray:
        n = self.n_experts_
        owner = self.item_owner_
        if self.item_aggregation == "max":
            agg = np.zeros(n)
            np.maximum.at(agg, owner, item_scores)
            return agg
        if self.item_aggregation == "mean":
            sums = np.bincount(owner, weights=item_scores, minlength=n)
            return sums / np.maximum(np.diff(self.item_indptr_), 1)
        # top3: weights 1, 1/2, 1/3 over the expert's best three items.
        order = np.lexsort((-item_scores, owner))
        rank_in_owner = np.arange(len(order)) - self.item_indptr_[owner[order]]
        weight = np.where(rank_in_owner < 3, 1.0 / (rank_in_owner + 1.0), 0.0)
        return np.bincount(owner[order], weights=item_scores[order] * weight, minlength=n)

    def scores(self, query_tokens: Iterable[str]) -> np.ndarray:
        """Return the lexical score of every expert, in ``fit`` order.

        Parameters
        ----------
        query_tokens : iterable of str
            Tokens of the demand (from :func:`matching.text.analyze`).

        Returns
        -------
        ndarray of shape (n_experts,)
            Per-query z-scored lexical scores; experts without text get a value below every
            expert with text.

        Raises
        ------
        EmptyQueryError
            If the query has no word token (none, or characters of stopwords only).
        """
        check_is_fitted(self, "vocabulary_")
        q, _, _ = self._lexical(query_tokens)
        return _floor_empty(self._dense(q), self.has_text_)

    def rank(
        self,
        query_tokens: Iterable[str],
        top: int = 10,
        *,
        field_id: int | None = None,
        industry_id: int | None = None,
        institution_id: int | None = None,
        academician_only: bool = False,
        exclude_ids: Iterable[int | str] = (),
        semantic_scores: np.ndarray | None = None,
        semantic_weight: float = 0.0,
    ) -> list[RankedExpert]:
        """Return the ``top`` experts for a demand, best first, with explanations.

        Parameters
        ----------
        query_tokens : iterable of str
            Tokens of the demand (from :func:`matching.text.analyze`).
        top : int, default=10
            Maximum number of experts returned.
        field_id, industry_id, institution_id : int, optional
            Keep only experts with this field, industry or institution.
        academician_only : bool, default=False
            Keep only academicians.
        exclude_ids : iterable, default=()
            Expert ids never returned (already shortlisted, declined ...).
        semantic_scores : ndarray of shape (n_experts,), optional
            Semantic similarity per expert in ``fit`` order; NaN where unknown.
        semantic_weight : float, default=0.0
            ``final = (1 - w) * z(lexical) + w * z(semantic)`` for experts with a semantic
            score; the others keep ``z(lexical)``.

        Returns
        -------
        list of RankedExpert
            Without semantic fusion, only experts sharing at least one scored token with the
            query.

        Raises
        ------
        EmptyQueryError
            If the query has no word token (none, or characters of stopwords only).
        """
        check_is_fitted(self, "vocabulary_")
        # Kept in order: the explanations join character pairs that are adjacent in the query.
        query_tokens = query_tokens if isinstance(query_tokens, list) else list(query_tokens)
        q, all_ids, all_tw = self._lexical(query_tokens)
        filtered = (
            field_id is not None
            or industry_id is not None
            or institution_id is not None
            or academician_only
        )
        exclude = list(exclude_ids)
        if semantic_scores is not None and semantic_weight > 0:
            sem = np.asarray(semantic_scores, dtype=np.float64)
            if sem.shape != (self.n_experts_,):
                raise ValueError("semantic_scores must have one value per expert")
            has_text = self.has_text_
            known = ~np.isnan(sem) & has_text
            z_lex = zscore(self._dense(q), has_text)
            z_sem = zscore(np.where(known, sem, 0.0), known)
            final = np.where(
                known, (1.0 - semantic_weight) * z_lex + semantic_weight * z_sem, z_lex
            )
            mask = has_text & ((q.a > 0) | known)
        else:
            final = self._dense(q) if self.item_weight > 0 else None
            mask = q.a > 0  # exactly the experts a scored token matches
        if filtered or exclude:
            mask &= self._filter_mask(
                field_id, industry_id, institution_id, academician_only, exclude
            )
        idx = self._top(q, mask, final, top)
        if idx.size == 0:
            return []
        values = self._fused(q, idx) if final is None else final[idx]
        order = np.lexsort((idx, -values))
        idx, values = idx[order], values[order]
        rows, at, contrib = self._contributions(q, idx)
        qa_all = all_tw * self.idf_weight_[all_ids] / q.q_norm
        best = self._best_items(idx, all_ids, qa_all)
        runs = _pair_runs(query_tokens)
        # Pairs above max_df (研究, 技术 ...) are not scored but still join a span where the
        # expert has them, so a span does not stop short of a common pair.
        unscored = all_ids[self.token_type_[all_ids] == _TYPE_CODES["b:"]]
        if unscored.size:  # both sorted
            at_q = np.minimum(np.searchsorted(q.ids, unscored), max(q.ids.size - 1, 0))
            unscored = unscored[q.ids[at_q] != unscored] if q.ids.size else unscored
        out = []
        for i, v, b in zip(idx.tolist(), values.tolist(), best, strict=True):
            sel = rows == i
            links: list[str] = []
            if unscored.size and runs:
                row = self.row_tokens_[self.row_indptr_[i] : self.row_indptr_[i + 1]]
                if row.size:  # sorted token ids of the expert's profile
                    at_row = np.minimum(np.searchsorted(row, unscored), row.size - 1)
                    links = self.tokens_[unscored[row[at_row] == unscored]].tolist()
            terms = _fold_terms(
                self.tokens_[q.ids[at[sel]]].tolist(),
                contrib[sel].tolist(),
                self.max_terms,
                runs,
                links,
            )
            title = None if b is None else self.item_titles_[self.item_indptr_[i] + b]
            out.append(
                RankedExpert(
                    expert_id=self.expert_ids_[i],
                    score=v,
                    terms=terms,
                    best_item=b,
                    best_item_title=title,
                )
            )
        return out

    def _filter_mask(
        self,
        field_id: int | None,
        industry_id: int | None,
        institution_id: int | None,
        academician_only: bool,
        exclude_ids: Iterable[int | str],
    ) -> np.ndarray:
        keep = np.ones(self.n_experts_, dtype=bool)
        if field_id is not None:
            keep &= _member_mask(self.field_members_, field_id, self.n_experts_)
        if industry_id is not None:
            keep &= _member_mask(self.industry_members_, industry_id, self.n_experts_)
        if institution_id is not None:
            keep &= self.institution_ids_ == institution_id
        if academician_only:
            keep &= self.is_academician_
        for eid in exclude_ids:
            i = self.id_index_.get(eid)
            if i is not None:
                keep[i] = False
        return keep


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Return ``concatenate([arange(s, s + k) for s, k in zip(starts, sizes)])`` without a loop."""
    return np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """Return the dot product of two vectors without BLAS.

    A BLAS dot of a collection-sized vector may start threads that spin while the web workers
    hold the cores (measured: 10 ms instead of 0.05 ms per query under load); einsum's own loop
    stays on the calling thread.
    """
    return float(np.einsum("i,i->", x, y))


def _std(variance: float, mean: float) -> float:
    """Return the deviation for a variance computed as E[x^2] - mean^2; ~0 is treated as 1."""
    # E[x^2] - mean^2 cancels: anything at rounding level of mean^2 is a zero deviation.
    if variance <= 1e-12 * max(mean * mean, 1e-300):
        return 1.0
    return math.sqrt(variance)


def _pair_runs(query_tokens: Iterable[str]) -> tuple[tuple[str, ...], ...]:
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


def _spans(runs: Iterable[Sequence[str]], matched: set[str]) -> list[str]:
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


def _fold_terms(
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
        The query's character pairs in runs of consecutive positions (:func:`_pair_runs`).
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
    spans = _spans(runs, pairs) if len(pairs) > 1 else []
    if spans:
        is_span = set(spans)
        for span in spans:
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


def _z(values: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Return the z-scores of ``values`` (statistics over ``mask``) and the deviation used."""
    ref = values if mask is None else values[mask]
    if ref.size == 0:
        return np.zeros_like(values), 1.0
    mean = float(ref.mean())
    std = float(ref.std()) or 1.0
    return (values - mean) / std, std


def _members(id_lists: Iterable[Iterable[int]]) -> dict[int, np.ndarray]:
    out: dict[int, list[int]] = {}
    for i, ids in enumerate(id_lists):
        for fid in ids:
            out.setdefault(fid, []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in out.items()}


def _member_mask(members: dict[int, np.ndarray], key: int, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    idx = members.get(key)
    if idx is not None:
        mask[idx] = True
    return mask


def _floor_empty(score: np.ndarray, has_text: np.ndarray) -> np.ndarray:
    if has_text.all() or not has_text.any():
        return score
    out = score.copy()
    out[~has_text] = float(score[has_text].min()) - 1.0
    return out
