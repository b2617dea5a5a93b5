"""CPU of the expert list page (``GET /experts``) with the list total counted each time or cached.

Reads a copy of a ``scripts/bench_scale.py`` database (``--reuse DIR`` keeps one, e.g.
``/tmp/scale/scale-10000-0-1.db``), signs in a city administrator made for the run and gets the
list page ``--requests`` times unfiltered, then with a search filter, first with the count cache
off (``listing.COUNTS`` of size 0: the total is counted by SQLite on every request, as before
the cache) and then on. Prints CPU ms per request (this process: the app runs in it) and, last,
one JSON object.

Usage::

    nice -n 10 .venv/bin/python scripts/bench_list_page.py /tmp/scale/scale-10000-0-1.db
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the list page with the count cache off, then on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a bench_scale.py SQLite database")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-list-"))
    shutil.copyfile(args.database, tmp / "list.db")
    from sqlalchemy import func, select

    from app import create_app
    from app.services import listing, user_accounts
    from app.services.indexing import EXPERTS, bump_version
    from models import Expert

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'list.db'}", "TESTING": True,
                      "SECRET_KEY": "bench-list", "WTF_CSRF_ENABLED": False,
                      "SEMANTIC_ENABLED": False, "RATELIMIT_ENABLED": False})
    db = app.extensions["db"]
    with db.unit_of_work() as s:
        user_accounts.create_user(s, "benchlist", "Bench#2026-list", "列表测试", "city_admin")
        bump_version(s, EXPERTS)  # a version row, as every real write leaves one
        experts = s.scalar(select(func.count(Expert.id)))
    client = app.test_client()
    resp = client.post("/login", data={"username": "benchlist", "password": "Bench#2026-list"})
    assert resp.status_code == 302, resp.status_code
    out: dict = {"experts": experts}
    for cache in ("off", "on"):
        listing.COUNTS.size = 0 if cache == "off" else 512
        for name, path in (("unfiltered", "/experts?page=3"), ("filtered", "/experts?q=大学")):
            assert client.get(path).status_code == 200  # warm (and fill the cache)
            cpu = []
            for _ in range(args.requests):
                c0 = time.process_time()
                resp = client.get(path)
                cpu.append((time.process_time() - c0) * 1000)
                assert resp.status_code == 200
            out[f"{name}_cache_{cache}_cpu_ms_p50"] = round(statistics.median(cpu), 2)
            print(f"GET {path}, count cache {cache}: CPU p50 {statistics.median(cpu):.2f} ms, "
                  f"min {min(cpu):.2f} ms over {args.requests} requests ({experts} experts)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
