"""Compiled loops of the lexical query path: one walk of the query's postings, one pass over
the experts for the z statistics, one for the top experts.

Each loop does the arithmetic of the numpy expression it replaces in the same order and the
same precision (float32 postings sums as scipy's column mat-vec, float64 statistics), so a
ranking is the one numpy gives (tests/matching/test_kernels.py). The functions are compiled
with explicit signatures when this module is imported (read back from numba's on-disk cache
when there is one): the master process imports it before its workers fork, and a request never
waits for a compilation. Read-only signatures accept both memory-mapped and ordinary arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

__all__ = ["column_scores", "dense_lexical", "lexical_top", "moments"]

_F32 = types.Array(types.float32, 1, "A", readonly=True)
_F64 = types.Array(types.float64, 1, "A", readonly=True)
_I32 = types.Array(types.int32, 1, "A", readonly=True)
_I64 = types.Array(types.int64, 1, "A", readonly=True)
_BOOL = types.Array(types.boolean, 1, "A", readonly=True)
_OUT32 = types.Array(types.float32, 1, "A")
_OUT64 = types.Array(types.float64, 1, "C")


@njit([types.UniTuple(_OUT32, 2)(ptr, ind, _F32, _F32, _I64, _F32, types.int64)
       for ptr, ind in ((_I32, _I32), (_I64, _I32), (_I64, _I64))],
      cache=True, nogil=True)
def column_scores(indptr, indices, cos, ql, ids, w, n):  # noqa: ANN001, ANN201
    """Return ``(cos[:, ids] @ w, ql[:, ids] @ w)`` of compressed-column arrays sharing
    ``indptr`` and ``indices``, in float32, summed column by column as scipy does.

    The two sums of an expert sit side by side (two strided views of one array): a posting
    costs one random memory access, not two.
    """
    ab = np.zeros((n, 2), dtype=np.float32)
    for k in range(ids.size):
        j = ids[k]
        wk = w[k]
        for p in range(indptr[j], indptr[j + 1]):
            r = indices[p]
            ab[r, 0] += cos[p] * wk
            ab[r, 1] += ql[p] * wk
    return ab[:, 0], ab[:, 1]


@njit([types.UniTuple(types.float64, 5)(_F32, _F32, _F64)], cache=True, nogil=True)
def moments(a, b, length):  # noqa: ANN001, ANN201
    """Return the sums of a, a^2, b, b^2 and b * length, in float64, in one pass."""
    sa = 0.0
    saa = 0.0
    sb = 0.0
    sbb = 0.0
    sbl = 0.0
    for i in range(a.size):
        x = np.float64(a[i])
        y = np.float64(b[i])
        sa += x
        saa += x * x
        sb += y
        sbb += y * y
        sbl += y * length[i]
    return sa, saa, sb, sbb, sbl


@njit([types.Array(types.int64, 1, "C")(_F32, _F32, _F32, _BOOL, types.float32, types.float32,
                                        types.float32, types.int64)], cache=True, nogil=True)
def lexical_top(a, b, length32, mask, ca, cb, cl, top):  # noqa: ANN001, ANN201
    """Return the indices (unordered) of the ``top`` largest ``a ca + b cb + length32 cl`` in
    float32, the experts outside ``mask`` lowered by 1e30; equal values: the first kept."""
    vals = np.empty(top, dtype=np.float32)
    idx = np.empty(top, dtype=np.int64)
    count = 0
    low = 0  # position of the smallest kept value (of the last index among equal ones)
    far = np.float32(1e30)
    for i in range(a.size):
        v = a[i] * ca
        v += b[i] * cb
        v += length32[i] * cl
        if not mask[i]:
            v -= far
        if count < top:
            vals[count] = v
            idx[count] = i
            count += 1
            if count < top:
                continue
        elif v > vals[low]:
            vals[low] = v
            idx[low] = i
        else:
            continue
        low = 0
        for k in range(1, top):
            if vals[k] < vals[low] or (vals[k] == vals[low] and idx[k] > idx[low]):
                low = k
    return idx[:count]


@njit([_OUT64(_F32, _F32, _F64, types.float64, types.float64, types.float64, types.float64,
              types.float64, types.float64)], cache=True, nogil=True)
def dense_lexical(a, b, length, cw, mean_a, std_a, mean_b, std_b, n_tokens):  # noqa: ANN001, ANN201
    """Return ``cw (a - mean_a) / std_a + (1 - cw) (b + n_tokens length - mean_b) / std_b``,
    operation by operation as numpy evaluates it over float64 copies of ``a`` and ``b``."""
    out = np.empty(a.size, dtype=np.float64)
    cb = 1.0 - cw
    for i in range(a.size):
        out[i] = (cw * (np.float64(a[i]) - mean_a) / std_a
                  + cb * (np.float64(b[i]) + n_tokens * length[i] - mean_b) / std_b)
    return out
