"""Compare semantic recipes on nsfc-dev: the table of docs/matching.md.

Usage::

    python scripts/eval_semantic.py [--data ../shared/data/nsfc-dev]

Rows: lexical only; the earlier recipe (``passage: `` expert profiles); ``query: `` profiles;
the shipped recipe (``query: `` profiles and items, 0.5 profile + 0.5 best item). Each with the
in-sample figure at the shipped weight and a 5-fold CV over demands (10 fold seeds) in which
the constants are chosen on 4 folds. Vectors come from the cache of ``scripts/evaluate.py``
(``$MATCHING_VECTOR_CACHE``), so only the first run encodes. The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nsfc-dev"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    import evaluate as ev  # scripts/ is on sys.path: it is this script's folder

    from matching.fusion import DEFAULT_SEMANTIC_WEIGHT
    from matching.vectors import ITEM_SHARE

    experts = ev.read_jsonl(args.data / "experts.jsonl")
    demands = ev.read_jsonl(args.data / "demands.jsonl")
    qrels = ev.read_qrels(args.data / "qrels.tsv")
    base = ev.run(experts, demands, qrels, semantic=True)
    model, qv = base["model"], base["query_vectors"]
    weights = ev.CV_WEIGHTS
    rows: list[tuple[str, float, dict]] = []

    def add(name: str, vectors, shares: Sequence[float], at: tuple[float, float]) -> None:
        grid, table = ev.semantic_grid(model, experts, demands, qrels, qv, vectors, shares,
                                       weights)
        cv = ev.cross_validate(table)
        cv["choices"] = Counter(grid[c] for c in cv["choices"]).most_common(4)
        rows.append((name, float(table[grid.index(at)].mean()), cv))

    lexical = ev.run(experts, demands, qrels)["overall"]["ndcg@10"]
    w = DEFAULT_SEMANTIC_WEIGHT
    add("passage: profiles (earlier recipe), weight CV", ev.expert_vectors(experts, "passage"),
        (0.0,), (0.0, w))
    add("query: profiles, weight CV", base["vectors"], (0.0,), (0.0, w))
    add("query: profiles + items, share fixed 0.5, weight CV", base["vectors"], (ITEM_SHARE,),
        (ITEM_SHARE, w))
    add("query: profiles + items, share and weight CV (shipped)", base["vectors"],
        ev.CV_ITEM_SHARES, (ITEM_SHARE, w))
    print(f"\n{'run':<58}{'in-sample':>10}{'CV mean':>9}{'CV seeds':>16}  most chosen")
    print(f"{'lexical only':<58}{lexical:>10.4f}")
    for name, insample, cv in rows:
        spread = f"{cv['min']:.4f}-{cv['max']:.4f}"
        print(f"{name:<58}{insample:>10.4f}{cv['mean']:>9.4f}{spread:>16}  {cv['choices']}")
    print(f"in-sample at weight {w}, item share {ITEM_SHARE}; rank() path: "
          f"{base['overall']['ndcg@10']:.4f}")
    print(json.dumps({"lexical": round(lexical, 4),
                      "rows": {n: {"in_sample": round(i, 4), "cv": round(c["mean"], 4)}
                               for n, i, c in rows}}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
