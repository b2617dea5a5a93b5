"""Expert ranker: cosine over tf-idf fused with Dirichlet query likelihood, and the e5 signal.

The lexical score of every expert is computed from the postings of the query's tokens
(:mod:`matching.ranker.postings`); per-query z-score statistics over all experts come from sums
over the experts the query touches plus closed-form terms of the others. With stored vectors
(:class:`matching.semantic.ExpertVectors`) the semantic score is fused in
(:func:`matching.fusion.fuse_vectors`, a cascade at scale).
Explanations are built for the experts returned only (:mod:`matching.ranker.explain`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from matching.array_files import IdLookup
from matching.fusion import fuse, fuse_vectors, zscore
from matching.ranker import explain
from matching.ranker.kernels import dense_lexical, lexical_top, moments
from matching.ranker.postings import (
    TYPE_CODES,
    Postings,
    Query,
    TokenIndex,
    aggregate_items,
    attribute_mask,
    count_matrix,
    doc_rows,
    dot,
    floor_empty,
    release,
    std_from_variance,
    token_ids,
    top_indices,
)
from matching.ranker.stored import load_ranker, lookup, save_ranker
from matching.records import ExpertDoc, RankedExpert
from matching.vectors import ExpertVectors  # noqa: TC001 - a documented parameter type

__all__ = ["EmptyQueryError", "ExpertRanker", "TokenIndex", "zscore"]

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


@dataclass(frozen=True)
class _Fused:
    """Final scores of one request: the lexical z, the fused score, the semantic details."""

    final: np.ndarray | None  # None: lexical only, computed lazily for the top experts
    mask: np.ndarray
    z_lex: np.ndarray | None = None
    semantic: bool = False


class ExpertRanker(BaseEstimator):
    """Rank experts for a demand's tokens, optionally fused with stored e5 vectors.

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
        scored, so small collections are not affected.
    item_weight : float, default=0.0
        Share of the lexical item-level score; 0 keeps items for the explanation only.
    item_aggregation : {"max", "mean", "top3"}, default="max"
        How item cosines are combined per expert when ``item_weight > 0``.
    max_terms : int, default=8
        Number of (term, share) pairs kept in each explanation.

    Attributes
    ----------
    vocabulary_ : dict of str to int (a FrozenVocabulary once loaded)
    expert_ids_ : ndarray
    n_experts_ : int
    postings_ : Postings
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
        vocabulary: dict[str, int] = {}
        # Profile tokens first, then tokens seen only in items: ids in order of first occurrence.
        profile_ids = token_ids([d.tokens for d in docs], vocabulary, grow=True)
        item_ids = token_ids([it.tokens for d in docs for it in d.items], vocabulary, grow=True)
        return self.fit_ids(vocabulary, profile_ids, item_ids, doc_rows(docs))

    def fit_ids(self, vocabulary: dict[str, int], profile_ids: tuple[np.ndarray, np.ndarray],
                item_ids: tuple[np.ndarray, np.ndarray], rows: dict) -> ExpertRanker:
        """Build the index from token ids (``(ids end to end, ids per row)`` of the profiles
        and of the items) and the per-expert attributes of :func:`postings.row_attributes`:
        a rebuild that never holds a Python string per stored token (app/services/search)."""
        self._check_params()
        n_vocab = len(vocabulary)
        n = int(profile_ids[1].size)
        self.vocabulary_ = vocabulary
        self.n_experts_ = n
        for name, value in rows.items():
            setattr(self, name, value)
        self.id_index_ = IdLookup(self.expert_ids_)  # id -> row, no dict per process

        profiles = count_matrix(*profile_ids, n_vocab)
        release(profile_ids)  # a list handed over is emptied: its arrays are freed now
        lengths = np.asarray(profiles.sum(axis=1), dtype=np.float64).ravel()
        self.has_text_ = lengths > 0
        self.all_text_ = bool(self.has_text_.all())
        self.n_text_ = int(self.has_text_.sum())
        df = np.bincount(profiles.indices, minlength=n_vocab)
        cf = np.bincount(profiles.indices, weights=profiles.data, minlength=n_vocab)
        self.df_ = df.astype(np.int64)
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1.0
        self.idf_weight_ = self.idf_**self.idf_power
        # Tokens seen only in items get the smallest collection probability, never zero.
        self.cf_total_ = max(float(cf.sum()), 1.0)  # a delta's new tokens use it too
        self.collection_prob_ = np.maximum(cf, 0.5) / self.cf_total_
        del cf
        # Experts without text have length 0, hence a length term of exactly 0: sums over all
        # experts equal sums over the experts with text.
        self.length_term_ = np.log(self.mu / (lengths + self.mu))
        self.length_term32_ = self.length_term_.astype(np.float32)
        self.length_sums_ = (float(self.length_term_.sum()), dot(self.length_term_,
                                                                  self.length_term_))
        items = count_matrix(*item_ids, n_vocab)
        release(item_ids)
        self.postings_ = Postings.build(
            profiles, items, self.idf_weight_, self.collection_prob_, self.mu
        )
        del profiles, items
        self.items_csc_ = self.postings_.items_csr.tocsc() if self.item_weight > 0 else None

        tokens = list(vocabulary)
        self.tokens_ = np.empty(n_vocab, dtype=object)
        self.tokens_[:] = tokens
        self.token_type_ = np.fromiter(
            map(TYPE_CODES.get, map(itemgetter(slice(0, 2)), tokens), repeat(0)),
            dtype=np.int8,
            count=n_vocab,
        )
        return self

    def _check_params(self) -> None:
        if self.item_aggregation not in ("max", "mean", "top3"):
            raise ValueError(f"unknown item_aggregation {self.item_aggregation!r}")
        if not 0.0 < self.max_df <= 1.0:
            raise ValueError(f"max_df must be in (0, 1], got {self.max_df!r}")

    def _explain(self, *args: object) -> list[RankedExpert]:
        return explain.ranked(self, *args)  # rows of this ranker (segments split them)

    def save(self, path: str) -> None:
        """Write the fitted arrays into the new directory ``path``."""
        save_ranker(self, path)

    @classmethod
    def load(cls, path: str, mmap: bool = True) -> ExpertRanker:
        """Read a saved ranker; ``mmap`` shares its pages between the processes of a host."""
        return load_ranker(cls, path, mmap)

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
        found = lookup(self.vocabulary_, tokens)
        ids = np.unique(found[found >= 0]).astype(np.int64)
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

    def _lexical(self, query_tokens: Iterable[str]) -> tuple[Query, np.ndarray, np.ndarray]:
        """Score the query's postings; return them with all known ids and their type weights."""
        all_ids, all_tw = self._known(query_tokens)
        ids, tw = self._scored(all_ids, all_tw)
        w = tw.astype(np.float32)
        # One walk of the scored tokens' postings, float32 sums as a column mat-vec; the z
        # statistics over the experts with text. Those without text have a = b = 0 and a
        # length term of 0, so plain sums over all experts are sums over the ones with text;
        # B = b + n_tokens * L expands into sums of b, b^2, b L and the fitted sums of L, L^2.
        a32, b32 = self.postings_.scores(ids, w)
        sum_a, sum_a2, sum_b, sum_b2, sum_bl = moments(a32, b32, self.length_term_)
        qw = tw * self.idf_weight_[ids]
        q_norm = float(np.sqrt(qw @ qw)) or 1.0
        n_tokens = float(tw.sum())
        count = max(getattr(self, "n_union_", self.n_text_), 1)  # segments: the union
        sum_l, sum_l2 = self.length_sums_
        mean_a = sum_a / count
        var_a = sum_a2 / count - mean_a * mean_a
        mean_b = (sum_b + n_tokens * sum_l) / count
        var_b = (sum_b2 + 2.0 * n_tokens * sum_bl + n_tokens**2 * sum_l2) / count - mean_b * mean_b
        query = Query(
            ids=ids, tw=tw, q_norm=q_norm, a=a32, b=b32, n_tokens=n_tokens,
            mean_a=mean_a, std_a=std_from_variance(var_a, mean_a),
            mean_b=mean_b, std_b=std_from_variance(var_b, mean_b),
        )
        return query, all_ids, all_tw

    def _fused(self, q: Query, idx: np.ndarray | None = None) -> np.ndarray:
        """Return the lexical z-score combination of the experts ``idx`` (all if None)."""
        if idx is None:
            return dense_lexical(q.a, q.b, self.length_term_, self.cosine_weight, q.mean_a,
                                 q.std_a, q.mean_b, q.std_b, q.n_tokens)
        a = q.a[idx].astype(np.float64)
        b = q.b[idx].astype(np.float64)
        length = self.length_term_[idx]
        cw = self.cosine_weight
        return (
            cw * (a - q.mean_a) / q.std_a
            + (1.0 - cw) * (b + q.n_tokens * length - q.mean_b) / q.std_b
        )

    def _lexical_top(self, q: Query, mask: np.ndarray, top: int) -> np.ndarray:
        """Return the (unordered) indices of the ``top`` best experts within ``mask``, lexically."""
        # The fused score up to its constant in float32 and the top experts, in one pass.
        beta = (1.0 - self.cosine_weight) / q.std_b
        return lexical_top(q.a, q.b, self.length_term32_, mask,
                           np.float32(self.cosine_weight / q.std_a), np.float32(beta),
                           np.float32(beta * q.n_tokens), top)

    def _dense(self, q: Query) -> np.ndarray:
        """Return the lexical score of every expert, item level included."""
        score = self._fused(q)
        if self.item_weight > 0 and self.items_csc_ is not None and self.items_csc_.shape[0]:
            qa = (q.tw * self.idf_weight_[q.ids] / q.q_norm).astype(np.float32)
            item_scores = (self.items_csc_[:, q.ids] @ qa).astype(np.float64)
            mask = None if self.all_text_ else self.has_text_
            z_i = zscore(aggregate_items(item_scores, self.item_owner_, self.item_indptr_,
                                         self.item_aggregation), mask)
            score = (1.0 - self.item_weight) * score + self.item_weight * z_i
        return score

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

        Raises EmptyQueryError if the query has no word token, as :meth:`rank`.
        """
        check_is_fitted(self, "vocabulary_")
        q, _, _ = self._lexical(query_tokens)
        return floor_empty(self._dense(q), self.has_text_)

    # ---------------------------------------------------------- fused ranking
    def _final(
        self,
        q: Query,
        semantic_scores: np.ndarray | None,
        semantic_weight: float,
        query_vector: np.ndarray | None,
        vectors: ExpertVectors | None,
    ) -> _Fused:
        """Return the final scores of every expert (None when lexical only) and the mask."""
        has_text = self.has_text_
        if vectors is not None and query_vector is not None and semantic_weight > 0:
            if vectors.embedded.shape[0] != self.n_experts_:
                raise ValueError("vectors must have one profile row per expert")
            z_lex = zscore(self._dense(q), has_text)
            final = fuse_vectors(z_lex, has_text, vectors, query_vector, semantic_weight)
            known = vectors.embedded & has_text
            return _Fused(final, has_text & ((q.a > 0) | known), z_lex, semantic=True)
        if semantic_scores is not None and semantic_weight > 0:
            sem = np.asarray(semantic_scores, dtype=np.float64)
            if sem.shape != (self.n_experts_,):
                raise ValueError("semantic_scores must have one value per expert")
            z_lex = zscore(self._dense(q), has_text)
            final = fuse(z_lex, sem, semantic_weight, has_text, standardised=True).scores
            known = ~np.isnan(sem) & has_text
            return _Fused(final, has_text & ((q.a > 0) | known), z_lex, semantic=True)
        final = self._dense(q) if self.item_weight > 0 else None
        return _Fused(final, q.a > 0)  # exactly the experts a scored token matches

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
        query_vector: np.ndarray | None = None,
        vectors: ExpertVectors | None = None,
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
            Precomputed semantic similarity per expert in ``fit`` order; NaN where unknown.
            Ignored when ``vectors`` and ``query_vector`` are given.
        semantic_weight : float, default=0.0
            ``final = (1 - w) * z(lexical) + w * z(semantic)`` for experts with a semantic
            score; the others keep ``z(lexical)``. The service passes
            :data:`matching.fusion.DEFAULT_SEMANTIC_WEIGHT`.
        query_vector : ndarray of shape (dim,), optional
            The demand's vector (stored, or encoded with the ``query: `` prefix).
        vectors : ExpertVectors, optional
            The experts' stored vectors, rows in ``fit`` order: the recipe's semantic score.

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
        fused = self._final(q, semantic_scores, semantic_weight, query_vector, vectors)
        mask = fused.mask
        exclude = list(exclude_ids)
        if field_id is not None or industry_id is not None or institution_id is not None \
                or academician_only or exclude:
            mask &= attribute_mask(self, field_id, industry_id, institution_id,
                                   academician_only, exclude)
        n_candidates = int(np.count_nonzero(mask))
        if n_candidates == 0 or top <= 0:
            return []
        if n_candidates <= top:
            idx = np.flatnonzero(mask)
        elif fused.final is None:
            idx = self._lexical_top(q, mask, top)
        else:
            idx = top_indices(np.where(mask, fused.final, -np.inf), top)
        values = self._fused(q, idx) if fused.final is None else fused.final[idx]
        order = np.lexsort((idx, -values))
        idx, values = idx[order], values[order]
        carried = np.zeros(idx.size, dtype=bool)
        sem_items: list[int | None] = [None] * idx.size
        if fused.semantic and fused.z_lex is not None:
            # The semantic part carried an expert that words alone would not have listed.
            z_masked = np.where(mask, fused.z_lex, -np.inf)
            bar = z_masked[top_indices(z_masked, min(top, n_candidates))].min()
            carried = fused.z_lex[idx] < bar
            if vectors is not None and query_vector is not None:
                _, where = vectors.best_items(query_vector, idx)
                sem_items = [int(w) if w >= 0 else None for w in where.tolist()]
        return self._explain(q, all_ids, all_tw, query_tokens, idx, values, carried, sem_items)

    def rank_of(
        self,
        query_tokens: Iterable[str],
        expert_ids: Iterable[int | str],
        **kwargs: object,
    ) -> dict[int | str, tuple[int, RankedExpert]]:
        """Return the rank (1-based) and explained line of the given experts, in one pass.

        ``expert_ids``: experts whose place in the full ranking is wanted (unknown ids are left
        out); ``kwargs``: ``semantic_weight``, ``query_vector``, ``vectors``,
        ``semantic_scores`` as for :meth:`rank` (no filters: the place among all experts).

        Returns
        -------
        dict
            ``{expert_id: (rank, RankedExpert)}``; an expert nobody's query token matches and
            without a semantic score is left out.
        """
        check_is_fitted(self, "vocabulary_")
        query_tokens = query_tokens if isinstance(query_tokens, list) else list(query_tokens)
        q, all_ids, all_tw = self._lexical(query_tokens)
        fused = self._final(q, kwargs.get("semantic_scores"),  # type: ignore[arg-type]
                            float(kwargs.get("semantic_weight", 0.0)),  # type: ignore[arg-type]
                            kwargs.get("query_vector"), kwargs.get("vectors"))  # type: ignore[arg-type]
        final = self._fused(q) if fused.final is None else fused.final
        final = np.where(fused.mask, final, -np.inf)
        rows = np.unique(self.id_index_.rows(list(expert_ids)))
        rows = rows[np.isfinite(final[rows])] if rows.size else rows
        if not rows.size:
            return {}
        # Rank = 1 + experts strictly ahead (ties broken by fit order, as in rank()).
        ahead = np.searchsorted(np.sort(-final), -final[rows], side="left")
        ties = np.array([int(np.count_nonzero(final[:r] == final[r])) for r in rows.tolist()])
        lines = self._explain(q, all_ids, all_tw, query_tokens, rows, final[rows],
                              np.zeros(rows.size, dtype=bool), [None] * rows.size)
        return {line.expert_id: (int(a + t) + 1, line)
                for line, a, t in zip(lines, ahead.tolist(), ties.tolist(), strict=True)}
