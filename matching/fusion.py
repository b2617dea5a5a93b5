"""Fusing the lexical and semantic signals, and choosing the fusion weight honestly.

Both signals are z-scored per demand over the candidate experts, then mixed convexly:
``(1 - w) * z(lexical) + w * z(semantic)``. The weight ``w`` is chosen by cross-validation over
demands (:func:`choose_weight_cv`), never on the demands it is scored on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold

from matching.vectors import ExpertVectors

__all__ = [
    "DEFAULT_SEMANTIC_WEIGHT",
    "FusedScores",
    "WeightChoice",
    "zscore",
    "standardise",
    "mix",
    "fuse",
    "fuse_vectors",
    "percent",
    "choose_weight_cv",
    "cv_select",
]

#: Semantic weight the service uses, chosen by 5-fold cross-validation (10 fold seeds) over the
#: demands of nsfc-dev (see docs/matching.md for the table and the command that produced it).
DEFAULT_SEMANTIC_WEIGHT: float = 0.75


#: Experts whose item evidence is scored exactly when the semantic cascade is on.
CASCADE_CANDIDATES: int = 400

#: Final score (a per-demand z-score) shown as 100 on the 0-100 scale; see :func:`percent`.
FULL_SCALE_Z: float = 6.0


def percent(score: float) -> int:
    """Return a final score on the 0-100 scale a person reads.

    The final score is a z-score over all experts for this demand: 0 is an average expert,
    each point one standard deviation above the average. The scale is linear from 0 (average
    or below) to 100 at :data:`FULL_SCALE_Z` deviations or more.

    Parameters
    ----------
    score : float

    Returns
    -------
    int
    """
    if not math.isfinite(score) or score <= 0:  # a Python float: math, not numpy (per line)
        return 0
    return int(round(100.0 * min(score / FULL_SCALE_Z, 1.0)))


@dataclass(frozen=True)
class FusedScores:
    """Fused scores for one demand.

    Attributes
    ----------
    scores : ndarray of shape (n_experts,)
        Higher is better; finite wherever the lexical score is finite.
    semantic_missing : ndarray of shape (n_experts,), bool
        True where the semantic score was NaN, so the expert kept its lexical z-score only.
    """

    scores: np.ndarray
    semantic_missing: np.ndarray


@dataclass(frozen=True)
class WeightChoice:
    """Outcome of :func:`choose_weight_cv`.

    Attributes
    ----------
    weight : float
        Weight to use from now on: the median of the per-fold choices.
    fold_weights : tuple of float
        Weight chosen on the training folds of each split.
    cv_score : float
        Mean per-query score when each query is scored with the weight chosen without it.
    in_sample_weight : float
        Weight with the best mean over all queries (optimistic).
    in_sample_score : float
        That best mean.
    mean_scores : dict of float to float
        Mean per-query score of every candidate weight over all queries.
    cv_per_query : ndarray of shape (n_queries,)
        Each query's out-of-fold score (for paired comparisons and per-source breakdowns).
    """

    weight: float
    fold_weights: tuple[float, ...]
    cv_score: float
    in_sample_weight: float
    in_sample_score: float
    mean_scores: dict[float, float]
    cv_per_query: np.ndarray


def zscore(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Standardise scores of one query, ignoring NaN: the one z-score of the package.

    Parameters
    ----------
    x : array-like of shape (n_experts,)
        NaN marks a missing score; it stays NaN.
    mask : ndarray of bool, optional
        Entries the mean and deviation are computed on (with the finite ones); every finite
        entry is standardised with them. All entries by default.

    Returns
    -------
    ndarray of shape (n_experts,), float64
        ``(x - mean) / std``; all zeros when the reference entries do not vary (or are fewer
        than two), so a constant signal adds nothing instead of dividing by zero.
    """
    arr = np.asarray(x, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    finite = np.isfinite(arr)
    ref = finite if mask is None else finite & mask
    if ref.sum() < 2:
        out[finite] = 0.0
        return out
    vals = arr[ref]
    std = vals.std()
    out[finite] = 0.0 if std <= 1e-12 else (arr[finite] - vals.mean()) / std
    return out


def standardise(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Return ``(x - mean) / std`` with statistics computed elsewhere (a sample, closed form)."""
    return (np.asarray(x, dtype=np.float64) - mean) / (std if std > 1e-12 else 1.0)


def mix(z_lexical: np.ndarray, z_semantic: np.ndarray, weight: float) -> np.ndarray:
    """Return ``(1 - weight) z_lexical + weight z_semantic``; ``z_lexical`` where it is NaN."""
    return np.where(
        np.isnan(z_semantic), z_lexical, (1.0 - weight) * z_lexical + weight * z_semantic
    )


def fuse(
    lexical: np.ndarray,
    semantic: np.ndarray | None,
    weight: float,
    mask: np.ndarray | None = None,
    standardised: bool = False,
) -> FusedScores:
    """Mix per-query z-scores of the two signals: ``(1 - weight) z(lex) + weight z(sem)``.

    Parameters
    ----------
    lexical : array-like of shape (n_experts,)
        Lexical scores of one demand.
    semantic : array-like of shape (n_experts,) or None
        Semantic scores (cosines); NaN where an expert has no vector yet. None or ``weight == 0``
        returns the lexical z-scores.
    weight : float
        Semantic weight in [0, 1].
    mask : ndarray of bool, optional
        Experts the z statistics are computed on (those with text); all by default.
    standardised : bool, default=False
        ``lexical`` is already a z-score: used as it is.

    Returns
    -------
    FusedScores
        Experts whose semantic score is NaN keep ``z(lex)`` alone (not shrunk by ``1 - weight``)
        and are flagged in ``semantic_missing``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    z_lex = np.asarray(lexical, dtype=np.float64) if standardised else zscore(lexical, mask)
    if semantic is None:
        return FusedScores(z_lex, np.ones(z_lex.shape, dtype=bool))
    sem = np.asarray(semantic, dtype=np.float64)
    if sem.shape != z_lex.shape:
        raise ValueError(f"shape mismatch: lexical {z_lex.shape}, semantic {sem.shape}")
    missing = ~np.isfinite(sem)
    if weight == 0.0:
        return FusedScores(z_lex, missing)
    if mask is not None:
        missing |= ~mask
        sem = np.where(missing, np.nan, sem)
    return FusedScores(mix(z_lex, zscore(sem), weight), missing)


def fuse_vectors(
    z_lexical: np.ndarray,
    has_text: np.ndarray,
    vectors: ExpertVectors,
    query_vector: np.ndarray,
    weight: float,
    candidates: int = CASCADE_CANDIDATES,
) -> np.ndarray:
    """Return every expert's final score: lexical z fused with the recipe's semantic z.

    Up to ``vectors.exact_below`` experts every semantic score is exact. Above it, a cascade:
    profile cosines in a principal subspace stand in for every expert's semantic score, z
    statistics come from the fixed sample of :class:`~matching.vectors.ExpertVectors`, and
    the ``candidates`` best experts by that estimate get their exact score (full profile
    cosine and item evidence).

    Parameters
    ----------
    z_lexical : ndarray of shape (n_experts,)
        Lexical z-scores of the demand.
    has_text : ndarray of shape (n_experts,), bool
        Experts with text (the others are never fused).
    vectors : ExpertVectors
    query_vector : ndarray of shape (dim,)
    weight : float
        Semantic weight in [0, 1].
    candidates : int, default=CASCADE_CANDIDATES

    Returns
    -------
    ndarray of shape (n_experts,), float64
        ``z_lexical`` where the expert has no vector.
    """
    from matching.ranker.postings import top_indices

    known = vectors.embedded & has_text
    if vectors.exact:
        sem = np.where(known, vectors.scores(query_vector), np.nan)
        return mix(z_lexical, zscore(sem), weight)
    mean, std = vectors.statistics(query_vector)
    profile = vectors.approximate_profile_scores(query_vector)
    final = mix(z_lexical, standardise(np.where(known, profile, np.nan), mean, std), weight)
    pool = np.where(has_text, final, -np.inf)
    cand = top_indices(pool, min(candidates, pool.size))
    cand = cand[known[cand]]
    best, _ = vectors.best_items(query_vector, cand)
    exact = vectors.combine(vectors.profile_scores_of(query_vector, cand), best)
    final[cand] = mix(z_lexical[cand], standardise(exact, mean, std), weight)
    return final


def choose_weight_cv(
    per_query_eval_fn: Callable[[float], np.ndarray],
    weights: Sequence[float],
    n_splits: int = 5,
    random_state: int | None = 0,
) -> WeightChoice:
    """Choose a fusion weight by k-fold cross-validation over queries.

    For each split, the weight with the best mean score on the training folds is applied to the
    held-out fold; the out-of-fold scores of all queries are averaged.

    Parameters
    ----------
    per_query_eval_fn : callable
        ``per_query_eval_fn(weight) -> ndarray of shape (n_queries,)``: the metric of every query
        (e.g. nDCG@10) when ranking with that weight. Called once per weight.
    weights : sequence of float
        Candidates; ties go to the first listed.
    n_splits : int, default=5
    random_state : int or None, default=0
        Seeds the shuffle of queries into folds.

    Returns
    -------
    WeightChoice
    """
    weights = [float(w) for w in weights]
    if not weights:
        raise ValueError("weights must not be empty")
    table = np.vstack([np.asarray(per_query_eval_fn(w), dtype=np.float64) for w in weights])
    fold_best, oof = cv_select(table, n_splits=n_splits, random_state=random_state)
    fold_weights = [weights[i] for i in fold_best]
    means = table.mean(axis=1)
    best_all = int(np.argmax(means))
    return WeightChoice(
        weight=float(np.median(fold_weights)),
        fold_weights=tuple(fold_weights),
        cv_score=float(oof.mean()),
        in_sample_weight=weights[best_all],
        in_sample_score=float(means[best_all]),
        mean_scores={w: float(m) for w, m in zip(weights, means, strict=True)},
        cv_per_query=oof,
    )


def cv_select(
    table: np.ndarray, n_splits: int = 5, random_state: int | None = 0
) -> tuple[list[int], np.ndarray]:
    """Pick the best row of a (candidates x queries) score table by k-fold CV over queries.

    Parameters
    ----------
    table : ndarray of shape (n_candidates, n_queries)
        Per-query metric of each candidate setting (any grid, flattened to rows).
    n_splits : int, default=5
    random_state : int or None, default=0

    Returns
    -------
    fold_best : list of int
        Row chosen on the training folds of each split; ties go to the lowest row.
    oof : ndarray of shape (n_queries,)
        Each query's score under the row chosen without it.
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("table must be a non-empty 2-D array")
    n_queries = table.shape[1]
    if n_queries < n_splits:
        raise ValueError(f"{n_queries} queries cannot be split into {n_splits} folds")
    oof = np.empty(n_queries)
    fold_best: list[int] = []
    splitter = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    for train, test in splitter.split(np.arange(n_queries)):
        best = int(np.argmax(table[:, train].mean(axis=1)))
        fold_best.append(best)
        oof[test] = table[best, test]
    return fold_best, oof
