"""Concurrent demand creators over real HTTP: created / 5xx / duplicate codes (0 / 0 expected).

Starts the app in this process on a threaded WSGI server on 127.0.0.1 (a fresh SQLite file by
default, or ``--database-url`` such as a PostgreSQL test database, which is migrated), signs in
``--clients`` district liaisons of one district and lets each create demands through
``POST /api/v1/demands`` for ``--seconds``. Half the demands name one of five shared new
enterprises, so the enterprise get-or-create races too. Prints one line per second of progress
and, last, one JSON object.

    .venv/bin/python scripts/bench_concurrency.py --clients 16 --seconds 60
    .venv/bin/python scripts/bench_concurrency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from _http import scratch_database, signed_in
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from app.services import reference_data, user_accounts
from models import Demand, District, Enterprise, User

PASSWORD = "Bench#2026-concurrency"


def _prepare(url: str, clients: int) -> tuple[object, list[str]]:
    app = create_app({"DATABASE_URL": url, "SEMANTIC_ENABLED": False, "TESTING": False,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                      "SECRET_KEY": "bench-" + "x" * 40, "LOGIN_MAX_FAILURES_ACCOUNT": 10**6,
                      "LOGIN_MAX_FAILURES_ADDRESS": 10**6})
    db = app.extensions["db"]
    db.upgrade()
    names = [f"bench{n:02d}" for n in range(clients)]
    with db.unit_of_work() as session:
        reference_data.clear_all(session)
        district = session.scalar(select(District).where(District.name == "洪山区"))
        for name in names:
            if session.scalar(select(User.id).where(User.username == name)) is None:
                user_accounts.create_user(session, name, PASSWORD, f"并发测试{name[-2:]}",
                                     "district_liaison", district_id=district.id)
    return app, names


def _client(base: str, username: str, stop: threading.Event, seq: list[int],
            statuses: Counter, lock: threading.Lock) -> None:
    try:
        _create_until(base, username, stop, seq, statuses, lock)
    except Exception as exc:  # noqa: BLE001 - a client that cannot start is reported, not hidden
        print(f"client {username} stopped: {type(exc).__name__}: {exc}", flush=True)
        with lock:
            statuses[f"client error: {type(exc).__name__}"] += 1


def _create_until(base: str, username: str, stop: threading.Event, seq: list[int],
                  statuses: Counter, lock: threading.Lock) -> None:
    opener, _ = signed_in(base, username, PASSWORD)
    while not stop.is_set():
        with lock:
            seq[0] += 1
            n = seq[0]
        body = {"title": f"并发登记的需求 {n}", "problem": "测试并发写入时需求编号是否唯一",
                "new_enterprise": True,
                "enterprise_name": (f"并发共享企业{n % 5}" if n % 2 else
                                    f"并发企业{username}-{n}")}
        req = urllib.request.Request(f"{base}/api/v1/demands", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
        try:
            with opener.open(req, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, TimeoutError):
            status = 599
        with lock:
            statuses[status] += 1


def main() -> None:
    """Run the creators and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    url, _tmp = scratch_database(parser, args.database_url, "benchmark", "bench.db")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app, names = _prepare(url, args.clients)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    stop, lock, seq, statuses = threading.Event(), threading.Lock(), [0], Counter()
    threads = [threading.Thread(target=_client, args=(base, n, stop, seq, statuses, lock))
               for n in names]
    started = time.monotonic()
    for t in threads:
        t.start()
    while time.monotonic() - started < args.seconds:
        time.sleep(min(5.0, args.seconds))
        with lock:
            print(f"{time.monotonic() - started:5.0f} s  responses {sum(statuses.values()):6d}  "
                  f"{dict(sorted(statuses.items(), key=str))}", flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=90)
    server.shutdown()
    with app.extensions["db"].unit_of_work() as session:
        stored = session.scalar(select(func.count(Demand.id)))
        duplicates = session.execute(select(Demand.code).group_by(Demand.code)
                                     .having(func.count(Demand.id) > 1)).all()
        shared = session.scalar(select(func.count(Enterprise.id))
                                .where(Enterprise.name.like("并发共享企业%")))
        reference_data.clear_all(session)
    created = statuses.get(201, 0)
    result = {"database": url.split(":", 1)[0], "clients": args.clients,
              "seconds": args.seconds, "created": created, "stored": stored,
              "server_errors": sum(v for k, v in statuses.items()
                                   if not isinstance(k, int) or k >= 500),
              "other_refusals": sum(v for k, v in statuses.items()
                                    if isinstance(k, int) and 400 <= k < 500),
              "duplicate_codes": len(duplicates), "shared_enterprises": shared,
              "creates_per_second": round(created / args.seconds, 1)}
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
