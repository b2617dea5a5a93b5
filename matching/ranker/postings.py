"""Stored tokens to postings: the sparse arrays the expert ranker reads at query time.

Built from stored tokens only (see :mod:`matching.text`), held in memory as sparse matrices in
compressed-column form, so a query touches only the columns of its own tokens.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np
from scipy import sparse

from matching.ranker.kernels import column_scores

__all__ = [
    "TYPE_CODES",
    "Postings",
    "Query",
    "aggregate_items",
    "attribute_mask",
    "floor_empty",
    "TokenIndex",
    "count_matrix",
    "doc_rows",
    "dot",
    "member_mask",
    "members",
    "ranges",
    "release",
    "row_attributes",
    "row_norms",
    "std_from_variance",
    "token_ids",
    "top_indices",
]

#: Code of each token type in ``token_type_`` arrays: words, single characters, pairs.
TYPE_CODES = {"w:": 0, "c:": 1, "b:": 2}
_INT32_MAX = np.iinfo(np.int32).max
_BLOCK = 1024  # block size of the top-k pre-selection
_NORM_ROWS = 4096  # rows per block of row_norms


def token_ids(
    token_lists: Sequence[Sequence[str]], vocabulary: dict[str, int], grow: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return (token ids of all documents end to end, number of ids per document).

    Parameters
    ----------
    token_lists : sequence of sequence of str
        Stored tokens of each document.
    vocabulary : dict of str to int
        Token ids; with ``grow``, unknown tokens get the next id in order of first occurrence
        (added in place), otherwise they are skipped.
    grow : bool
        Whether unknown tokens are added.

    Returns
    -------
    cols : ndarray of int
    sizes : ndarray of shape (n_docs,)

    Notes
    -----
    The lookups run in C (``map`` over a dict method feeding ``np.fromiter``), not in a Python
    loop.
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
    if hasattr(vocabulary, "ids_of"):  # a frozen (mapped) vocabulary: one vectorised search
        cols = vocabulary.ids_of(list(flat)).astype(id_dtype)
    else:
        cols = np.fromiter(map(vocabulary.get, flat, repeat(-1)), dtype=id_dtype, count=total)
    known = cols >= 0
    if not known.all():
        rows = np.repeat(np.arange(n_docs), sizes)[known]
        sizes = np.bincount(rows, minlength=n_docs)
        cols = cols[known]
    return cols, sizes


def count_matrix(cols: np.ndarray, sizes: np.ndarray, n_cols: int) -> sparse.csr_array:
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


def row_norms(csr: sparse.csr_array, weights: np.ndarray) -> np.ndarray:
    """Return the L2 norm of each row of ``(1 + ln tf) * weights[token]`` for a CSR count matrix.

    Computed ``_NORM_ROWS`` rows at a time (the same sums per row): the float64 temporaries
    of a whole 100k collection were a rebuild's peak (issue 16).
    """
    out = np.empty(csr.shape[0])
    ones = np.ones(csr.shape[1])
    for lo in range(0, csr.shape[0], _NORM_ROWS):
        part = csr[lo:lo + _NORM_ROWS]
        values = (1.0 + np.log(part.data.astype(np.float64))) * weights[part.indices]
        squares = sparse.csr_array((values * values, part.indices, part.indptr),
                                   shape=part.shape)
        out[lo:lo + _NORM_ROWS] = np.sqrt(squares @ ones)
    return out


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
        matrix = count_matrix(*token_ids(lists, vocabulary, grow), len(vocabulary))
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
        return row_norms(self.counts.tocsr(), weights)


@dataclass
class Postings:
    """Per-posting values of the profiles, and the item matrix, computed once at fit.

    Attributes
    ----------
    cos : scipy.sparse.csc_array of shape (n_experts, n_tokens), float32
        ``(1 + ln tf) idf^2p / norm``: the cosine part with the query's idf^p folded in.
    ql : scipy.sparse.csc_array of shape (n_experts, n_tokens), float32
        ``ln(1 + tf / (mu p(w|C)))``: the token part of the query likelihood.
    row_indptr, row_tokens, row_postings : ndarray
        Row form of the profiles (sorted token ids per expert) and, for each row-form
        entry, its position in the column arrays: the rows of the experts shown find their
        postings again (explanations).
    items_csr : scipy.sparse.csr_array of shape (n_items, n_tokens), float32
        Unit-length ``(1 + ln tf) idf^p`` rows of the items.
    """

    cos: sparse.csc_array
    ql: sparse.csc_array
    row_indptr: np.ndarray
    row_tokens: np.ndarray
    row_postings: np.ndarray
    items_csr: sparse.csr_array

    @classmethod
    def build(
        cls,
        profiles: sparse.csr_array,
        items: sparse.csr_array,
        idf_weight: np.ndarray,
        collection_prob: np.ndarray,
        mu: float,
    ) -> Postings:
        """Compute the posting values from the count matrices (consumed: do not reuse them)."""
        n, n_vocab = profiles.shape
        profile_norm = row_norms(profiles, idf_weight)
        item_norm = row_norms(items, idf_weight)  # first: its temporaries meet no others
        nnz = profiles.nnz
        pos_dtype = np.int32 if nnz < _INT32_MAX else np.int64
        # The column form is built from a matrix whose values are the row-form positions.
        csc = sparse.csr_array(
            (np.arange(nnz, dtype=pos_dtype), profiles.indices, profiles.indptr),
            shape=profiles.shape,
        ).tocsc()
        from_rows = csc.data
        to_cols = np.empty(nnz, dtype=pos_dtype)
        to_cols[from_rows] = np.arange(nnz, dtype=pos_dtype)
        tf = profiles.data[from_rows]
        col = np.repeat(np.arange(n_vocab, dtype=csc.indices.dtype), np.diff(csc.indptr))
        norm = np.where(profile_norm > 0, profile_norm, 1.0).astype(np.float32)
        idf2 = (idf_weight * idf_weight).astype(np.float32)
        cos = np.log(tf)
        cos += 1.0
        cos *= idf2[col]
        cos /= norm[csc.indices]
        ql = tf / (mu * collection_prob.astype(np.float32)[col])
        np.log1p(ql, out=ql)
        del col, tf
        shape = (n, n_vocab)
        data = np.log(items.data)
        data += 1.0
        data *= idf_weight.astype(np.float32)[items.indices]
        # each item's norm repeated over its entries (no int64 row index per entry)
        data /= np.repeat(np.where(item_norm > 0, item_norm, 1.0).astype(np.float32),
                          np.diff(items.indptr))
        items.data = data
        return cls(
            cos=sparse.csc_array((cos, csc.indices, csc.indptr), shape=shape),
            ql=sparse.csc_array((ql, csc.indices, csc.indptr), shape=shape),
            row_indptr=profiles.indptr,
            row_tokens=profiles.indices,
            row_postings=to_cols,
            items_csr=items,
        )

    def scores(self, ids: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(cos[:, ids] @ w, ql[:, ids] @ w)`` in float32, one walk of the postings.

        ``ids``: sorted token ids (int64), ``w``: their float32 weights. ``cos`` and ``ql``
        share their indices (built together).
        """
        indptr, indices = self.cos.indptr, self.cos.indices
        if (indptr.dtype.itemsize, indices.dtype.itemsize) not in ((4, 4), (8, 4), (8, 8)):
            indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
        return column_scores(indptr, indices, self.cos.data, self.ql.data, ids, w,
                             self.cos.shape[0])

    def row(self, expert: int) -> np.ndarray:
        """Return the sorted token ids of one expert's profile."""
        return self.row_tokens[self.row_indptr[expert] : self.row_indptr[expert + 1]]


@dataclass(frozen=True)
class Query:
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


def aggregate_items(
    item_scores: np.ndarray, owner: np.ndarray, indptr: np.ndarray, how: str
) -> np.ndarray:
    """Combine item scores per expert: ``"max"``, ``"mean"`` or ``"top3"`` (weights 1, 1/2, 1/3).

    Parameters
    ----------
    item_scores : ndarray of shape (n_items,)
    owner : ndarray of shape (n_items,)
        Expert row of each item, non-decreasing.
    indptr : ndarray of shape (n_experts + 1,)
        Items of expert ``i`` are ``indptr[i]:indptr[i + 1]``.
    how : {"max", "mean", "top3"}

    Returns
    -------
    ndarray of shape (n_experts,)
    """
    n = indptr.size - 1
    if how == "max":
        agg = np.zeros(n)
        np.maximum.at(agg, owner, item_scores)
        return agg
    if how == "mean":
        sums = np.bincount(owner, weights=item_scores, minlength=n)
        return sums / np.maximum(np.diff(indptr), 1)
    order = np.lexsort((-item_scores, owner))
    rank_in_owner = np.arange(len(order)) - indptr[owner[order]]
    weight = np.where(rank_in_owner < 3, 1.0 / (rank_in_owner + 1.0), 0.0)
    return np.bincount(owner[order], weights=item_scores[order] * weight, minlength=n)


def top_indices(final: np.ndarray, top: int) -> np.ndarray:
    """Return the (unordered) indices of the ``top`` largest values of ``final``.

    Parameters
    ----------
    final : ndarray of shape (n,)
        Scores; excluded entries are pushed far below the others by the caller.
    top : int
        How many to return; at most ``n``.

    Returns
    -------
    ndarray of int
    """
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


def ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Return ``concatenate([arange(s, s + k) for s, k in zip(starts, sizes)])`` without a loop."""
    return np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))


def dot(x: np.ndarray, y: np.ndarray) -> float:
    """Return the dot product of two vectors without BLAS.

    A BLAS dot of a collection-sized vector may start threads that spin while the web workers
    hold the cores (measured: 10 ms instead of 0.05 ms per query under load); einsum's own loop
    stays on the calling thread.
    """
    return float(np.einsum("i,i->", x, y))


def std_from_variance(variance: float, mean: float) -> float:
    """Return the deviation for a variance computed as E[x^2] - mean^2; ~0 is treated as 1."""
    # E[x^2] - mean^2 cancels: anything at rounding level of mean^2 is a zero deviation.
    if variance <= 1e-12 * max(mean * mean, 1e-300):
        return 1.0
    return math.sqrt(variance)


def members(id_lists: Iterable[Iterable[int]]) -> dict[int, np.ndarray]:
    """Return, for each id (field, industry), the sorted positions of the documents that have it."""
    out: dict[int, list[int]] = {}
    for i, ids in enumerate(id_lists):
        for fid in ids:
            out.setdefault(fid, []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in out.items()}


def release(handed_over: Any) -> None:
    """Empty a list of arrays handed over by the caller (a tuple is left alone)."""
    if isinstance(handed_over, list):
        handed_over.clear()


def row_attributes(ids: Sequence, item_counts: np.ndarray, item_titles: Any,
                   institution_ids: np.ndarray, is_academician: np.ndarray,
                   field_ids: Iterable[Iterable[int]], industry_ids: Iterable[Iterable[int]],
                   ) -> dict[str, Any]:
    """Return the fitted per-expert attributes of a ranker (rows in fit order)."""
    counts = np.asarray(item_counts, dtype=np.int64)
    return {
        "expert_ids_": np.asarray(ids) if len(ids) else np.zeros(0, np.int64),
        "item_indptr_": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "item_owner_": np.repeat(np.arange(counts.size), counts),
        "item_titles_": item_titles,
        "institution_ids_": np.asarray(institution_ids, dtype=np.int64),
        "is_academician_": np.asarray(is_academician, dtype=bool),
        "field_members_": members(field_ids),
        "industry_members_": members(industry_ids),
    }


def doc_rows(docs: Sequence[Any]) -> dict[str, Any]:
    """Return :func:`row_attributes` of a sequence of :class:`~matching.records.ExpertDoc`."""
    return row_attributes(
        [d.id for d in docs], np.array([len(d.items) for d in docs], dtype=np.int64),
        [item.title for d in docs for item in d.items],
        np.array([-1 if d.institution_id is None else d.institution_id for d in docs],
                 dtype=np.int64),
        np.array([d.is_academician for d in docs], dtype=bool),
        [d.field_ids for d in docs], [d.industry_ids for d in docs])


def member_mask(groups: dict[int, np.ndarray], key: int, n: int) -> np.ndarray:
    """Return a boolean mask of the documents in ``groups[key]`` (none if the key is unknown)."""
    mask = np.zeros(n, dtype=bool)
    idx = groups.get(key)
    if idx is not None:
        mask[idx] = True
    return mask


def attribute_mask(
    model: Any,
    field_id: int | None,
    industry_id: int | None,
    institution_id: int | None,
    academician_only: bool,
    exclude_ids: Iterable[int | str],
) -> np.ndarray:
    """Return the mask of a fitted ranker's experts that pass the filters of a request."""
    n = model.n_experts_
    keep = np.ones(n, dtype=bool)
    if field_id is not None:
        keep &= member_mask(model.field_members_, field_id, n)
    if industry_id is not None:
        keep &= member_mask(model.industry_members_, industry_id, n)
    if institution_id is not None:
        keep &= model.institution_ids_ == institution_id
    if academician_only:
        keep &= model.is_academician_
    exclude = list(exclude_ids)
    if exclude:
        keep[model.id_index_.rows(exclude)] = False
    return keep


def floor_empty(score: np.ndarray, has_text: np.ndarray) -> np.ndarray:
    """Return ``score`` with experts without text put just below every expert with text."""
    if has_text.all() or not has_text.any():
        return score
    out = score.copy()
    out[~has_text] = float(score[has_text].min()) - 1.0
    return out
