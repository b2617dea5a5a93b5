"""Soak the quick start with mixed traffic and print RSS/PSS per process over time.

Starts its own stack on 127.0.0.1 (a scratch SQLite database with the demo data, the job
consumer and gunicorn with ``--workers``), then runs ``--clients`` threads for ``--minutes``
(at most 60) of mixed traffic: free-text ``POST /api/v1/match`` (70 %), expert list pages,
``/healthz``, and expert upserts through ``PUT /api/v1/experts`` (every write moves the experts
data version, so workers rebuild their index). Every ``--every`` seconds it prints RSS and PSS
(from /proc/PID/smaps_rollup) of the master, each worker and the consumer; at the end a summary
of each worker's first and last figures, then one JSON line. Everything is stopped at the end.

Usage::

    .venv/bin/python scripts/soak.py --minutes 30 [--experts 2000] [--port 8102]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
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


def mem(pid: int) -> tuple[float, float]:
    """Return (RSS, PSS) in MB of a process."""
    rss = pss = 0.0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def children(pid: int) -> list[int]:
    """Return the child pids of a process."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def call(base: str, token: str, method: str, path: str, body: object = None) -> int:
    """Send one request; return the status (0 on a network error)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def traffic(base: str, token: str, texts: list[str], stop: threading.Event,
            counts: dict, lock: threading.Lock, seed: int) -> None:
    """One client: mixed requests until ``stop``."""
    rng = random.Random(seed)
    while not stop.is_set():
        r = rng.random()
        if r < 0.70:
            text = rng.choice(texts)[: rng.randint(20, 240)] + f" {rng.randint(0, 10**6)}"
            status = call(base, token, "POST", "/api/v1/match", {"text": text, "top": 10})
        elif r < 0.80:
            status = call(base, token, "GET", f"/api/v1/experts?page={rng.randint(1, 20)}")
        elif r < 0.90:
            status = call(base, token, "GET", "/healthz")
        else:
            n = rng.randint(0, 10**6)
            status = call(base, token, "PUT", "/api/v1/experts", {"experts": [{
                "institution": "武汉大学", "name": f"浸泡测试专家{n % 50}",
                "research_fields": rng.choice(texts)[:60],
                "items": [{"title": rng.choice(texts)[:40], "text": rng.choice(texts)}]}]})
        with lock:
            counts[status] = counts.get(status, 0) + 1


def main() -> None:
    """Start the stack, soak it, print the memory table, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--experts", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=30.0)
    parser.add_argument("--semantic", type=int, default=1)
    args = parser.parse_args()
    minutes = min(max(args.minutes, 0.5), 60.0)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'soak.db'}", "PORT": str(args.port),
           "WORKERS": str(args.workers), "SEMANTIC_ENABLED": str(args.semantic),
           "WORKER_PID_HEADER": "1", "JSON_LOGS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_URL", None)
    flask = [str(VENV / "flask"), "--app", "app"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([str(VENV / "python"), "-c",
                    "from app import create_app; from app.services import demo; "
                    f"a = create_app(); db = a.extensions['db']\n"
                    f"with db.unit_of_work() as s: demo.load(s, n_experts={args.experts})"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    token = subprocess.run([*flask, "create-api-client", "浸泡测试"], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True).stdout.split()[-1]
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed below
    consumer = subprocess.Popen([*flask, "jobs-worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    web = subprocess.Popen([str(VENV / "gunicorn"), "--config", "scripts/gunicorn_conf.py",
                            "wsgi:app"], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{args.port}"
    stop = threading.Event()
    counts: dict = {}
    lock = threading.Lock()
    table: dict[int, list[tuple[float, float, float]]] = {}
    try:
        deadline = time.monotonic() + 300
        while call(base, token, "GET", "/healthz") != 200:
            if time.monotonic() > deadline or web.poll() is not None:
                sys.exit("the server did not start; see " + str(tmp / "server.log"))
            time.sleep(1)
        sys.path.insert(0, str(ROOT))
        from app.demo import content

        texts = [d.problem or d.title for d in content.build_demo(n_experts=50).demands][:200]
        clients = [threading.Thread(target=traffic, args=(base, token, texts, stop, counts,
                                                          lock, n), daemon=True)
                   for n in range(args.clients)]
        for c in clients:
            c.start()
        started = time.monotonic()
        print(f"{'min':>5} {'process':>18} {'RSS MB':>8} {'PSS MB':>8}")
        while True:
            t = (time.monotonic() - started) / 60
            procs = [("master", web.pid)] + [(f"worker {p}", p) for p in children(web.pid)] + [
                ("consumer", consumer.pid)]
            for name, pid in procs:
                rss, pss = mem(pid)
                table.setdefault(pid, []).append((t, rss, pss))
                print(f"{t:5.1f} {name:>18} {rss:8.0f} {pss:8.0f}", flush=True)
            with lock:
                print(f"      requests by status: {dict(sorted(counts.items()))}", flush=True)
            if t >= minutes:
                break
            time.sleep(min(args.every, max(1.0, (minutes - t) * 60)))
    finally:
        stop.set()
        for proc in (web, consumer):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    workers = {pid: rows for pid, rows in table.items()
               if pid not in (web.pid, consumer.pid) and len(rows) > 1}
    # "start" is the first sample after a minute of traffic: the encoder and the first
    # requests' allocations are in by then, so what follows is growth
    warm = {pid: next((r for r in rows if r[0] >= 1.0), rows[0]) for pid, rows in workers.items()}
    summary = {str(pid): {"rss_start": round(warm[pid][1]), "rss_end": round(rows[-1][1]),
                          "pss_start": round(warm[pid][2]), "pss_end": round(rows[-1][2]),
                          "rss_first": round(rows[0][1])}
               for pid, rows in workers.items()}
    for pid, s in summary.items():
        print(f"worker {pid}: RSS {s['rss_first']} at start, {s['rss_start']} after a minute, "
              f"{s['rss_end']} MB at the end; PSS {s['pss_start']} -> {s['pss_end']} MB")
    print(json.dumps({"minutes": minutes, "experts": args.experts, "workers": summary,
                      "requests": {str(k): v for k, v in counts.items()}}))


if __name__ == "__main__":
    main()
