"""Regenerate app/demo/data/demo_vectors.npz: the demo's vectors, computed once at development time.

Loads the demo data into a scratch SQLite database, embeds it with the service's own embedding
job (the running recipe: profiles, items, demands) and writes the vectors keyed by text and
tagged with the encoder's model id. ``load-demo`` uses the file only when that tag equals the
running encoder's model id; otherwise the job queue embeds the demo as usual.

Usage::

    .venv/bin/python scripts/build_demo_vectors.py [--threads 2] [--experts 2000] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    """Build the file and print how long each step took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--experts", type=int, default=2000, help="the demo's default: 2000")
    parser.add_argument("--demands", type=int, default=500, help="the demo's default: 500")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from app import create_app
    from app.services import demo_loader, embedding, shipped_vectors
    from matching.semantic import load_encoder

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/demo.db", "TESTING": True,
                          "SEMANTIC_ENABLED": False})
        db = app.extensions["db"]
        db.upgrade()
        started = time.perf_counter()
        with db.unit_of_work() as session:
            demo_loader.load(session, n_experts=args.experts, n_demands=args.demands)
        loaded = time.perf_counter() - started
        encoder = load_encoder(True, n_threads=args.threads)
        if encoder is None:
            sys.exit("the encoder cannot be loaded: no file written")
        result = embedding.run(db, encoder)
        with db.Session() as session:
            n = shipped_vectors.export(session, encoder.model_id,
                                       args.out or shipped_vectors.DEMO_VECTORS)
        db.engine.dispose()
    out = args.out or shipped_vectors.DEMO_VECTORS
    print(f"demo loaded in {loaded:.1f} s; {result.summary()}")
    print(f"wrote {n} vectors ({out.stat().st_size / 1e6:.1f} MB) to {out}, "
          f"model {encoder.model_id}")


if __name__ == "__main__":
    main()
