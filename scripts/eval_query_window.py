"""Measure what the demand window of the query vector (``matching.semantic.QUERY_CHARS``) costs.

Usage::

    python scripts/eval_query_window.py [--windows 128 192 256 510]

Two figures per window, against the model's whole 510-character window:

* nsfc-dev (``../shared/data/nsfc-dev``, relevance known): nDCG@10 / MRR of the service's
  fused ranking (``evaluate.run`` with ``query_chars``); its demands are at most 128 characters;
* real enterprise demands (``../shared/data/enterprise-demands``, 181 texts, median 248
  characters, no relevance known), ranked against the nsfc-dev experts the way the service
  ranks: the share of the top 10 that stays the same, and the cosine of the two query vectors.

Vectors are cached like scripts/evaluate.py's (``$MATCHING_VECTOR_CACHE``). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> int:
    """Print one line per window and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[128, 192, 256, 510])
    args = parser.parse_args()
    import evaluate as ev  # scripts/ is on sys.path: it is this script's folder

    from matching import text as mtext
    from matching.fusion import DEFAULT_SEMANTIC_WEIGHT
    from matching.semantic import query_window

    nsfc = DATA / "nsfc-dev"
    experts = ev.read_jsonl(nsfc / "experts.jsonl")
    demands = ev.read_jsonl(nsfc / "demands.jsonl")
    qrels = ev.read_qrels(nsfc / "qrels.tsv")
    real = [f"{r['title']}\n{r['text']}" for r in ev.read_jsonl(
        DATA / "enterprise-demands" / "demands.jsonl")]
    full = max(args.windows)
    base = ev.run(experts, demands, qrels, semantic=True, query_chars=full)
    model, vectors = base["model"], base["vectors"]

    def top10(window: int) -> tuple[list[list[str]], object]:
        qv = ev.cached_encode([query_window(t, window) for t in real], "query")
        runs = []
        for text, vec in zip(real, qv, strict=True):
            ranked = model.rank(mtext.analyze(text), top=10, query_vector=vec, vectors=vectors,
                                semantic_weight=DEFAULT_SEMANTIC_WEIGHT)
            runs.append([str(r.expert_id) for r in ranked])
        return runs, qv

    ref_runs, ref_qv = top10(full)
    longer = sum(len(t) > min(args.windows) for t in real)
    print(f"{len(real)} enterprise demands, {longer} longer than {min(args.windows)} characters; "
          f"reference window {full}")
    print(f"{'window':>7}{'nsfc nDCG@10':>14}{'nsfc MRR':>10}{'top-10 kept':>13}"
          f"{'cosine p50':>12}{'cosine p10':>12}")
    out = {}
    for window in sorted(args.windows):
        overall = ev.run(experts, demands, qrels, semantic=True, query_chars=window)["overall"]
        runs, qv = top10(window)
        kept = statistics.mean(len(set(a) & set(b)) / max(1, len(b))
                               for a, b in zip(runs, ref_runs, strict=True))
        cosines = sorted(float(a @ b) for a, b in zip(qv, ref_qv, strict=True))
        p50, p10 = statistics.median(cosines), cosines[len(cosines) // 10]
        print(f"{window:>7}{overall['ndcg@10']:>14.4f}{overall['mrr']:>10.4f}{kept:>13.3f}"
              f"{p50:>12.3f}{p10:>12.3f}")
        out[window] = {"ndcg@10": round(overall["ndcg@10"], 4), "top10_kept": round(kept, 3),
                       "cosine_p50": round(p50, 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
