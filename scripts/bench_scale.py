"""Benchmark the service's index at scale: a host's shared base, its delta, queries beside bm25s.

Synthetic experts are recombined from nsfc-dev (/work/shared/data/nsfc-dev or ``--data``): each
takes 3-7 items of random dev experts, with the stored tokens those items were segmented into
once (so generating 100k experts does not segment 100k texts), and random unit vectors for the
expert and its items (``--no-vectors`` leaves them out). They are written to a scratch SQLite
database and the service's own code reads it:

- the rebuild (``build_base``: rows read in chunks as token ids, written as a base directory)
  runs in a fresh process: ``rebuild_peak_mb`` is that process's peak RSS above its RSS
  before the build;
- two "workers" (fresh processes) map the base and rank every query (lexical and fused); the
  PSS of both above their PSS before loading is ``index_pss_mb_per_host`` (shared pages count
  once, split between them); then they touch every page of it (the worst case);
- this process maps the base, one expert is written, and ``pickup_seconds_one_expert`` is the
  time of the refresh that makes it rankable (a delta beside the base; a worker runs it at
  most ``INDEX_CHECK_SECONDS`` after the write);
- CPU per query of the lexical ranking (with explanations, top 10) interleaved with bm25s
  (same stored tokens, numba and numpy backends, one thread), and the wall p95 of the fused
  ranking with a stored demand vector, all on the snapshot as served (base + the delta).

Prints the measurements, then as its LAST line one JSON object with the keys issue 16 names
(``cpu_ms_per_match_request`` only with ``--http SECONDS``: scripts/_http.py ``match_run``;
else ``null``).

Usage::

    nice -n 10 .venv/bin/python scripts/bench_scale.py --experts 10000 [--http 60]
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
# one BLAS thread, as in a serving worker (app.lifecycle.one_blas_thread); set before numpy is
# imported here and in the spawned processes (they inherit the environment)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

MODEL = "bench-random-384"


def rss_mb() -> float:
    """Return this process's current RSS in MB."""
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int | None = None) -> float:
    """Return a process's proportional set size in MB (shared pages split between sharers)."""
    path = Path(f"/proc/{pid or os.getpid()}/smaps_rollup")
    for line in path.read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _unit(rng, n: int):  # noqa: ANN001, ANN202
    import numpy as np

    v = rng.standard_normal((n, 384), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def dev_demands(data: Path) -> list[list[str]]:
    """Return the dev demands' tokens."""
    from matching import text as mtext

    mtext.initialize()
    return [mtext.analyze(json.loads(line)["text"])
            for line in (data / "demands.jsonl").open(encoding="utf-8")]


def make_db(url: str, n: int, data: Path, seed: int, vectors: bool) -> list[list[str]]:
    """Write ``n`` synthetic experts with stored tokens; return the dev demands' tokens."""
    import numpy as np
    from sqlalchemy import insert

    from app.db import Database
    from matching import text as mtext
    from matching.semantic import vector_to_bytes
    from models import Expert, ExpertItem, Institution

    mtext.initialize()
    dev = [json.loads(line) for line in (data / "experts.jsonl").open(encoding="utf-8")]
    pool = [(it["title"], mtext.join_tokens(mtext.analyze(it.get("text") or it["title"])))
            for e in dev for it in e["items"]]
    demands = dev_demands(data)
    db = Database(url)
    db.upgrade()
    rng = random.Random(seed)
    vrng = np.random.default_rng(seed)
    with db.unit_of_work() as s:
        s.execute(insert(Institution), [{"id": i + 1, "name": f"合成大学{i}", "kind": "university"}
                                        for i in range(50)])
    item_id = 1
    for start in range(0, n, 5000):
        experts, items = [], []
        stop = min(n, start + 5000)
        profile_vecs = _unit(vrng, stop - start) if vectors else None
        for eid in range(start + 1, stop + 1):
            chosen = rng.sample(pool, rng.randint(3, 7))
            row = {"id": eid, "name": f"专家{eid}", "institution_id": rng.randint(1, 50),
                   "tokens": " ".join(t for _ti, t in chosen), "is_academician": False}
            if vectors:
                row.update(vector=vector_to_bytes(profile_vecs[eid - start - 1]),
                           vector_model=MODEL)
            experts.append(row)
            item_vecs = _unit(vrng, len(chosen)) if vectors else None
            for pos, (title, tokens) in enumerate(chosen):
                items.append({"id": item_id, "expert_id": eid, "position": pos,
                              "kind": "project", "title": title[:300], "tokens": tokens,
                              "vector": vector_to_bytes(item_vecs[pos]) if vectors else None})
                item_id += 1
        with db.unit_of_work() as s:
            s.execute(insert(Expert), experts)
            s.execute(insert(ExpertItem), items)
    db.engine.dispose()
    return demands


def _app(url: str, index_dir: Path):  # noqa: ANN202
    from app import create_app

    return create_app({"DATABASE_URL": url, "TESTING": True, "SEMANTIC_ENABLED": False,
                       "INDEX_SHARED": True, "INDEX_DIR": str(index_dir),
                       "INDEX_CHECK_SECONDS": 0, "INDEX_AS_OF_MARGIN": 0})


def rebuild(url: str, index_dir: Path) -> tuple[float, float, float]:
    """Build a base in this (fresh) process: (seconds, peak MB above the start, RSS before)."""
    from app.services.search.shared_index import build_base

    app = _app(url, index_dir)
    with app.extensions["db"].Session() as s:
        s.scalar(__import__("sqlalchemy").text("select 1"))
    before = rss_mb()
    started = time.perf_counter()
    with app.extensions["db"].Session() as s:
        # no margin: every row was committed by another process before the build started
        build_base(s, index_dir, MODEL, margin=__import__("datetime").timedelta(0))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, peak - before, before


def worker(index_dir: Path, queries: list[list[str]], ready, phase, done) -> None:  # noqa: ANN001
    """Map the base like a serving worker and rank; then touch all of it; stay until told."""
    import numpy as np

    from app.lifecycle import one_blas_thread
    from app.services.search.shared_index import load_base, newest_base
    from matching import text as mtext

    mtext.initialize()
    one_blas_thread()
    before = pss_mb()
    snap = load_base(newest_base(index_dir))
    rng = np.random.default_rng(2)
    for q in queries:
        v = _unit(rng, 1)[0]
        try:
            snap.ranker.rank(q, top=10)
            if snap.expert_vectors is not None:
                snap.ranker.rank(q, top=10, query_vector=v, vectors=snap.expert_vectors,
                                 semantic_weight=0.3)
        except ValueError:
            pass
    ready.put((os.getpid(), before))
    phase.wait(600)
    seen: set[int] = set()

    def touch(obj: object, depth: int = 0) -> None:
        if depth > 4 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind in "fiub" and obj.size:
                obj.view(np.uint8).sum(dtype=np.uint64)
            return
        for name in ("data", "indices", "indptr"):
            if isinstance(getattr(obj, name, None), np.ndarray):
                touch(getattr(obj, name), depth + 1)
        values = obj.values() if isinstance(obj, dict) else \
            vars(obj).values() if hasattr(obj, "__dict__") else ()
        for value in values:
            touch(value, depth + 1)

    touch(snap.ranker)
    touch(snap.expert_vectors)
    touch(snap.has_vector)
    ready.put((os.getpid(), before))
    done.wait(600)


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nsfc-dev")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-vectors", action="store_true", help="experts without vectors")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="keep the scratch database in DIR and reuse it when it is there "
                             "(a copy is used, so the one-expert write does not stay)")
    parser.add_argument("--http", type=float, metavar="SECONDS",
                        help="also serve the database with gunicorn and the job consumer and "
                             "post /api/v1/match from --http-clients threads for SECONDS "
                             "(cpu_ms_per_match_request; the issue's figure is at 10k)")
    parser.add_argument("--http-clients", type=int, default=16)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    url = f"sqlite:///{tmp / 'scale.db'}"
    index_dir = tmp / "index"
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    kept = args.reuse / f"scale-{args.experts}-{args.seed}-{int(not args.no_vectors)}.db" \
        if args.reuse else None
    if kept is not None and kept.exists():
        import shutil

        shutil.copyfile(kept, tmp / "scale.db")
        demands = dev_demands(args.data)
        print(f"{args.experts} synthetic experts copied from {kept}")
    else:
        with ctx.Pool(1) as pool:
            demands = pool.apply(make_db, (url, args.experts, args.data, args.seed,
                                           not args.no_vectors))
        print(f"{args.experts} synthetic experts written in {time.perf_counter() - t0:.1f} s")
        if kept is not None:
            import shutil

            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp / "scale.db", kept)
    with ctx.Pool(1) as pool:  # a fresh process: its peak RSS is the rebuild's alone
        rebuild_s, peak, before = pool.apply(rebuild, (url, index_dir))
    print(f"rebuild (rows in chunks as token ids, base written): {rebuild_s:.2f} s, "
          f"peak {peak:.0f} MB above the {before:.0f} MB before it")
    size = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    print(f"base on disk: {size / 2**20:.0f} MB")
    queries = [q for q in demands if q][: args.queries]

    # two workers of one host map the base: PSS above their PSS before loading
    ready, phase, done = ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=worker, args=(index_dir, queries, ready, phase, done))
             for _ in range(2)]
    for p in procs:
        p.start()
    befores = dict(ready.get(timeout=1800) for _ in procs)
    served = sum(pss_mb(pid) - befores[pid] for pid in befores)
    phase.set()
    for _ in procs:
        ready.get(timeout=1800)
    pss = {pid: pss_mb(pid) for pid in befores}
    done.set()
    for p in procs:
        p.join(60)
    index_pss = sum(pss[pid] - befores[pid] for pid in befores)
    print(f"two workers mapping the base: PSS above their start {served:.0f} MB for the host "
          f"after {len(queries)} lexical and fused rankings each; every page touched: "
          + ", ".join(f"{pss[p] - befores[p]:.0f} MB" for p in befores)
          + f", {index_pss:.0f} MB for the host")

    import numpy as np
    from sqlalchemy import insert

    from app.services.indexing import EXPERTS, bump_version
    from app.services.search.shared_index import HostIndex
    from models import Expert

    app = _app(url, index_dir)
    db = app.extensions["db"]
    host = HostIndex(index_dir, lambda: MODEL)
    started = time.perf_counter()
    with db.Session() as s:
        host.refresh(s)
    print(f"a worker maps the base: {time.perf_counter() - started:.2f} s")
    with db.unit_of_work() as s:
        s.execute(insert(Expert), [{"id": args.experts + 1, "name": "新专家", "institution_id": 1,
                                    "tokens": "w:新专家 w:量子点发光 w:量子点发光 c:量"}])
        bump_version(s, EXPERTS)
    started = time.perf_counter()
    with db.Session() as s:
        snap = host.refresh(s)
    pickup = time.perf_counter() - started
    found = [r.expert_id for r in snap.ranker.rank(["w:量子点发光"], top=3)]
    assert found[:1] == [args.experts + 1], found
    from app.config import Config

    check = float(Config.INDEX_CHECK_SECONDS)
    print(f"pick-up of one new expert (delta of {snap.delta_size} beside the base, no rebuild): "
          f"{pickup:.3f} s, ranked first for its own word; a serving worker checks every "
          f"{check:.0f} s")

    cpu, rcpu, bcpu, ncpu = [], [], [], []
    bm25 = _bm25(db, queries)
    for q in queries:
        c0 = time.process_time()
        try:
            snap.ranker.rank(q, top=10)
        except ValueError:
            continue
        cpu.append((time.process_time() - c0) * 1000)
        c0 = time.process_time()  # the same ranking without explanations: bm25s's work
        lq, _, _ = snap.ranker._lexical(q)
        snap.ranker._lexical_top(lq, lq.a > 0, 10)
        rcpu.append((time.process_time() - c0) * 1000)
        for retriever, backend in bm25:
            ids = [[retriever.vocab_dict[t] for t in q if t in retriever.vocab_dict]]
            if ids[0]:
                c0 = time.process_time()
                retriever.retrieve(ids, k=10, show_progress=False, n_threads=1,
                                   backend_selection=backend)
                (ncpu if backend == "numba" else bcpu).append(
                    (time.process_time() - c0) * 1000)
    lexical_p50 = statistics.median(cpu)
    numba_p50 = statistics.median(ncpu) if ncpu else None
    numpy_p50 = statistics.median(bcpu) if bcpu else None
    print(f"lexical rank with explanations, top 10: CPU p50 {lexical_p50:.2f} ms over "
          f"{len(cpu)} dev demands; bm25s numba p50 {numba_p50 and round(numba_p50, 2)} ms, "
          f"numpy p50 {numpy_p50 and round(numpy_p50, 2)} ms (retrieval only, no explanation); "
          f"ours without explanations p50 {statistics.median(rcpu):.2f} ms")
    fused_p95 = None
    if snap.expert_vectors is not None:
        rng = np.random.default_rng(1)
        vecs = _unit(rng, len(queries))
        wall = []
        for q, v in zip(queries, vecs, strict=True):
            t = time.perf_counter()
            try:
                snap.ranker.rank(q, top=10, query_vector=v, vectors=snap.expert_vectors,
                                 semantic_weight=0.3)
            except ValueError:
                continue
            wall.append((time.perf_counter() - t) * 1000)
        fused_p95 = float(np.percentile(wall, 95))
        print(f"fused ranking with a stored demand vector, top 10: wall p95 {fused_p95:.2f} ms, "
              f"p50 {statistics.median(wall):.2f} ms")
    if args.http:
        from _http import match_run  # scripts/ is on sys.path: this script's directory

        http = match_run(ROOT, tmp / "scale.db", index_dir, args.data, args.http_clients,
                         args.http)
    else:
        http = None
    print(json.dumps({
        "experts": args.experts, "rebuild_seconds": round(rebuild_s, 2),
        "rebuild_peak_mb": round(peak), "index_pss_mb_per_host": round(served),
        "index_pss_mb_per_host_all_pages_touched": round(index_pss),
        "pickup_seconds_one_expert": round(pickup, 3),
        "fused_p95_ms_stored_vector": None if fused_p95 is None else round(fused_p95, 2),
        "lexical_cpu_p50_ms": round(lexical_p50, 3),
        "bm25s_numba_cpu_p50_ms": None if numba_p50 is None else round(numba_p50, 3),
        "bm25s_numpy_cpu_p50_ms": None if numpy_p50 is None else round(numpy_p50, 3),
        "cpu_ms_per_match_request": http and http["cpu_ms_per_match_request"],
        "base_disk_mb": round(size / 2**20), "http_match": http,
        "not_measured": [] if http else ["cpu_ms_per_match_request (--http SECONDS)"]}))


def _bm25(db, queries):  # noqa: ANN001, ANN202
    """bm25s indexes of the same stored tokens, numba and numpy backends (when installed)."""
    out = []
    try:
        import bm25s
        from sqlalchemy import select

        from models import Expert

        with db.Session() as s:
            corpus = [t.split() for t in s.scalars(select(Expert.tokens).order_by(Expert.id))]
        for backend in ("numba", "numpy"):
            try:
                retriever = bm25s.BM25(backend=backend)
                retriever.index(_bm25_tokens(bm25s, corpus), show_progress=False)
                retriever.retrieve([[0]], k=10, show_progress=False, n_threads=1,
                                   backend_selection=backend)  # compile outside the timing
                out.append((retriever, backend))
            except Exception as exc:  # noqa: BLE001 - a backend that is not installed
                print(f"bm25s {backend} not measured: {type(exc).__name__}: {exc}")
        del corpus
    except ImportError as exc:
        print(f"bm25s not measured: {exc}")
    return out


def _bm25_tokens(bm25s, corpus):  # noqa: ANN001, ANN202
    """Index pre-tokenized documents (the service's own stored tokens) in bm25s."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)


if __name__ == "__main__":
    main()
