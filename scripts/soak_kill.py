"""kill -9 soak: concurrent writes while gunicorn workers are killed; acknowledged writes lost.

Serves the app with gunicorn (2 workers) on 127.0.0.1 on a fresh SQLite file (or
``--database-url``, a database whose name has 'test': it is wiped), signs in ``--clients``
district liaisons, lets each create demands through ``POST /api/v1/demands`` (with the CSRF
token, as a browser would) and kills a worker with SIGKILL every ``--kill-every`` seconds. A write
is acknowledged when the client got its 201 with the new id; afterwards every acknowledged id must
be in the database. Prints one JSON object last; ``missing`` must be 0.

    .venv/bin/python scripts/soak_kill.py --seconds 60
    .venv/bin/python scripts/soak_kill.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import scratch_database, signed_in  # noqa: E402
from bench_concurrency import PASSWORD, _prepare  # noqa: E402

from app.services import reference_data  # noqa: E402
from models import Demand  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _session(base: str, username: str) -> tuple[urllib.request.OpenerDirector, str | None]:
    return signed_in(base, username, PASSWORD)


def _writer(base: str, username: str, stop: threading.Event, acked: list[int],
            counts: dict[str, int], lock: threading.Lock) -> None:
    opener = token = None
    n = 0
    while not stop.is_set():
        try:
            if opener is None:
                opener, token = _session(base, username)
            n += 1
            body = json.dumps({"title": f"断电测试需求 {username}-{n}", "new_enterprise": True,
                               "enterprise_name": f"断电测试企业{n % 7}"}).encode()
            req = urllib.request.Request(f"{base}/api/v1/demands", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-CSRFToken": token})
            with opener.open(req, timeout=30) as resp:
                demand_id = json.loads(resp.read())["id"]
            with lock:
                acked.append(int(demand_id))
        except urllib.error.HTTPError as exc:
            with lock:
                key = "server_errors" if exc.code >= 500 else "refused"
                counts[key] = counts.get(key, 0) + 1
        except (OSError, ValueError, AttributeError):  # the worker died mid-request: not acked
            with lock:
                counts["connection_errors"] = counts.get("connection_errors", 0) + 1
            time.sleep(0.2)


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def main() -> None:
    """Run the soak and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=3)
    parser.add_argument("--port", type=int, default=8350)
    args = parser.parse_args()
    url, _tmp = scratch_database(parser, args.database_url, "soak", "soak.db")
    app, names = _prepare(url, args.clients)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "soak-" + "k" * 40,
           "SEMANTIC_ENABLED": "0", "DEMO_MODE": "0", "PORT": str(args.port), "WORKERS": "2",
           "JSON_LOGS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config",
                               "scripts/gunicorn_conf.py", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            break
        except OSError:
            time.sleep(0.5)
    stop, lock = threading.Event(), threading.Lock()
    acked: list[int] = []
    counts: dict[str, int] = {}
    threads = [threading.Thread(target=_writer, args=(base, n, stop, acked, counts, lock))
               for n in names]
    for t in threads:
        t.start()
    kills = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(args.kill_every)
            victims = _workers(server.pid)
            if victims:
                os.kill(victims[kills % len(victims)], signal.SIGKILL)
                kills += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.terminate()
        server.wait(timeout=60)
    with app.extensions["db"].unit_of_work() as session:
        stored = set(session.scalars(select(Demand.id)))
        reference_data.clear_all(session)
    missing = sorted(set(acked) - stored)
    print(json.dumps({"database": url.split(":", 1)[0], "seconds": args.seconds,
                      "clients": args.clients, "kills": kills, "acknowledged": len(acked),
                      "stored": len(stored), "missing": len(missing), **counts},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
