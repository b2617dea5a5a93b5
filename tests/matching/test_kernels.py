"""The compiled lexical path ranks exactly as a plain scipy/numpy computation of the same score."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from matching import text as mtext
from matching.ranker import ExpertRanker
from matching.ranker.kernels import lexical_top, moments

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "tests" / "matching" / "data" / "service_like"


@pytest.fixture(scope="module")
def fitted():
    spec = importlib.util.spec_from_file_location("_evaluate", ROOT / "scripts" / "evaluate.py")
    ev = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(ev)
    docs = [ev.expert_doc(e) for e in ev.read_jsonl(SET / "experts.jsonl")]
    demands = [mtext.analyze(d.get("text", "")) for d in ev.read_jsonl(SET / "demands.jsonl")]
    return ExpertRanker().fit(docs), demands


def _reference(model: ExpertRanker, tokens: list[str], top: int) -> tuple[list, np.ndarray]:
    """The lexical ranking written out with scipy column slices and float64 numpy sums."""
    ids, tw = model._scored(*model._known(tokens))
    w = tw.astype(np.float32)
    a = (model.postings_.cos[:, ids] @ w).astype(np.float64)
    b = (model.postings_.ql[:, ids] @ w).astype(np.float64)
    n = model.n_text_
    big_b = b + float(tw.sum()) * model.length_term_
    ht = model.has_text_
    z = (model.cosine_weight * (a - a[ht].mean()) / a[ht].std()
         + (1 - model.cosine_weight) * (big_b - big_b[ht].mean()) / big_b[ht].std())
    assert ht.sum() == n
    rows = np.flatnonzero(a > 0)
    order = np.lexsort((rows, -z[rows]))[:top]
    return model.expert_ids_[rows[order]].tolist(), z[rows[order]]


def test_the_fast_path_ranks_as_the_reference(fitted) -> None:
    model, demands = fitted
    checked = 0
    for tokens in demands:
        ids, z = _reference(model, tokens, 10)
        got = model.rank(tokens, top=10)
        assert [g.expert_id for g in got] == ids
        np.testing.assert_allclose([g.score for g in got], z, rtol=1e-5, atol=1e-5)
        # the dense scores (the fused path's lexical part) agree on every expert
        q, _, _ = model._lexical(tokens)
        dense = model._fused(q)
        rows = np.flatnonzero(q.a > 0)
        np.testing.assert_allclose(dense[rows[np.argsort(-dense[rows])[:10]]], z,
                                   rtol=1e-5, atol=1e-5)
        checked += len(ids) == 10
    assert checked >= 30


def test_the_kernels_against_numpy() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(5000).astype(np.float32)
    b = rng.random(5000).astype(np.float32)
    length = -rng.random(5000)
    a[::3] = 0
    sums = moments(a, b, length)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(sums, [a64.sum(), a64 @ a64, b64.sum(), b64 @ b64, b64 @ length],
                               rtol=1e-12)
    mask = a > 0
    ca, cb, cl = np.float32(0.7), np.float32(1.3), np.float32(0.2)
    final = a * ca + b * cb + length.astype(np.float32) * cl - (~mask) * np.float32(1e30)
    top = lexical_top(a, b, length.astype(np.float32), mask, ca, cb, cl, 25)
    assert sorted(top.tolist()) == sorted(np.argsort(-final, kind="stable")[:25].tolist())
    ties = np.zeros(100, dtype=np.float32)  # equal values: the first ones are kept
    assert sorted(lexical_top(ties, ties, ties, np.ones(100, bool), ca, cb, cl, 5)) == [0, 1, 2,
                                                                                        3, 4]
