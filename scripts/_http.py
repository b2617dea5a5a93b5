"""What the HTTP benchmarks share: a scratch database, a signed-in urllib session, a host's
processes (gunicorn and the job consumer) started and stopped, their CPU time.

scripts/ is not a package: a script imports this module with scripts/ on ``sys.path`` (the
directory of the script that runs is on it already).
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

#: The CSRF token of a page: the login form's hidden field or the shell's meta tag.
CSRF_TOKEN = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')


def scratch_database(parser: argparse.ArgumentParser, url: str | None, what: str,
                     filename: str) -> tuple[str, tempfile.TemporaryDirectory]:
    """Return the URL of the database a run may wipe: `url` if its name has 'test', else a
    fresh SQLite file `filename` in a temporary folder (kept alive by the returned object)."""
    tmp = tempfile.TemporaryDirectory()
    if url and "test" not in url.rsplit("/", 1)[-1]:
        parser.error(f"the {what} wipes its database: give a database whose name has 'test'")
    return url or f"sqlite:///{Path(tmp.name) / filename}", tmp


def signed_in(base: str, username: str, password: str,
              timeout: float = 30) -> tuple[urllib.request.OpenerDirector, str | None]:
    """Sign in through the login form; return the cookie session and the home page's CSRF token
    (None when the server sends no token)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login", timeout=timeout).read().decode()
    fields = {"username": username, "password": password}
    if token := CSRF_TOKEN.search(page):
        fields["csrf_token"] = token.group(1)
    opener.open(urllib.request.Request(f"{base}/login",
                                       data=urllib.parse.urlencode(fields).encode()),
                timeout=timeout).read()
    home = CSRF_TOKEN.search(opener.open(f"{base}/", timeout=timeout).read().decode())
    return opener, home.group(1) if home else None


def call(base: str, token: str, method: str, path: str, body: object = None) -> int:
    """Send one API request with a bearer token; return the status (0 on a network error)."""
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


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stack(root: Path, env: dict, log: IO) -> tuple[subprocess.Popen, subprocess.Popen]:
    """Start a host as ``scripts/run`` does: the ``flask jobs-worker`` consumer and gunicorn
    with the project's conf (``PORT``, ``WORKERS``, ``DATABASE_URL`` ... in ``env``); each in a
    session of its own (:func:`stop_stack`). Returns (web, consumer)."""
    venv = root / ".venv" / "bin"
    consumer = subprocess.Popen([str(venv / "flask"), "--app", "app", "jobs-worker"], cwd=root,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    web = subprocess.Popen([str(venv / "gunicorn"), "--config", "scripts/gunicorn_conf.py",
                            "wsgi:app"], cwd=root, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    return web, consumer


def stop_stack(*procs: subprocess.Popen | None) -> None:
    """Stop what :func:`start_stack` started (SIGTERM to each session, SIGKILL after 60 s)."""
    for proc in procs:
        if proc is None:
            continue
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """Return the child pids of a process (a gunicorn master's workers)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """Return a process's CPU time so far (utime + stime of /proc/PID/stat), 0 when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def match_run(root: Path, db_file: Path, index_dir: Path, data: Path, clients: int,
              seconds: float) -> dict:
    """Serve a copy of the scratch database with the real stack and measure ``/api/v1/match``.

    A host as ``scripts/run`` starts it (:func:`start_stack`: gunicorn with the
    project's conf on a free loopback port, lexical only, and the ``flask jobs-worker``
    consumer), the base already built under ``index_dir``; ``clients`` threads post dev demand
    texts for ``seconds`` after a warm-up. ``cpu_ms_per_match_request`` is the CPU time
    (utime + stime) of the gunicorn master and its workers over the run per answered request.
    Used by ``scripts/bench_scale.py --http SECONDS``.
    """
    import random
    import shutil
    import threading
    import time

    import numpy as np

    from app import create_app
    from app.services.user_accounts import create_api_client

    work = Path(tempfile.mkdtemp(prefix="bench-scale-http-"))
    shutil.copyfile(db_file, work / "http.db")
    url = f"sqlite:///{work / 'http.db'}"
    db = create_app({"DATABASE_URL": url, "TESTING": True}).extensions["db"]
    with db.unit_of_work() as s:
        _client, token = create_api_client(s, "bench-scale-http", None, scopes=("rank",))
    db.engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=url, PORT=str(port), SEMANTIC_ENABLED="0", INDEX_DIR=str(index_dir),
               JSON_LOGS="1", PYTHONUNBUFFERED="1", SECRET_KEY="bench-scale-" + "x" * 40)
    texts = [json.loads(line)["text"] for line in (data / "demands.jsonl").open(encoding="utf-8")]
    base = f"http://127.0.0.1:{port}"

    def post(text: str) -> int:
        return call(base, token, "POST", "/api/v1/match", {"text": text, "top": 10})

    log = (work / "server.log").open("w")
    web, consumer = start_stack(root, env, log)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError as exc:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit(f"no server: see {work / 'server.log'}") from exc
                time.sleep(0.5)
        for text in texts[:20]:  # every worker maps the base and warms its caches
            post(text)
        lock, stop = threading.Lock(), threading.Event()
        wall: list[float] = []
        statuses: dict[int, int] = {}

        def client(n: int) -> None:
            rng = random.Random(n)
            while not stop.is_set():
                t = time.perf_counter()
                status = post(rng.choice(texts))
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        wall.append((time.perf_counter() - t) * 1000)

        pids = [web.pid, *children(web.pid)]
        cpu0 = {pid: cpu_seconds(pid) for pid in pids}
        threads = [threading.Thread(target=client, args=(n,), daemon=True)
                   for n in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(150)
        elapsed = time.perf_counter() - started
        pids = sorted(set(pids) | set(children(web.pid)))
        cpu = sum(cpu_seconds(pid) - cpu0.get(pid, 0.0) for pid in pids)
    finally:
        stop_stack(web, consumer)
        log.close()
    ok = len(wall)
    out = {"clients": clients, "seconds": round(elapsed, 1), "requests": ok,
           "errors": sum(v for k, v in statuses.items() if k != 200),
           "requests_per_second": round(ok / elapsed, 1),
           "p50_ms": round(float(np.percentile(wall, 50)), 1) if ok else None,
           "p95_ms": round(float(np.percentile(wall, 95)), 1) if ok else None,
           "web_cpu_seconds": round(cpu, 2), "web_processes": len(pids),
           "cpu_ms_per_match_request": round(cpu * 1000 / ok, 2) if ok else None,
           "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    print(f"HTTP POST /api/v1/match, {clients} clients, {elapsed:.0f} s on gunicorn "
          f"(master + {len(pids) - 1} workers, lexical): {ok} answered, {out['errors']} not, "
          f"{out['requests_per_second']} requests/s, p50 {out['p50_ms']} ms, p95 "
          f"{out['p95_ms']} ms; CPU {cpu:.1f} s = {out['cpu_ms_per_match_request']} ms per "
          f"request (load average {out['load_average']})")
    return out
