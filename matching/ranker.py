"""Lexical expert ranker: cosine over tf-idf fused with Dirichlet query likelihood.

Built from stored tokens only (see :mod:`matching.text`), held in memory as sparse matrices in
compressed-column form, so a query touches only the columns of its own tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from matching.records import ExpertDoc, RankedExpert

__all__ = ["EmptyQueryError", "ExpertRanker", "TokenIndex", "zscore"]

_TYPE_CODES = {"w": 0, "c": 1, "b": 2}


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
        cols: list[int] = []
        indptr = [0]
        if grow:
            setdefault = vocabulary.setdefault
            for tokens in token_lists:
                cols.extend([setdefault(t, len(vocabulary)) for t in tokens])
                indptr.append(len(cols))
        else:
            get = vocabulary.get
            for tokens in token_lists:
                cols.extend([c for c in (get(t) for t in tokens) if c is not None])
                indptr.append(len(cols))
        n_docs = len(indptr) - 1
        col_arr = np.asarray(cols, dtype=np.int32)
        ptr = np.asarray(indptr, dtype=np.int64)
        lengths = np.diff(ptr).astype(np.float64)
        matrix = sparse.csr_array(
            (np.ones(len(col_arr), dtype=np.float32), col_arr, ptr),
            shape=(n_docs, len(vocabulary)),
        )
        matrix.sum_duplicates()
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
        coo = self.counts.tocoo()
        values = (1.0 + np.log(coo.data.astype(np.float64))) * weights[coo.col]
        return np.sqrt(
            np.bincount(coo.row, weights=values * values, minlength=self.counts.shape[0])
        )


class ExpertRanker(BaseEstimator):
    """Rank experts for a demand's tokens.

    The lexical score is ``cosine_weight * z(A) + (1 - cosine_weight) * z(B)``, z-scored per
    query over the experts that have text, where ``A`` is the cosine between the binary query
    and sublinear tf x idf^``idf_power`` profiles, and ``B`` is Dirichlet-smoothed query
    likelihood with a binary query. Optionally an item-level cosine (best item, mean or top-3)
    is mixed in with ``item_weight``.

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
        vocabulary: dict[str, int] = {}
        profiles = TokenIndex.build((d.tokens for d in docs), vocabulary, grow=True)
        items = TokenIndex.build(
            (item.tokens for d in docs for item in d.items), vocabulary, grow=True
        )
        n_vocab = len(vocabulary)
        n = len(docs)
        # The profile matrix was built before the item tokens grew the vocabulary.
        profiles.counts.resize((n, n_vocab))
        self.vocabulary_ = vocabulary
        self.n_experts_ = n
        self.expert_ids_ = [d.id for d in docs]
        self.id_index_ = {eid: i for i, eid in enumerate(self.expert_ids_)}
        self.profiles_ = profiles
        self.items_ = items

        df = np.diff(profiles.counts.indptr).astype(np.float64)
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1.0
        self.idf_weight_ = self.idf_**self.idf_power
        cf = np.asarray(profiles.counts.sum(axis=0)).ravel().astype(np.float64)
        total = max(float(cf.sum()), 1.0)
        # Tokens seen only in items get the smallest collection probability, never zero.
        self.collection_prob_ = np.maximum(cf, 0.5) / total
        self.profile_norm_ = profiles.norms(self.idf_weight_)
        self.has_text_ = profiles.lengths > 0
        self.all_text_ = bool(self.has_text_.all())
        self.length_term_ = np.log(self.mu / (profiles.lengths + self.mu))
        # Per-posting values computed once, so a query only gathers and sums:
        # cosine document weight (1 + ln tf) idf^p / norm, and ln(1 + tf / (mu p(w|C))).
        csc = profiles.counts
        col = np.repeat(np.arange(n_vocab), np.diff(csc.indptr))
        tf = csc.data.astype(np.float64)
        norm = np.where(self.profile_norm_ > 0, self.profile_norm_, 1.0)
        self.post_cos_ = ((1.0 + np.log(tf)) * self.idf_weight_[col] / norm[csc.indices]).astype(
            np.float32
        )
        self.post_ql_ = np.log1p(tf / (self.mu * self.collection_prob_[col])).astype(np.float32)
        del col, tf
        # Items: rows are read for the experts shown (best item); columns only if scored.
        item_norm = items.norms(self.idf_weight_)
        item_csc = items.counts
        col = np.repeat(np.arange(n_vocab), np.diff(item_csc.indptr))
        item_csc.data = (
            (1.0 + np.log(item_csc.data.astype(np.float64)))
            * self.idf_weight_[col]
            / np.where(item_norm > 0, item_norm, 1.0)[item_csc.indices]
        ).astype(np.float32)
        self.items_csr_ = item_csc.tocsr()
        self.items_csr_.sort_indices()
        self.items_ = items if self.item_weight > 0 else None

        types = np.zeros(n_vocab, dtype=np.int8)
        for token, col in vocabulary.items():
            types[col] = _TYPE_CODES.get(token[0], 0) if token[1:2] == ":" else 0
        self.token_type_ = types
        self.tokens_ = np.empty(n_vocab, dtype=object)
        for token, col in vocabulary.items():
            self.tokens_[col] = token

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
    def _query(self, query_tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return the distinct known token ids of a query and their type weights."""
        tokens = [t for t in query_tokens if t]
        if not tokens:
            raise EmptyQueryError()
        get = self.vocabulary_.get
        ids = np.array(sorted({c for c in map(get, tokens) if c is not None}), dtype=np.int64)
        type_weights = np.array([self.word_weight, self.char_weight, self.bigram_weight])
        return ids, type_weights[self.token_type_[ids]] if ids.size else np.zeros(0)

    def _lexical(self, query_tokens: Iterable[str]) -> dict:
        """Score all experts; return the scores and what explanations need."""
        ids, tw = self._query(query_tokens)
        n = self.n_experts_
        qa = tw * self.idf_weight_[ids]
        q_norm = float(np.sqrt((qa * qa).sum())) or 1.0
        qa = qa / q_norm
        offsets, pos = self.profiles_.offsets(ids)
        rows = self.profiles_.counts.indices[offsets]
        a_part = self.post_cos_[offsets] * qa[pos]
        b_part = self.post_ql_[offsets] * tw[pos]
        a = np.bincount(rows, weights=a_part, minlength=n).astype(np.float64, copy=False)
        b = np.bincount(rows, weights=b_part, minlength=n).astype(np.float64, copy=False)
        b += float(tw.sum()) * self.length_term_
        mask = None if self.all_text_ else self.has_text_
        cw = self.cosine_weight
        z_a, std_a = _z(a, mask)
        z_b, std_b = _z(b, mask)
        score = cw * z_a + (1.0 - cw) * z_b
        matched = np.zeros(n, dtype=bool)
        matched[rows] = True
        if self.item_weight > 0 and self.items_ is not None and self.items_.counts.shape[0]:
            i_off, i_pos = self.items_.offsets(ids)
            item_scores = np.bincount(
                self.items_.counts.indices[i_off],
                weights=self.items_.counts.data[i_off] * qa[i_pos],
                minlength=self.items_.counts.shape[0],
            )
            z_i, _ = _z(self._aggregate_items(item_scores), mask)
            score = (1.0 - self.item_weight) * score + self.item_weight * z_i
        # Per-posting contribution to the fused score, for the explanation.
        contrib = cw * a_part / std_a + (1.0 - cw) * b_part / std_b
        return {
            "score": score,
            "matched": matched,
            "ids": ids,
            "qa": qa,
            "rows": rows,
            "pos": pos,
            "contrib": contrib,
        }

    def _best_item(self, i: int, ids: np.ndarray, qa: np.ndarray) -> int | None:
        """Return the index of expert ``i``'s item closest to the query, if any matches."""
        start, end = self.item_indptr_[i], self.item_indptr_[i + 1]
        if end <= start:
            return None
        csr = self.items_csr_
        best, best_score = None, 0.0
        for j in range(start, end):
            cols = csr.indices[csr.indptr[j] : csr.indptr[j + 1]]
            hit = np.searchsorted(ids, cols)
            hit = np.minimum(hit, len(ids) - 1)
            ok = ids[hit] == cols
            value = float((csr.data[csr.indptr[j] : csr.indptr[j + 1]][ok] * qa[hit[ok]]).sum())
            if value > best_score:
                best, best_score = int(j - start), value
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
            If the query has no tokens.
        """
        check_is_fitted(self, "vocabulary_")
        score = self._lexical(query_tokens)["score"]
        return _floor_empty(score, self.has_text_)

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
            Without semantic fusion, only experts sharing at least one token with the query.

        Raises
        ------
        EmptyQueryError
            If the query has no tokens.
        """
        check_is_fitted(self, "vocabulary_")
        lex = self._lexical(query_tokens)
        has_text = self.has_text_
        final = lex["score"]
        candidates = has_text & lex["matched"]
        if semantic_scores is not None and semantic_weight > 0:
            sem = np.asarray(semantic_scores, dtype=np.float64)
            if sem.shape != (self.n_experts_,):
                raise ValueError("semantic_scores must have one value per expert")
            known = ~np.isnan(sem) & has_text
            z_lex = zscore(final, has_text)
            z_sem = zscore(np.where(known, sem, 0.0), known)
            final = np.where(
                known, (1.0 - semantic_weight) * z_lex + semantic_weight * z_sem, z_lex
            )
            candidates = has_text & (lex["matched"] | known)
        keep = candidates & self._filter_mask(
            field_id, industry_id, institution_id, academician_only, exclude_ids
        )
        idx = np.flatnonzero(keep)
        if idx.size == 0 or top <= 0:
            return []
        if idx.size > top:
            part = np.argpartition(-final[idx], top - 1)[:top]
            idx = idx[part]
        idx = idx[np.lexsort((idx, -final[idx]))]
        flag = np.zeros(self.n_experts_, dtype=bool)
        flag[idx] = True
        shown = flag[lex["rows"]]
        sub = {k: lex[k][shown] for k in ("rows", "pos", "contrib")}
        return [self._explain(int(i), float(final[i]), lex, sub) for i in idx]

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

    def _explain(self, i: int, score: float, lex: dict, sub: dict) -> RankedExpert:
        sel = sub["rows"] == i
        cols = lex["ids"][sub["pos"][sel]]
        terms = _fold_terms([self.tokens_[c] for c in cols], sub["contrib"][sel], self.max_terms)
        best = self._best_item(i, lex["ids"], lex["qa"]) if lex["ids"].size else None
        title = None if best is None else self.item_titles_[self.item_indptr_[i] + best]
        return RankedExpert(
            expert_id=self.expert_ids_[i],
            score=score,
            terms=terms,
            best_item=best,
            best_item_title=title,
        )


def _fold_terms(
    tokens: list[str], contrib: np.ndarray, max_terms: int
) -> tuple[tuple[str, float], ...]:
    """Attribute character tokens to the matched words containing them; return top shares."""
    total = float(contrib.sum())
    if total <= 0:
        return ()
    shares: dict[str, float] = {}
    pending: list[tuple[str, float]] = []
    for token, value in zip(tokens, contrib, strict=True):
        if token.startswith(("c:", "b:")):
            pending.append((token, float(value)))
        else:
            key = token[2:] if token.startswith("w:") else token
            shares[key] = shares.get(key, 0.0) + float(value)
    # Pairs first, so that a single character can fold into a pair kept on its own.
    pending.sort(key=lambda tv: tv[0][0] != "b")
    for token, value in pending:
        text = token[2:]
        owner = next((w for w in sorted(shares, key=len, reverse=True) if text in w), None)
        if owner is None:
            shares[text] = value
        else:
            shares[owner] += value
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:max_terms]
    return tuple((term, value / total) for term, value in ranked if value > 0)


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
