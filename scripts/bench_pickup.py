"""Time until one imported expert is rankable on every worker of a running stack.

Attaches to a running quick start (``./scripts/run``, or the stack ``scripts/soak.py`` starts;
its workers must send ``X-Worker-Pid``, i.e. ``WORKER_PID_HEADER=1``): creates an API client
with the ``rank`` scope (``flask create-api-client``), writes a CSV with one new expert whose
research fields are a made-up phrase, imports it with ``flask import experts`` (the importer the
pages use, one transaction), then sends ``POST /api/v1/match`` with that phrase from two client
threads until every worker (told apart by ``X-Worker-Pid``) has returned the new expert. Prints
the import time and, per worker, the seconds from the import's commit until that worker first
ranked the expert; the last line is one JSON object.

Usage::

    .venv/bin/python scripts/bench_pickup.py --url http://127.0.0.1:8102 \\
        --database-url sqlite:////tmp/soak-xxxx/soak.db [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"


def flask(env: dict, *args: str) -> str:
    """Run a ``flask`` command of this checkout against the stack's database; return stdout."""
    done = subprocess.run([str(VENV / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"flask {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def match(url: str, token: str, text: str) -> tuple[str | None, list[str]]:
    """Rank ``text``; return (worker pid, names of the experts returned)."""
    req = urllib.request.Request(f"{url}/api/v1/match", method="POST",
                                 data=json.dumps({"text": text, "top": 20}).encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = json.loads(resp.read())
            return resp.headers.get("X-Worker-Pid"), [h.get("name") for h in body["items"]]
    except (urllib.error.URLError, OSError, ValueError):
        return None, []


def main() -> None:
    """Run the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url}
    env.pop("TEST_DATABASE_URL", None)
    token = flask(env, "create-api-client", f"拾取计时{random.randint(0, 10**6)}",
                  "--scope", "rank").split()[-1]
    from sqlalchemy import create_engine, text

    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        institution = conn.execute(text("select name from institution order by id")).scalar()
    engine.dispose()
    n = random.randint(10**5, 10**6 - 1)
    name = f"拾取测试专家{n}"
    phrase = f"钌铱钛阳极涂层析氯电位{n}号工艺"
    tmp = Path(tempfile.mkdtemp(prefix="pickup-"))
    csv = tmp / "one_expert.csv"
    csv.write_text("姓名,所在单位,研究方向\n" f"{name},{institution},{phrase}\n", encoding="utf-8")
    before_pid, before = match(args.url, token, phrase)
    assert name not in before, "the expert is there before its import"
    started = time.perf_counter()
    print(flask(env, "import", "experts", str(csv)).strip())
    committed = time.perf_counter()  # the command returns after its one commit
    print(f"import of one expert (flask import experts, one transaction): "
          f"{committed - started:.2f} s")
    first: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() and time.perf_counter() - committed < args.timeout:
            pid, names = match(args.url, token, phrase)
            if pid and name in names:
                with lock:
                    first.setdefault(pid, time.perf_counter() - committed)
                    if len(first) >= args.workers:
                        stop.set()
            time.sleep(0.05)

    threads = [threading.Thread(target=poll) for _ in range(max(2, args.workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for pid, seconds in sorted(first.items(), key=lambda kv: kv[1]):
        print(f"worker {pid}: ranked the new expert {seconds:.2f} s after the import's commit")
    if len(first) < args.workers:
        print(f"only {len(first)} of {args.workers} workers ranked it within {args.timeout:.0f} s")
    print(json.dumps({"import_seconds": round(committed - started, 2),
                      "pickup_seconds_per_worker": sorted(round(s, 2) for s in first.values()),
                      "workers_seen": len(first), "workers_expected": args.workers,
                      "first_response_pid": before_pid}))
    sys.exit(0 if len(first) >= args.workers else 1)


if __name__ == "__main__":
    main()
