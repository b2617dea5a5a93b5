"""Benchmark sending a shortlist: time of `propose_matches` for 3 experts on the demo data.

Loads the demo data (``--experts``, default 2,000 as the quick start) into a SQLite file under
/tmp (kept, so the next run reuses it), builds the index once, then for ``--rounds`` published
demands sends a shortlist of 3 experts of the demand's top 20 and rolls it back. Prints the
median and p95 in ms, then one JSON line.

Before/after: run the same script against another checkout (its ``app`` package is imported
from ``BENCH_ROOT``)::

    .venv/bin/python scripts/bench_propose.py
    git worktree add /tmp/old HEAD~1
    BENCH_ROOT=/tmp/old .venv/bin/python scripts/bench_propose.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--db", default=None, help="SQLite file (default under /tmp)")
    args = parser.parse_args()

    from sqlalchemy import select

    from app import create_app
    from app.services import demo_loader, match_writer
    from models import Demand, User

    path = Path(args.db or f"/tmp/bench_propose_{args.experts}.db")
    fresh = not path.exists()
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SEMANTIC_ENABLED": False,
                      "BACKGROUND_JOBS": False, "TESTING": False, "INDEX_CHECK_SECONDS": 3600})
    db = app.extensions["db"]
    db.upgrade()
    if fresh:
        started = time.perf_counter()
        with db.Session.begin() as session:
            demo_loader.load(session, n_experts=args.experts)
        print(f"demo loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    from app.services.search import rank_text

    times = []
    with app.app_context():
        session = db.Session()
        admin = session.scalar(select(User).where(User.role == "city_admin"))
        demands = session.scalars(select(Demand).where(Demand.status == "published")
                                  .order_by(Demand.id).limit(args.rounds)).all()
        rank_text(session, "锂电池", top=1)  # build the index outside the timing
        for d in demands:
            hits, _ = rank_text(session, d.text, top=20, demand=d)
            ids = [h.expert_id for h in hits][-3:]
            if len(ids) < 3:
                continue
            t0 = time.perf_counter()
            match_writer.propose_matches(session, admin, d, ids)
            times.append((time.perf_counter() - t0) * 1000)
            session.rollback()
        n_experts = app.extensions["search_index"].snapshot.n_experts
        session.close()
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"propose 3 experts, {n_experts} experts indexed, {len(times)} demands: "
          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms  (code from {ROOT})")
    print(json.dumps({"experts": n_experts, "rounds": len(times), "propose3_p50_ms": round(p50, 1),
                      "propose3_p95_ms": round(p95, 1)}))


if __name__ == "__main__":
    main()
