"""The experts' stored vectors and the recipe's semantic score: profile and best item.

Vectors come from :mod:`matching.semantic` (the ``query: `` prefix on both sides, see
:data:`matching.semantic.RECIPE`); this module only scores them, with numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ITEM_SHARE", "ExpertVectors", "quantize", "semantic_scores"]

#: Share of the best item's cosine in an expert's semantic score, chosen by 5-fold CV with 10
#: fold seeds on nsfc-dev (docs/matching.md).
ITEM_SHARE = 0.5
#: Rows converted to float32 at a time when a whole float16 matrix is scored.
_BLOCK_ROWS = 8192


def quantize(rows: np.ndarray, centre: np.ndarray | float = 0.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``rows - centre`` as int8 and one float32 scale per row.

    ``rows ~ centre + q * scale[:, None]``; the scale is the largest magnitude of the row's
    difference / 127 (rounding moves a cosine by at most half a step per component). On the
    shipped e5 vectors, centred on the profiles' mean, a semantic score moved by 5e-5 on
    average (3e-4 at most, the scores' spread per query is 0.011) and the semantic top 10
    agreed at 99.4 % with float16 items. Done in blocks: no float32 copy of the whole matrix.
    """
    out = np.empty(rows.shape, dtype=np.int8)
    scale = np.empty(rows.shape[0], dtype=np.float32)
    for lo in range(0, rows.shape[0], _BLOCK_ROWS):
        block = np.asarray(rows[lo:lo + _BLOCK_ROWS], dtype=np.float32) - centre
        top = np.abs(block).max(axis=1) if block.shape[1] else np.zeros(block.shape[0])
        s = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
        out[lo:lo + _BLOCK_ROWS] = np.rint(block / s[:, None])
        scale[lo:lo + _BLOCK_ROWS] = np.where(top > 0, s, 0.0)
    return out, scale


class ExpertVectors:
    """The experts' stored vectors, scored by the recipe: profile and best item.

    An expert's semantic score is ``(1 - item_share) * cos(q, profile) + item_share *
    max_i cos(q, item_i)``; an expert with at most one item (vector) uses its profile as its
    item, so its score is the profile cosine. An expert without a profile vector scores NaN,
    which :func:`matching.fusion.fuse` reads as "lexical only".

    Parameters
    ----------
    profiles : ndarray of shape (n_experts, dim)
        Unit rows, float32 (or float16); NaN rows for experts not embedded yet.
    items : ndarray of shape (n_items, dim), optional
        Unit rows of the experts' items, grouped by expert in expert order; NaN rows allowed.
    item_owner : ndarray of shape (n_items,), optional
        Row in ``profiles`` of each item's expert, non-decreasing.
    item_share : float, default=ITEM_SHARE
    sample_size : int, default=1024
        Embedded experts on which the z statistics of the semantic score are computed once the
        collection is larger than ``exact_below`` (a fixed sample, drawn with ``random_state``).
    exact_below : int, default=5000
        Up to this many experts every score is exact; above it
        :func:`matching.fusion.fuse_vectors` runs a cascade.
    stage_dims : int, default=64
        Above ``exact_below``, the first stage of the cascade scores every profile in a
        ``stage_dims``-dimensional principal subspace of the sample's profiles (a sixth of the
        memory traffic of the full 384-dimensional product); candidates get exact cosines. On
        nsfc-dev with the cascade forced on, 64 and 128 dimensions both gave nDCG@10 0.4417
        against 0.4424 exact.
    random_state : int, default=0
    own_items : bool, default=False
        The caller hands ``items`` over: kept (and its NaN rows zeroed) without a copy when
        every item is kept and the dtype fits (a rebuild at 100k saves 384 MB of peak).

    Above ``exact_below`` the vectors are kept compact (only the rows a query looks at are
    read, converted to float32 for the product): profiles as float16, items as int8 with a
    scale per row (:func:`quantize`). At 100k experts with 5 items each this is 256 MB less
    of the host's shared index (146 + 366 MB -> 73 + 185 MB); the first stage (``reduced``)
    and the sample stay float32.

    Attributes
    ----------
    item_indptr : ndarray of shape (n_experts + 1,)
        Items of expert ``i`` are rows ``item_indptr[i]:item_indptr[i + 1]``.
    embedded : ndarray of shape (n_experts,), bool
    sample : ndarray of int or None
        Rows of the statistics sample, None when all scores are exact.
    """

    def __init__(
        self,
        profiles: np.ndarray,
        items: np.ndarray | None = None,
        item_owner: np.ndarray | None = None,
        item_share: float = ITEM_SHARE,
        sample_size: int = 1024,
        exact_below: int = 5000,
        stage_dims: int = 64,
        random_state: int = 0,
        own_items: bool = False,
    ) -> None:
        self.profiles = np.ascontiguousarray(profiles, dtype=np.float32)
        n = self.profiles.shape[0]
        self.embedded = ~np.isnan(self.profiles[:, 0]) if n else np.zeros(0, dtype=bool)
        if not self.embedded.all():  # a NaN row would poison the matrix product
            self.profiles = self.profiles.copy()  # never change the caller's array
            self.profiles[~self.embedded] = 0.0
        self.item_share = float(item_share)
        counts = np.zeros(n, dtype=np.int64)
        self.items: np.ndarray | None = None
        self.item_missing = np.zeros(0, dtype=bool)
        if items is not None and item_owner is not None and len(item_owner):
            owner = np.asarray(item_owner, dtype=np.int64)
            if np.any(np.diff(owner) < 0):
                raise ValueError("items must be grouped by expert in expert order")
            counts = np.bincount(owner, minlength=n)
            # Experts with one item use their profile as their item: their items are not kept.
            keep = counts[owner] > 1
            # float16 at scale (only candidates' and the sample's items are read), as stored
            dtype = np.float32 if n <= exact_below else np.float16
            items = np.asarray(items)
            # an array handed over (own_items) is used in place when nothing is to be dropped
            vecs = items if own_items and keep.all() and items.dtype == dtype else \
                np.array(items[keep], dtype=dtype)
            self.item_missing = np.isnan(vecs[:, 0]) if len(vecs) else self.item_missing
            vecs[self.item_missing] = 0.0
            self.items = vecs
            counts = np.where(counts > 1, counts, 0)
        self.item_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.exact = n <= exact_below
        self.sample: np.ndarray | None = None
        self.item_scale: np.ndarray | None = None  # int8 items: the scale of each row
        if not self.exact:
            rows = np.flatnonzero(self.embedded)
            rng = np.random.default_rng(random_state)
            size = min(sample_size, rows.size)
            self.sample = np.sort(rng.choice(rows, size=size, replace=False))
            sample = self.profiles[self.sample]
            self.centre = sample.mean(axis=0)
            _, _, vt = np.linalg.svd(sample - self.centre, full_matrices=False)
            self.basis = np.ascontiguousarray(vt[:stage_dims].T)  # (dim, stage_dims)
            self.reduced = np.empty((n, self.basis.shape[1]), dtype=np.float32)
            for lo in range(0, n, _BLOCK_ROWS):  # no centred copy of the whole matrix
                self.reduced[lo:lo + _BLOCK_ROWS] = \
                    (self.profiles[lo:lo + _BLOCK_ROWS] - self.centre) @ self.basis
            # The sample's own vectors, contiguous, so its statistics are two small products.
            first, last = self.item_indptr[self.sample], self.item_indptr[self.sample + 1]
            sel = np.concatenate([np.arange(a, b) for a, b in zip(first, last, strict=True)]
                                 ) if self.items is not None else np.zeros(0, dtype=np.int64)
            sample_items = None if self.items is None else self.items[sel].astype(np.float32)
            if sample_items is not None:
                sample_items[self.item_missing[sel]] = np.nan
            self.sample_vectors = ExpertVectors(
                self.profiles[self.sample], sample_items,
                np.repeat(np.arange(self.sample.size), last - first), item_share,
                exact_below=self.sample.size)
            self.profiles = self.profiles.astype(np.float16)
            if self.items is not None:  # centred first: e5 vectors share a large component
                self.items, self.item_scale = quantize(self.items, self.centre)

    @property
    def n_embedded(self) -> int:
        """Return how many experts have a profile vector."""
        return int(self.embedded.sum())

    def profile_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return every expert's profile cosine (NaN where not embedded), float64."""
        q = np.asarray(query_vector, dtype=np.float32)
        if self.profiles.dtype == np.float32:
            out = (self.profiles @ q).astype(np.float64)
        else:  # float16 has no BLAS product: blocks converted to float32
            out = np.concatenate([
                (self.profiles[lo:lo + _BLOCK_ROWS].astype(np.float32) @ q).astype(np.float64)
                for lo in range(0, self.profiles.shape[0], _BLOCK_ROWS)] or [np.zeros(0)])
        out[~self.embedded] = np.nan
        return out

    def approximate_profile_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return every expert's profile cosine in the cascade's subspace (NaN: not embedded).

        ``cos(q, p) ~ (p - c) V V^T q + c q`` with the sample's centre ``c`` and principal
        basis ``V``; exact where the collection is small enough to score exactly.
        """
        if self.exact:
            return self.profile_scores(query_vector)
        q = np.asarray(query_vector, dtype=np.float32)
        out = (self.reduced @ (q @ self.basis)).astype(np.float64)
        out += float(self.centre @ q)
        out[~self.embedded] = np.nan
        return out

    def profile_scores_of(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the exact profile cosines of the experts ``rows`` (NaN: not embedded)."""
        q = np.asarray(query_vector, dtype=np.float32)
        out = (self.profiles[rows].astype(np.float32, copy=False) @ q).astype(np.float64)
        out[~self.embedded[rows]] = np.nan
        return out

    def _item_cosines(self, q: np.ndarray, sel: np.ndarray | None) -> np.ndarray:
        """Return the cosines of the item rows ``sel`` (all when None) with ``q``, float64."""
        assert self.items is not None
        scale = self.item_scale
        shift = float(self.centre @ q) if scale is not None else 0.0
        if sel is not None:
            cos = self.items[sel].astype(np.float32) @ q
            return (cos * scale[sel] + shift if scale is not None else cos).astype(np.float64)
        parts = []
        for lo in range(0, self.items.shape[0], _BLOCK_ROWS):
            cos = self.items[lo:lo + _BLOCK_ROWS].astype(np.float32, copy=False) @ q
            parts.append(cos * scale[lo:lo + _BLOCK_ROWS] + shift if scale is not None else cos)
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    def best_items(
        self, query_vector: np.ndarray, rows: np.ndarray, with_index: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (best item cosine, its index among the expert's items) of the experts ``rows``.

        Experts without item vectors of their own get NaN and -1; ``with_index=False`` skips
        the index (all -1).
        """
        rows = np.asarray(rows, dtype=np.int64)
        best = np.full(rows.size, np.nan)
        where = np.full(rows.size, -1, dtype=np.int64)
        if self.items is None or not rows.size:
            return best, where
        first = self.item_indptr[rows]
        count = self.item_indptr[rows + 1] - first
        has = count > 0
        if not has.any():
            return best, where
        q = np.asarray(query_vector, dtype=np.float32)
        if rows.size == self.item_indptr.size - 1 and np.array_equal(rows, np.arange(rows.size)):
            # every expert: products over the contiguous item matrix, no gather
            cos = self._item_cosines(q, None)
            missing = self.item_missing
        else:
            sel = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
            cos = self._item_cosines(q, sel)
            missing = self.item_missing[sel]
        cos[missing] = -np.inf  # not embedded yet
        run_start = np.cumsum(count) - count  # offset of each expert's run in ``cos``
        best[has] = np.maximum.reduceat(cos, run_start[has])
        if not with_index:
            best[np.isneginf(best)] = np.nan
            return best, where
        owner = np.repeat(np.arange(rows.size), count)
        local = np.arange(cos.size) - run_start[owner]
        hit = np.flatnonzero(cos >= best[owner])
        experts, first = np.unique(owner[hit], return_index=True)  # the first of equal best
        where[experts] = local[hit[first]]
        none = np.isneginf(best)  # every item still without a vector: use the profile
        best[none], where[none] = np.nan, -1
        return best, where

    def combine(self, profile: np.ndarray, best: np.ndarray) -> np.ndarray:
        """Return the recipe score from profile cosines and best item cosines (NaN: no items)."""
        best = np.where(np.isnan(best), profile, best)
        return (1.0 - self.item_share) * profile + self.item_share * best

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Return every expert's exact semantic score (NaN where not embedded).

        Parameters
        ----------
        query_vector : ndarray of shape (dim,)

        Returns
        -------
        ndarray of shape (n_experts,), float64
        """
        profile = self.profile_scores(query_vector)
        rows = np.arange(profile.size)
        best, _ = self.best_items(query_vector, rows, with_index=False)
        return self.combine(profile, best)

    def statistics(self, query_vector: np.ndarray) -> tuple[float, float]:
        """Return (mean, deviation) of the semantic score over the embedded experts.

        Exact up to ``exact_below`` experts, else over the fixed sample.
        """
        if self.sample is None:
            values = self.scores(query_vector)[self.embedded]
        else:
            values = self.sample_vectors.scores(query_vector)
        if values.size < 2:
            return 0.0, 1.0
        std = float(values.std())
        return float(values.mean()), std if std > 1e-12 else 1.0


def semantic_scores(
    query_vector: np.ndarray,
    profile_vectors: np.ndarray,
    item_vectors: np.ndarray | None = None,
    item_owner: np.ndarray | None = None,
    item_weight: float = ITEM_SHARE,
) -> np.ndarray:
    """Score every expert for one demand with the recipe (see :class:`ExpertVectors`).

    Parameters
    ----------
    query_vector : ndarray of shape (dim,)
    profile_vectors : ndarray of shape (n_experts, dim)
        Unit rows; NaN rows for experts not embedded yet.
    item_vectors : ndarray of shape (n_items, dim), optional
    item_owner : ndarray of shape (n_items,), optional
        Row index in ``profile_vectors`` of each item's expert, grouped in expert order.
    item_weight : float, default=ITEM_SHARE

    Returns
    -------
    ndarray of shape (n_experts,), float64
    """
    vectors = ExpertVectors(profile_vectors, item_vectors, item_owner, item_share=item_weight)
    return vectors.scores(query_vector)
