"""Similar demands: find existing demands close to a new one (duplicates, past solutions)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from matching.ranker import EmptyQueryError, TokenIndex
from matching.records import DemandDoc

__all__ = ["DemandIndex"]


class DemandIndex(BaseEstimator):
    """Cosine similarity between demands over sublinear tf x idf^``idf_power`` token weights.

    Scores are cosines in [0, 1], comparable across queries, so a fixed threshold (e.g. 0.8)
    can flag likely duplicates at intake.

    Parameters
    ----------
    idf_power : float, default=0.75
        Exponent of ``idf = ln((1 + N) / (1 + df)) + 1``.
    min_score : float, default=0.0
        Pairs scoring at or below this are never returned.

    Attributes
    ----------
    vocabulary_ : dict of str to int
    demand_ids_ : list
    """

    def __init__(self, idf_power: float = 0.75, min_score: float = 0.0) -> None:
        self.idf_power = idf_power
        self.min_score = min_score

    def fit(self, docs: Sequence[DemandDoc], y: None = None) -> DemandIndex:
        """Index the demands by the tokens stored with them at write time.

        Parameters
        ----------
        docs : sequence of DemandDoc
            Demands with the tokens stored at write time.
        y : None
            Ignored.

        Returns
        -------
        self : DemandIndex
        """
        vocabulary: dict[str, int] = {}
        index = TokenIndex.build((d.tokens for d in docs), vocabulary, grow=True)
        n = len(docs)
        df = np.diff(index.counts.indptr).astype(np.float64)
        self.vocabulary_ = vocabulary
        self.demand_ids_ = [d.id for d in docs]
        self.index_ = index
        self.idf_weight_ = (np.log((1.0 + n) / (1.0 + df)) + 1.0) ** self.idf_power
        self.norm_ = index.norms(self.idf_weight_)
        return self

    def scores(self, query_tokens: Iterable[str]) -> np.ndarray:
        """Return the cosine of the query with every demand, in ``fit`` order.

        Parameters
        ----------
        query_tokens : iterable of str
            Tokens of the demand whose neighbours are sought (from
            :func:`matching.text.analyze`).

        Returns
        -------
        ndarray of shape (n_demands,)
            Cosines; all zero when no query token is in the vocabulary.

        Raises
        ------
        EmptyQueryError
            If the query has no tokens.
        """
        check_is_fitted(self, "vocabulary_")
        tokens = [t for t in query_tokens if t]
        if not tokens:
            raise EmptyQueryError()
        n = len(self.demand_ids_)
        counts: dict[int, int] = {}
        for t in tokens:
            c = self.vocabulary_.get(t)
            if c is not None:
                counts[c] = counts.get(c, 0) + 1
        if not counts:
            return np.zeros(n)
        ids = np.array(sorted(counts), dtype=np.int64)
        q = (1.0 + np.log([counts[c] for c in ids])) * self.idf_weight_[ids]
        # Unknown tokens still count in the query's norm, at the idf of an unseen token.
        unknown = len({t for t in tokens if t not in self.vocabulary_})
        unseen = (np.log(1.0 + n) + 1.0) ** self.idf_power
        q_norm = float(np.sqrt((q * q).sum() + unknown * unseen**2)) or 1.0
        rows, data, pos = self.index_.columns(ids)
        values = (1.0 + np.log(data.astype(np.float64))) * self.idf_weight_[ids][pos] * q[pos]
        norm = np.where(self.norm_ > 0, self.norm_, 1.0)
        return np.bincount(rows, weights=values, minlength=n) / norm / q_norm

    def similar(
        self, query_tokens: Iterable[str], top: int = 10, *, exclude_ids: Iterable = ()
    ) -> list[tuple[int | str, float]]:
        """Return up to ``top`` (demand_id, score) pairs, most similar first.

        Parameters
        ----------
        query_tokens : iterable of str
            Tokens of the demand.
        top : int, default=10
            Maximum number of pairs.
        exclude_ids : iterable, default=()
            Demand ids to leave out (the demand itself when it is already indexed).

        Returns
        -------
        list of (demand_id, float)
        """
        score = self.scores(query_tokens)
        excluded = set(exclude_ids)
        order = np.lexsort((np.arange(len(score)), -score))
        out: list[tuple[int | str, float]] = []
        for i in order:
            if score[i] <= self.min_score or len(out) >= top:
                break
            if self.demand_ids_[i] not in excluded:
                out.append((self.demand_ids_[i], float(score[i])))
        return out
