"""Benchmark the service's index at scale: rebuild time and peak, pick-up of one new expert,
lexical CPU per query beside bm25s in the same process.

Synthetic experts are recombined from nsfc-dev (/work/shared/data/nsfc-dev or ``--data``): each
takes 3-7 items of random dev experts, with the stored tokens those items were segmented into
once (so generating 100k experts does not segment 100k texts). They are written to a scratch
SQLite database and the service's own code builds the index from it.

Prints the measurements, then as its LAST line one JSON object with the keys issue 16 names.
Figures this script does not measure yet are ``null`` (see ``not_measured``).

Usage::

    .venv/bin/python scripts/bench_scale.py --experts 10000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Return this process's current RSS in MB."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_db(url: str, n: int, data: Path, seed: int) -> list[list[str]]:
    """Write ``n`` synthetic experts with stored tokens; return the dev demands' tokens."""
    from sqlalchemy import insert

    from app.db import Database
    from matching import text as mtext
    from models import Expert, ExpertItem, Institution

    mtext.initialize()
    dev = [json.loads(line) for line in (data / "experts.jsonl").open(encoding="utf-8")]
    pool = [(it["title"], mtext.join_tokens(mtext.analyze(it.get("text") or it["title"])))
            for e in dev for it in e["items"]]
    demands = [mtext.analyze(json.loads(line)["text"])
               for line in (data / "demands.jsonl").open(encoding="utf-8")]
    db = Database(url)
    db.upgrade()
    rng = random.Random(seed)
    with db.unit_of_work() as s:
        s.execute(insert(Institution), [{"id": i + 1, "name": f"合成大学{i}", "kind": "university"}
                                        for i in range(50)])
    item_id = 1
    for start in range(0, n, 5000):
        experts, items = [], []
        for eid in range(start + 1, min(n, start + 5000) + 1):
            chosen = rng.sample(pool, rng.randint(3, 7))
            experts.append({"id": eid, "name": f"专家{eid}", "institution_id": rng.randint(1, 50),
                            "tokens": " ".join(t for _ti, t in chosen), "is_academician": False})
            for pos, (title, tokens) in enumerate(chosen):
                items.append({"id": item_id, "expert_id": eid, "position": pos,
                              "kind": "project", "title": title[:300], "tokens": tokens})
                item_id += 1
        with db.unit_of_work() as s:
            s.execute(insert(Expert), experts)
            s.execute(insert(ExpertItem), items)
    db.engine.dispose()
    return demands


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nsfc-dev")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    url = f"sqlite:///{tmp / 'scale.db'}"
    t0 = time.perf_counter()
    # written in another process, so this one's peak RSS is the rebuild's alone
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        demands = pool.apply(make_db, (url, args.experts, args.data, args.seed))
    print(f"{args.experts} synthetic experts written in {time.perf_counter() - t0:.1f} s")

    from sqlalchemy import insert

    from app import create_app
    from app.services.indexing import EXPERTS, bump_version
    from app.services.search.index import build_expert_snapshot
    from models import Expert

    app = create_app({"DATABASE_URL": url, "TESTING": True, "SEMANTIC_ENABLED": False,
                      "INDEX_CHECK_SECONDS": 0})
    db = app.extensions["db"]
    base = rss_mb()
    started = time.perf_counter()
    with db.Session() as s:
        snap = build_expert_snapshot(s)
    rebuild = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    print(f"rebuild: {rebuild:.2f} s, peak {peak:.0f} MB above the {base:.0f} MB before it")

    holder = app.extensions["search_index"]
    with db.Session() as s:
        holder.experts(s)
    with db.unit_of_work() as s:
        s.execute(insert(Expert), [{"id": args.experts + 1, "name": "新专家", "institution_id": 1,
                                    "tokens": "w:新专家"}])
        bump_version(s, EXPERTS)
    started = time.perf_counter()
    with db.Session() as s:
        seen = holder.experts(s)
    pickup = time.perf_counter() - started
    assert args.experts + 1 in seen.row_of
    print(f"pick-up of one new expert (a full rebuild, no delta segment yet): {pickup:.2f} s")

    queries = [q for q in demands if q][: args.queries]
    cpu = []
    for q in queries:
        c0 = time.process_time()
        try:
            snap.ranker.rank(q, top=10)
        except ValueError:
            continue
        cpu.append((time.process_time() - c0) * 1000)
    lexical_p50 = statistics.median(cpu)
    print(f"lexical rank with explanations, top 10: CPU p50 {lexical_p50:.2f} ms "
          f"over {len(cpu)} dev demands")
    bm25_p50 = None
    try:
        import bm25s
        from sqlalchemy import select

        with db.Session() as s:
            corpus = [t.split() for t in s.scalars(select(Expert.tokens).order_by(Expert.id))]
        retriever = bm25s.BM25()
        retriever.index(_bm25_tokens(bm25s, corpus), show_progress=False)
        vocab = retriever.vocab_dict
        bcpu = []
        for q in queries:
            ids = [[vocab[t] for t in q if t in vocab]]
            if not ids[0]:
                continue
            c0 = time.process_time()
            retriever.retrieve(ids, k=10, show_progress=False)
            bcpu.append((time.process_time() - c0) * 1000)
        bm25_p50 = statistics.median(bcpu)
        print(f"bm25s (numpy backend, numba not installed), top 10: CPU p50 {bm25_p50:.2f} ms")
    except Exception as exc:  # noqa: BLE001 - bm25s is a dev dependency: report, not fail
        print(f"bm25s not measured: {type(exc).__name__}: {exc}")
    print(json.dumps({
        "experts": args.experts, "rebuild_seconds": round(rebuild, 2),
        "rebuild_peak_mb": round(peak), "index_pss_mb_per_host": None,
        "pickup_seconds_one_expert": round(pickup, 2), "fused_p95_ms_stored_vector": None,
        "lexical_cpu_p50_ms": round(lexical_p50, 3), "bm25s_numba_cpu_p50_ms": None,
        "bm25s_numpy_cpu_p50_ms": None if bm25_p50 is None else round(bm25_p50, 3),
        "cpu_ms_per_match_request": None,
        "not_measured": ["index_pss_mb_per_host", "fused_p95_ms_stored_vector",
                         "bm25s_numba_cpu_p50_ms (numba not pinned)",
                         "cpu_ms_per_match_request"]}))


def _bm25_tokens(bm25s, corpus):  # noqa: ANN001, ANN202
    """Index pre-tokenized documents (the service's own stored tokens) in bm25s."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)


if __name__ == "__main__":
    main()
