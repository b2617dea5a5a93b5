"""Soak the quick start with mixed traffic and print RSS/PSS per process over time.

Either starts its own stack on 127.0.0.1 (a scratch SQLite database with the demo data, the job
consumer and gunicorn with ``--workers``), or, with ``--attach``, soaks a running quick start
(``PORT=8500 ./scripts/run`` in this checkout: the gunicorn master and the ``flask jobs-worker``
are found by their command line and working directory, or given with ``--master-pid`` and
``--consumer-pid``; the token is made in the quick start's database). Then ``--clients`` threads
run ``--minutes`` (at most 60) of mixed traffic: free-text ``POST /api/v1/match`` (70 %), expert
list pages, ``/healthz``, and expert upserts through ``PUT /api/v1/experts`` (every write moves
the experts data version, so workers rebuild their index). At the start, every ``--every``
seconds and at the end it prints RSS and PSS (from /proc/PID/smaps_rollup) of the master, each
worker and the consumer, the range of the RSS samples taken every ``--sample`` seconds since
the previous line, the requests done and the errors (5xx and network failures) so far, and the
load average (the figures are under whatever else the machine runs); at the end a
summary per process (start, after warm-up, peak, end), then one JSON line. A stack it started
is stopped at the end; an attached one is left running.

Usage::

    .venv/bin/python scripts/soak.py --minutes 30 [--experts 2000] [--port 8102]
    .venv/bin/python scripts/soak.py --attach http://127.0.0.1:8500 --minutes 30 --every 300
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
from pathlib import Path
from typing import Any

import _http
from _http import call, children, stop_stack

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
WARMUP_MINUTES = 5.0


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


def find_quick_start() -> tuple[int, int]:
    """Return (gunicorn master, job consumer) pids of the quick start run in this checkout."""
    master = consumer = None
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if cwd != str(ROOT):
            continue
        words = [w.decode(errors="replace") for w in cmd]
        if any(w.endswith("gunicorn") for w in words[:2]):
            try:
                parent = (Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0"))
            except OSError:
                parent = []
            if not any(w.endswith(b"gunicorn") for w in parent[:2]):
                master = int(proc.name)
        elif "jobs-worker" in words:
            consumer = int(proc.name)
    if master is None or consumer is None:
        sys.exit("no quick start found in this checkout (PORT=... ./scripts/run); "
                 "give --master-pid and --consumer-pid")
    return master, consumer


def make_token(env: dict, name: str) -> str:
    """Create an API client that may read, rank and push experts of 武汉大学; return its token."""
    code = ("import sys\n"
            "from sqlalchemy import select\n"
            "from app import create_app\n"
            "from app.services.user_accounts import create_api_client\n"
            "from models import Institution\n"
            "db = create_app().extensions['db']\n"
            "with db.Session.begin() as s:\n"
            "    inst = s.scalar(select(Institution.id).where(Institution.name == '武汉大学'))\n"
            "    _c, token = create_api_client(s, sys.argv[1], None, institution_ids=[inst],\n"
            "                                  scopes=('read', 'rank', 'push_experts'))\n"
            "print(token)\n")
    return subprocess.run([str(VENV / "python"), "-c", code, name], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout.split()[-1]


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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


def start_stack(args: argparse.Namespace) -> tuple[str, subprocess.Popen, subprocess.Popen, Any]:
    """Start a scratch stack with the demo data; return (token, web, consumer, log file)."""
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'soak.db'}", "PORT": str(args.port),
           "WORKERS": str(args.workers), "SEMANTIC_ENABLED": str(args.semantic),
           "WORKER_PID_HEADER": "1", "JSON_LOGS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_URL", None)
    flask = [str(VENV / "flask"), "--app", "app"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([str(VENV / "python"), "-c",
                    "from app import create_app; from app.services import demo_loader; "
                    f"a = create_app(); db = a.extensions['db']\n"
                    f"with db.unit_of_work() as s: demo_loader.load(s, n_experts={args.experts})"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    token = make_token(env, "浸泡测试")
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed by main
    web, consumer = _http.start_stack(ROOT, env, log)
    return token, web, consumer, log


def main() -> None:
    """Start (or attach to) the stack, soak it, print the memory table, stop what it started."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--experts", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=300.0, help="seconds between lines")
    parser.add_argument("--sample", type=float, default=30.0,
                        help="seconds between memory samples (each line gives their range)")
    parser.add_argument("--semantic", type=int, default=1)
    parser.add_argument("--attach", metavar="URL",
                        help="soak a running quick start of this checkout instead")
    parser.add_argument("--master-pid", type=int)
    parser.add_argument("--consumer-pid", type=int)
    args = parser.parse_args()
    minutes = min(max(args.minutes, 0.5), 60.0)
    web = consumer = log = None
    if args.attach:
        base = args.attach.rstrip("/")
        master_pid, consumer_pid = (
            (args.master_pid, args.consumer_pid) if args.master_pid and args.consumer_pid
            else find_quick_start())
        env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
        token = make_token(env, f"浸泡测试-{int(time.time())}")
    else:
        base = f"http://127.0.0.1:{args.port}"
        token, web, consumer, log = start_stack(args)
        master_pid, consumer_pid = web.pid, consumer.pid
    stop = threading.Event()
    counts: dict = {}
    lock = threading.Lock()
    table: dict[int, list[tuple[float, float, float]]] = {}
    names: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 300
        while call(base, token, "GET", "/healthz") != 200:
            if time.monotonic() > deadline or (web is not None and web.poll() is not None):
                sys.exit("the server did not start; see " + str(log.name if log else base))
            time.sleep(1)
        sys.path.insert(0, str(ROOT))
        from app.demo import content

        texts = [d.problem or d.title for d in content.build_demo(n_experts=50).demands][:200]
        clients = [threading.Thread(target=traffic, args=(base, token, texts, stop, counts,
                                                          lock, n), daemon=True)
                   for n in range(args.clients)]
        started = time.monotonic()
        for c in clients:
            c.start()
        print(f"{'min':>5} {'process':>16} {'RSS MB':>8} {'PSS MB':>8} "
              f"{'RSS min-max since last line':>28}")
        next_print = 0.0
        while True:
            t = (time.monotonic() - started) / 60
            procs = [("master", master_pid)] + [
                ("worker", p) for p in children(master_pid)] + [("consumer", consumer_pid)]
            for name, pid in procs:
                rss, pss = mem(pid)
                names[pid] = name
                table.setdefault(pid, []).append((t, rss, pss))
            if t * 60 >= next_print or t >= minutes:
                for name, pid in procs:
                    _t, rss, pss = table[pid][-1]
                    window = [r[1] for r in table[pid] if r[0] > t - args.every / 60 - 1e-9]
                    print(f"{t:5.1f} {f'{name} {pid}':>16} {rss:8.0f} {pss:8.0f} "
                          f"{f'{min(window):.0f}-{max(window):.0f}':>28}", flush=True)
                with lock:
                    done = sum(counts.values())
                    errors = sum(v for k, v in counts.items() if k == 0 or k >= 500)
                    print(f"      requests {done}, errors {errors} (5xx or no answer), by "
                          f"status {dict(sorted(counts.items()))}; load average "
                          f"{load_average()}", flush=True)
                next_print += args.every
            if t >= minutes:
                break
            time.sleep(min(args.sample, max(1.0, (minutes - t) * 60)))
    finally:
        stop.set()
        stop_stack(web, consumer)
        if log is not None:
            log.close()
    # "after warm-up" is the first sample at or after --warmup minutes (5 by default): the
    # encoder, the first index rebuilds and the first requests' allocations are in by then, so
    # what follows is growth
    summary = {}
    for pid, rows in table.items():
        if len(rows) < 2:
            continue
        warm = next((r for r in rows if r[0] >= WARMUP_MINUTES), rows[-1])
        # the heap saws up and down with each index rebuild (two snapshots alive for a while):
        # growth is judged on the highest sample of the first and the last warm window
        span = args.every / 60
        first = [r[1] for r in rows if WARMUP_MINUTES <= r[0] < WARMUP_MINUTES + span]
        last = [r[1] for r in rows if r[0] > rows[-1][0] - span]
        summary[f"{names[pid]} {pid}"] = {
            "rss_max_first_window": round(max(first or [warm[1]])),
            "rss_max_last_window": round(max(last)),
            "rss_start": round(rows[0][1]), "rss_warm": round(warm[1]),
            "rss_peak": round(max(r[1] for r in rows)), "rss_end": round(rows[-1][1]),
            "pss_start": round(rows[0][2]), "pss_warm": round(warm[2]),
            "pss_end": round(rows[-1][2]),
            "growth_after_warmup": round(rows[-1][1] / warm[1] - 1, 3) if warm[1] else None}
    for name, m in summary.items():
        print(f"{name}: RSS {m['rss_start']} at start, {m['rss_warm']} after warm-up, peak "
              f"{m['rss_peak']}, {m['rss_end']} MB at the end "
              f"({m['growth_after_warmup']:+.1%} after warm-up); highest in the first warm "
              f"window {m['rss_max_first_window']}, in the last {m['rss_max_last_window']}; "
              f"PSS {m['pss_start']} -> {m['pss_warm']} -> {m['pss_end']} MB")
    with lock:
        done = sum(counts.values())
        errors = sum(v for k, v in counts.items() if k == 0 or k >= 500)
        print(json.dumps({"minutes": minutes, "base": base, "processes": summary,
                          "requests": done, "errors": errors,
                          "by_status": {str(k): v for k, v in counts.items()},
                          "load_average": load_average()}))

if __name__ == "__main__":
    main()
