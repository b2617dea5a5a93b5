"""Benchmark the expert ranker against bm25s on synthetic profiles of 1k, 10k and 100k experts.

Usage::

    python scripts/bench_matching.py [--sizes 1000,10000,100000] [--queries 300]
        [--data ../shared/data/nsfc-dev] [--raw-sample 10000]

Profiles are made from the dev set's project texts: each synthetic item glues the head of one
real title to the tail of another (so the vocabulary keeps growing with the size), an expert
holds 1-6 items. Each size runs in its own child process so that peak memory is its own.
Per size it prints: index build time from stored tokens (ours, bm25s on the same tokens),
build time from raw text (segmenting included; above ``--raw-sample`` experts it is measured
on a sample and scaled linearly, marked ``~``), p50/p95 latency of a top-10 query with query
tokenizing included, peak traced memory of the build (tracemalloc), the peak RSS growth of our
index build alone (Linux: the process' RSS high-water mark is reset through
``/proc/self/clear_refs`` right before ``fit``, so the figure is ``VmHWM`` after minus ``VmRSS``
before; C++ temporaries of scipy count here, unlike in tracemalloc), the RSS our fitted index
keeps, and the process' peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from matching import text as mtext
from matching.ranker import ExpertRanker
from matching.records import ExpertDoc, ItemDoc

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nsfc-dev"


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def synthetic_profiles(data: Path, n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """Return ``n`` experts, each a list of (title, text) items recombined from the dev set."""
    rng = random.Random(seed)
    texts = [it["text"] for r in _read_jsonl(data / "experts.jsonl") for it in r["items"]]
    experts = []
    for _ in range(n):
        items = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
            a, b = rng.choice(texts), rng.choice(texts)
            text = a[: rng.randint(4, max(5, len(a)))] + b[rng.randint(0, len(b) // 2) :]
            items.append((text[:30], text))
        experts.append(items)
    return experts


def _timed_fit(factory, payload) -> tuple[float, int]:
    """Return (seconds, peak traced bytes) of ``factory(payload)``; memory traced on a rerun."""
    t0 = time.perf_counter()
    factory(payload)
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    keep = factory(payload)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del keep
    return seconds, peak


def _proc_kb(field: str) -> int | None:
    """Return a ``VmRSS``/``VmHWM`` figure of this process in kB (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_of_fit(factory, payload) -> tuple[float | None, float | None]:
    """Return (peak RSS growth MB, RSS kept MB) of ``factory(payload)``; None if unmeasurable."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    except OSError:
        return None, None
    before = _proc_kb("VmRSS")
    keep = factory(payload)
    peak, after = _proc_kb("VmHWM"), _proc_kb("VmRSS")
    del keep
    gc.collect()
    if before is None or peak is None or after is None:
        return None, None
    return (peak - before) / 1024, (after - before) / 1024


def worker(n: int, data: Path, n_queries: int, raw_sample: int) -> dict:
    """Run every measurement for one size and return the figures."""
    import bm25s

    mtext.initialize()
    profiles = synthetic_profiles(data, n)
    queries = [d["text"] for d in _read_jsonl(data / "demands.jsonl")][:n_queries]

    # Raw text -> stored tokens (what the service does at write time).
    sample = profiles[: min(n, raw_sample)]
    t0 = time.perf_counter()
    raw_docs = [_doc(i, items) for i, items in enumerate(sample)]
    raw_seconds = (time.perf_counter() - t0) * n / len(sample)
    docs = raw_docs + [
        _doc(i, items) for i, items in enumerate(profiles[len(sample) :], len(sample))
    ]
    corpus = [list(d.tokens) for d in docs]

    # First, before anything else of size was allocated and freed in this process.
    rss_peak, rss_kept = _rss_of_fit(lambda ds: ExpertRanker().fit(ds), docs)
    fit_s, fit_peak = _timed_fit(lambda ds: ExpertRanker().fit(ds), docs)

    def bm25_build(tokens):
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        return model

    bm_s, bm_peak = _timed_fit(bm25_build, corpus)
    ranker = ExpertRanker().fit(docs)
    bm = bm25_build(corpus)

    ours, theirs = [], []
    for q in queries:  # warm-up, and a check that both return something
        ranker.rank(mtext.analyze(q), top=10)
        break
    for q in queries:
        t0 = time.perf_counter()
        ranker.rank(mtext.analyze(q), top=10)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tokens = mtext.analyze(q)
        bm.retrieve([tokens], k=10, show_progress=False, n_threads=1)
        theirs.append(time.perf_counter() - t0)
    numba = _cpu_versus_numba(ranker, corpus, queries)
    return {
        "n": n,
        **numba,
        "raw_build_s": raw_seconds,
        "raw_scaled": len(sample) < n,
        "build_s": fit_s,
        "bm25s_build_s": bm_s,
        "build_peak_mb": fit_peak / 2**20,
        "build_rss_peak_mb": rss_peak,
        "index_rss_mb": rss_kept,
        "bm25s_build_peak_mb": bm_peak / 2**20,
        "p50_ms": 1000 * statistics.median(ours),
        "p95_ms": 1000 * float(np.percentile(ours, 95)),
        "bm25s_p50_ms": 1000 * statistics.median(theirs),
        "bm25s_p95_ms": 1000 * float(np.percentile(theirs, 95)),
        "tokens_per_expert": sum(map(len, corpus)) / n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _cpu_versus_numba(ranker: ExpertRanker, corpus: list[list[str]], queries: list[str]) -> dict:
    """CPU time of the calling thread: our top 10 with explanations against bm25s with numba.

    Same stored tokens on both sides (the query analysed once, as a saved demand's tokens),
    queries interleaved, one thread each. Empty when numba is not installed.
    """
    import bm25s

    try:
        import numba  # noqa: F401
    except ImportError:
        return {}
    model = bm25s.BM25(backend="numba")
    model.index(corpus, show_progress=False)
    tokens = [mtext.analyze(q) for q in queries]
    for t in tokens[:3]:  # warm-up, numba compiles on the first call
        model.retrieve([t], k=10, show_progress=False, n_threads=1, backend_selection="numba")
        ranker.rank(t, top=10)
    ours, theirs = [], []
    for t in tokens:
        c0 = time.thread_time()
        ranker.rank(t, top=10)
        ours.append(time.thread_time() - c0)
        c0 = time.thread_time()
        model.retrieve([t], k=10, show_progress=False, n_threads=1, backend_selection="numba")
        theirs.append(time.thread_time() - c0)
    return {"lexical_cpu_p50_ms": 1000 * statistics.median(ours),
            "bm25s_numba_cpu_p50_ms": 1000 * statistics.median(theirs)}


def _doc(i: int, items: list[tuple[str, str]]) -> ExpertDoc:
    return ExpertDoc(
        id=i,
        tokens=tuple(mtext.expert_tokens("", "", "", items)),
        items=tuple(ItemDoc(title=t, tokens=tuple(mtext.analyze(x))) for t, x in items),
    )


def main(argv: list[str] | None = None) -> int:
    """Run each size in a child process and print a table with our/bm25s ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--raw-sample", type=int, default=10000)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.queries, args.raw_sample)))
        return 0

    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(n),
                "--queries",
                str(args.queries),
                "--data",
                str(args.data),
                "--raw-sample",
                str(args.raw_sample),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done {n}", file=sys.stderr, flush=True)

    for r in rows:
        if "lexical_cpu_p50_ms" in r:
            print(f"{r['n']:,} experts, CPU time p50 of the calling thread, same tokens, "
                  f"interleaved: ours (top 10, explanations) {r['lexical_cpu_p50_ms']:.2f} ms, "
                  f"bm25s numba {r['bm25s_numba_cpu_p50_ms']:.2f} ms, ratio "
                  f"{r['lexical_cpu_p50_ms'] / r['bm25s_numba_cpu_p50_ms']:.2f}")
    head = (
        "| experts | tokens/expert | build from raw text s | build from tokens s (bm25s, ratio) "
        "| build peak MB (bm25s) | our build peak RSS MB (index kept) "
        "| query p50 ms (bm25s, ratio) | query p95 ms (bm25s) | peak RSS MB |"
    )
    print(head)
    print("|" + "---|" * 9)
    for r in rows:
        raw = ("~" if r["raw_scaled"] else "") + f"{r['raw_build_s']:.1f}"
        rss = (
            "n/a"
            if r["build_rss_peak_mb"] is None
            else f"{r['build_rss_peak_mb']:.0f} ({r['index_rss_mb']:.0f})"
        )
        print(
            f"| {r['n']:,} | {r['tokens_per_expert']:.0f} | {raw} "
            f"| {r['build_s']:.2f} ({r['bm25s_build_s']:.2f}, "
            f"{r['build_s'] / r['bm25s_build_s']:.2f}) "
            f"| {r['build_peak_mb']:.0f} ({r['bm25s_build_peak_mb']:.0f}) | {rss} "
            f"| {r['p50_ms']:.2f} ({r['bm25s_p50_ms']:.2f}, {r['p50_ms'] / r['bm25s_p50_ms']:.2f}) "
            f"| {r['p95_ms']:.2f} ({r['bm25s_p95_ms']:.2f}) | {r['peak_rss_mb']:.0f} |"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
