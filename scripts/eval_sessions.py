"""Evaluate the session planner on the development set.

Two figures:

* hidden industries: the industry of a seeded random share of the demands is hidden; how often
  does the planner put such a demand into a session seeded from its true industry?
* topic coherence of split industries: inside each industry split into several sessions, the
  mean cosine between demands of one session against the mean cosine between demands of
  different sessions of that industry, next to a random split of the same sizes.

Usage::

    .venv/bin/python scripts/eval_sessions.py [--data ../shared/data/nsfc-dev/demands.jsonl]
        [--hide 0.3] [--seeds 5] [--min 4] [--max 10] [--analyzer bigram|jieba]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.planning import bigram_analyze, plan_sessions
from matching.planning.plan_records import MeetingDemand, SessionLimits, SessionPlan

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "nsfc-dev" / "demands.jsonl"
)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def coherence(
    plan: SessionPlan, vectors: np.ndarray, index: dict[str, int], rng: np.random.Generator
) -> tuple[float, float, float, int]:
    """Return mean intra, inter and random-split cosine over the split industries."""
    by_industry = defaultdict(list)
    for s in plan.sessions:
        by_industry[s.industry].append([index[d] for d in s.demand_ids])
    intra, inter, rand = [], [], []
    n_split = 0
    for groups in by_industry.values():
        if len(groups) < 2:
            continue
        n_split += 1
        rows = [r for g in groups for r in g]
        label = np.concatenate([[k] * len(g) for k, g in enumerate(groups)])
        sims = vectors[rows] @ vectors[rows].T
        same = label[:, None] == label[None, :]
        off = ~np.eye(len(rows), dtype=bool)
        intra.append(sims[same & off].mean())
        inter.append(sims[~same].mean())
        shuffled = rng.permutation(label)
        same_r = shuffled[:, None] == shuffled[None, :]
        rand.append(sims[same_r & off].mean())
    return float(np.mean(intra)), float(np.mean(inter)), float(np.mean(rand)), n_split


def main(argv: list[str] | None = None) -> None:
    """Print the hidden-industry and coherence figures of the session planner."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--hide", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--min", dest="lo", type=int, default=4)
    parser.add_argument("--max", dest="hi", type=int, default=10)
    parser.add_argument("--analyzer", choices=["bigram", "jieba"], default="bigram")
    args = parser.parse_args(argv)

    if args.analyzer == "jieba":
        from matching.text import analyze as analyzer
    else:
        analyzer = bigram_analyze
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    truth = {r["id"]: r["industry"] for r in rows}
    source = {r["id"]: r["source"] for r in rows}
    tokens = {r["id"]: tuple(analyzer(r["text"])) for r in rows}
    index = {r["id"]: i for i, r in enumerate(rows)}
    vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True)
    vectors = vec.fit_transform([list(tokens[r["id"]]) for r in rows]).toarray()
    majority = Counter(truth.values()).most_common(1)[0][1] / len(rows)

    print(f"data: {args.data} ({len(rows)} demands, {len(set(truth.values()))} industries)")
    print(
        f"analyzer: {args.analyzer}; limits {args.lo}-{args.hi} demands per session; "
        f"hide {args.hide:.0%}; seeds 0..{args.seeds - 1}"
    )
    home, inferred_ok, per_source = [], [], defaultdict(list)
    coh = []
    times = []
    n_sessions = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        hide = rng.random(len(rows)) < args.hide
        demands = [
            MeetingDemand(id=r["id"], tokens=tokens[r["id"]], industry=None if h else r["industry"])
            for r, h in zip(rows, hide, strict=True)
        ]
        start = time.perf_counter()
        plan = plan_sessions(
            demands, SessionLimits(args.lo, args.hi), analyzer=analyzer, random_state=seed
        )
        times.append(time.perf_counter() - start)
        n_sessions.append(len(plan.sessions))
        inferred = dict(plan.inferred_industries)
        hidden = [d.id for d in demands if d.industry is None]
        ok = [plan.session_of(d).industry == truth[d] for d in hidden]
        home.append(np.mean(ok))
        inferred_ok.append(np.mean([inferred[d] == truth[d] for d in hidden]))
        for d, good in zip(hidden, ok, strict=True):
            per_source[source[d]].append(good)
        coh.append(coherence(plan, vectors, index, rng))

    def mean_sd(xs: list[float]) -> str:
        return f"{np.mean(xs):.3f} ± {np.std(xs):.3f}"

    print(f"sessions per plan: {mean_sd(n_sessions)}; plan time {mean_sd(times)} s")
    print(
        "hidden industries placed into a session of their true industry: "
        f"{mean_sd(home)} (mean ± sd over seeds)"
    )
    print(f"  nearest-industry-centroid guess alone: {mean_sd(inferred_ok)}")
    print(f"  majority-industry baseline: {majority:.3f}")
    for src in sorted(per_source):
        vals = per_source[src]
        print(f"  source {src}: {np.mean(vals):.3f} over {len(vals)} hidden placements")
    intra, inter, rand, n_split = (np.array(x) for x in zip(*coh, strict=True))
    print(f"topic coherence in split industries (about {n_split.mean():.0f} industries split):")
    print(f"  mean cosine within a session:               {mean_sd(list(intra))}")
    print(f"  mean cosine between sessions, same industry: {mean_sd(list(inter))}")
    print(f"  within a random split of the same sizes:    {mean_sd(list(rand))}")
    print(f"  ratio within / between: {np.mean(intra / inter):.2f}")


if __name__ == "__main__":
    main()
