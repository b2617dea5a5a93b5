"""A base index and a small delta segment ranked as one collection, as search engines do.

The base is a fitted (usually memory-mapped) :class:`~matching.ranker.ExpertRanker`. Experts
saved since it was built form the delta: :func:`fit_delta` fits them against the base's
vocabulary and collection statistics (idf, collection probabilities, ``max_df`` counts), so
their postings carry the values a rebuild would give them up to the drift of those
statistics. :class:`SegmentedRanker` scores both segments, masks the base rows of changed or
deleted experts, and computes the per-query z statistics over the union: its rankings match a
full rebuild's closely (tests/matching/test_segments.py) until the background job folds the
delta into a new base.

Tokens the base has never seen get ids after the base's, with the delta's own df and
collection frequency (what a rebuild would count: the base has none of them).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from matching.array_files import IdLookup, TokenIds
from matching.ranker import ExpertRanker, explain
from matching.ranker.postings import (
    TYPE_CODES,
    Postings,
    count_matrix,
    doc_rows,
    dot,
    token_ids,
)
from matching.ranker.stored import lookup
from matching.records import ExpertDoc, RankedExpert
from matching.vectors import ExpertVectors

__all__ = ["SegmentedRanker", "StackedVectors", "fit_delta"]

_SHARED = ("vocabulary_", "df_", "idf_", "idf_weight_", "collection_prob_", "tokens_",
           "token_type_", "n_text_")


class _ExtendedVocabulary(TokenIds):
    """The base's vocabulary and the tokens only the delta has (ids after the base's)."""

    def __init__(self, base: Any, extra: dict[str, int]) -> None:
        self.base, self.extra = base, extra

    def __len__(self) -> int:
        return len(self.base) + len(self.extra)

    def ids_of(self, tokens: list[str]) -> np.ndarray:
        out = lookup(self.base, tokens)
        for n in np.flatnonzero(out < 0).tolist():
            out[n] = self.extra.get(tokens[n], -1)
        return out



class _ExtendedTable:
    """The base's token table and the delta's new tokens, indexed as one."""

    def __init__(self, base: Any, extra: list[str]) -> None:
        self.base, self.n_base = base, len(base)
        self.extra = np.empty(len(extra), dtype=object)
        self.extra[:] = extra

    def __getitem__(self, ids: Any) -> np.ndarray:
        ids = np.asarray(ids)
        out = np.empty(ids.shape, dtype=object)
        old = ids < self.n_base
        if old.any():
            out[old] = self.base[ids[old]]
        out[~old] = self.extra[ids[~old] - self.n_base]
        return out


def _extend(base: ExpertRanker, delta: ExpertRanker, docs: Sequence[ExpertDoc]
            ) -> tuple[Any, dict[str, int]]:
    """Give ``delta`` the base's vocabulary plus the delta's new tokens, with their statistics
    (a new token's df and cf are the delta's own, as a full rebuild would count them).

    Returns the delta's vocabulary and a plain ``{token: id}`` dict of the tokens the delta's
    rows hold: each distinct token is looked up in the (frozen) base vocabulary once, and the
    rows are then counted against the small dict in C (a delta of 1,100 experts holds ~4M
    stored tokens but ~100k distinct ones; three searches of every token took 4 s).
    """
    n_vocab = int(base.token_type_.size)
    distinct = list(dict.fromkeys(chain(
        chain.from_iterable(d.tokens for d in docs),
        chain.from_iterable(it.tokens for d in docs for it in d.items))))
    known = lookup(base.vocabulary_, distinct)
    local = dict(zip(distinct, known.tolist(), strict=True))
    new = [t for t, i in local.items() if i < 0]
    extra = {t: n_vocab + n for n, t in enumerate(new)}
    local.update(extra)
    if not extra:
        for name in _SHARED:
            setattr(delta, name, getattr(base, name))
        return base.vocabulary_, local
    vocabulary = _ExtendedVocabulary(base.vocabulary_, extra)
    delta.vocabulary_ = vocabulary
    delta.tokens_ = _ExtendedTable(base.tokens_, new)
    delta.token_type_ = np.concatenate([base.token_type_, np.array(
        [TYPE_CODES.get(t[:2], 0) for t in new], dtype=base.token_type_.dtype)])
    delta.n_text_ = base.n_text_
    return vocabulary, local


def fit_delta(base: ExpertRanker, docs: Sequence[ExpertDoc]) -> ExpertRanker:
    """Fit ``docs`` as a segment of ``base``: its vocabulary and statistics, their own rows.

    Tokens the base has never seen get ids after the base's, with the df and collection
    frequency of the delta (exact: the base has none of them).
    """
    delta = ExpertRanker(**base.get_params())
    vocabulary, local = _extend(base, delta, docs)
    n_vocab = len(vocabulary)
    n = len(docs)
    profiles = count_matrix(*token_ids([d.tokens for d in docs], local, grow=False), n_vocab)
    items = count_matrix(*token_ids([it.tokens for d in docs for it in d.items],
                                    local, grow=False), n_vocab)
    n_base = int(base.token_type_.size)
    if n_vocab > n_base:  # statistics of the new tokens from the delta alone
        df_new = np.bincount(profiles.indices, minlength=n_vocab)[n_base:]
        cf_new = np.bincount(profiles.indices, weights=profiles.data, minlength=n_vocab)[n_base:]
        delta.df_ = np.concatenate([base.df_, df_new.astype(base.df_.dtype)])
        delta.idf_ = np.concatenate([base.idf_, np.log((1.0 + base.n_experts_)
                                                       / (1.0 + df_new)) + 1.0])
        delta.idf_weight_ = np.concatenate([base.idf_weight_,
                                            delta.idf_[n_base:] ** base.idf_power])
        total = getattr(base, "cf_total_", 1.0)
        delta.collection_prob_ = np.concatenate([base.collection_prob_,
                                                 np.maximum(cf_new, 0.5) / total])
    lengths = np.asarray(profiles.sum(axis=1), dtype=np.float64).ravel()
    delta.n_experts_ = n
    delta.has_text_ = lengths > 0
    delta.all_text_ = bool(delta.has_text_.all())
    delta.length_term_ = np.log(base.mu / (lengths + base.mu))
    delta.length_term32_ = delta.length_term_.astype(np.float32)
    delta.length_sums_ = (float(delta.length_term_.sum()),
                          dot(delta.length_term_, delta.length_term_))
    delta.postings_ = Postings.build(profiles, items, delta.idf_weight_,
                                     delta.collection_prob_, base.mu)
    delta.items_csc_ = delta.postings_.items_csr.tocsc() if base.item_weight > 0 else None
    for name, value in doc_rows(docs).items():
        setattr(delta, name, value)
    delta.id_index_ = IdLookup(delta.expert_ids_)
    return delta


class _StackedPostings:
    def __init__(self, base: Postings, delta: Postings, keep: np.ndarray) -> None:
        masked = np.flatnonzero(~keep)
        self.base, self.delta, self.masked = base, delta, masked

    def scores(self, ids: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return :meth:`Postings.scores` of both segments end to end, masked base rows 0."""
        old = ids < self.base.cos.shape[1]  # tokens only the delta has: no base postings
        a, b = self.base.scores(ids[old], w[old])
        a[self.masked] = 0  # fresh vectors: the masked rows of the base count for nothing
        b[self.masked] = 0
        da, db = self.delta.scores(ids, w)
        return np.concatenate([a, da]), np.concatenate([b, db])


def _groups(base: dict, delta: dict, keep: np.ndarray, offset: int) -> dict[int, np.ndarray]:
    out = {}
    for key in set(base) | set(delta):
        rows = base.get(key, np.zeros(0, np.int64))
        out[key] = np.concatenate([rows[keep[rows]], delta.get(key, np.zeros(0, np.int64))
                                   + offset]).astype(np.int64)
    return out


class SegmentedRanker(ExpertRanker):
    """A base ranker and a delta segment (rows after the base's), ranked as one collection.

    ``masked``: base rows whose expert changed (it is in the delta) or was deleted; they are
    treated as experts without text and are never returned. Rows of this ranker are the
    base's rows, then the delta's (``base.n_experts_ + k`` is the delta's row ``k``).
    """

    def __init__(self, base: ExpertRanker, delta: ExpertRanker, masked: np.ndarray) -> None:
        super().__init__(**base.get_params())
        self.base, self.delta = base, delta
        n_base = base.n_experts_
        keep = np.ones(n_base, dtype=bool)
        keep[np.asarray(masked, dtype=np.int64)] = False
        self.keep = keep
        for name in _SHARED:  # the delta's: the base's, plus its new tokens
            setattr(self, name, getattr(delta, name))
        self.base_view = copy.copy(base)  # the base's rows, explained with those tables
        for name in _SHARED:
            setattr(self.base_view, name, getattr(delta, name))
        self.n_experts_ = n_base + delta.n_experts_
        self.has_text_ = np.concatenate([base.has_text_ & keep, delta.has_text_])
        self.all_text_ = bool(self.has_text_.all())
        # z statistics over the union; max_df keeps the base's counts (the base's df_)
        self.length_term_ = np.concatenate([np.where(keep, base.length_term_, 0.0),
                                            delta.length_term_])
        self.length_term32_ = self.length_term_.astype(np.float32)
        self.length_sums_ = (float(self.length_term_.sum()),
                             dot(self.length_term_, self.length_term_))
        self.n_union_ = int(self.has_text_.sum())
        ids = np.asarray(base.expert_ids_).copy()
        if ids.dtype.kind in "iu":
            ids[~keep] = -1  # a masked row is never found by its id
        self.expert_ids_ = np.concatenate([ids, np.asarray(delta.expert_ids_, ids.dtype)])
        self.id_index_ = IdLookup(self.expert_ids_)
        self.postings_ = _StackedPostings(base.postings_, delta.postings_, keep)
        self.items_csc_ = None
        self.item_weight = 0.0  # item-level lexical scores are not stacked (the service's 0)
        self.item_indptr_ = np.concatenate([np.asarray(base.item_indptr_),
                                            np.asarray(delta.item_indptr_[1:])
                                            + int(base.item_indptr_[-1])])
        self.institution_ids_ = np.concatenate([base.institution_ids_, delta.institution_ids_])
        self.is_academician_ = np.concatenate([base.is_academician_ & keep,
                                               delta.is_academician_])
        self.field_members_ = _groups(base.field_members_, delta.field_members_, keep, n_base)
        self.industry_members_ = _groups(base.industry_members_, delta.industry_members_, keep,
                                         n_base)

    def __repr__(self) -> str:
        return (f"SegmentedRanker(base={self.base.n_experts_} rows, "
                f"delta={self.delta.n_experts_} rows, masked={int((~self.keep).sum())})")

    def _explain(self, q: Any, all_ids: np.ndarray, all_tw: np.ndarray, query_tokens: list[str],
                 idx: np.ndarray, values: np.ndarray, carried: np.ndarray,
                 semantic_items: Sequence[int | None]) -> list[RankedExpert]:
        n_base = self.base.n_experts_
        in_base = idx < n_base
        lines: list[RankedExpert | None] = [None] * idx.size
        for part, sel, offset in ((self.base_view, np.flatnonzero(in_base), 0),
                                  (self.delta, np.flatnonzero(~in_base), n_base)):
            if not sel.size:
                continue
            got = explain.ranked(part, q, all_ids, all_tw, query_tokens, idx[sel] - offset,
                                 values[sel], carried[sel], [semantic_items[k] for k in sel])
            for k, line in zip(sel.tolist(), got, strict=True):
                lines[k] = line
        return lines  # type: ignore[return-value]


class StackedVectors:
    """The base's :class:`ExpertVectors` and the delta's, one row per row of the segments.

    The cascade's z statistics come from the base's fixed sample; the delta's scores are exact.
    """

    def __init__(self, base: ExpertVectors, delta: ExpertVectors, keep: np.ndarray) -> None:
        self.base, self.delta, self.n_base = base, delta, int(keep.size)
        self.embedded = np.concatenate([base.embedded & keep, delta.embedded])
        self.exact, self.item_share = base.exact, base.item_share

    @property
    def n_embedded(self) -> int:
        """Return how many experts have a profile vector."""
        return int(self.embedded.sum())

    def _both(self, name: str, query_vector: np.ndarray) -> np.ndarray:
        return np.concatenate([getattr(self.base, name)(query_vector),
                               getattr(self.delta, name)(query_vector)])

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return every expert's exact semantic score (NaN where not embedded)."""
        return self._both("scores", query_vector)

    def profile_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return every expert's profile cosine."""
        return self._both("profile_scores", query_vector)

    def approximate_profile_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return the cascade's first-stage scores (the delta's are exact)."""
        base = self.base.approximate_profile_scores(query_vector) if not self.base.exact \
            else self.base.profile_scores(query_vector)
        return np.concatenate([base, self.delta.profile_scores(query_vector)])

    def statistics(self, query_vector: np.ndarray) -> tuple[float, float]:
        """Return the base sample's z statistics of the semantic score."""
        return self.base.statistics(query_vector)

    def _split(self, name: str, query_vector: np.ndarray, rows: np.ndarray, **kw: Any) -> Any:
        rows = np.asarray(rows, dtype=np.int64)
        in_base = rows < self.n_base
        parts = [getattr(self.base, name)(query_vector, rows[in_base], **kw),
                 getattr(self.delta, name)(query_vector, rows[~in_base] - self.n_base, **kw)]
        single = not isinstance(parts[0], tuple)
        parts = [(p,) if single else p for p in parts]
        outs = []
        for a, b in zip(parts[0], parts[1], strict=True):
            out = np.empty(rows.size, dtype=np.result_type(a, b))
            out[in_base], out[~in_base] = a, b
            outs.append(out)
        return outs[0] if single else tuple(outs)

    def profile_scores_of(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the exact profile cosines of the experts ``rows``."""
        return self._split("profile_scores_of", query_vector, rows)

    def best_items(self, query_vector: np.ndarray, rows: np.ndarray,
                   with_index: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Return (best item cosine, its index among the expert's items) of ``rows``."""
        return self._split("best_items", query_vector, rows, with_index=with_index)

    def combine(self, profile: np.ndarray, best: np.ndarray) -> np.ndarray:
        """Return the recipe score from profile and best item cosines."""
        return self.base.combine(profile, best)
