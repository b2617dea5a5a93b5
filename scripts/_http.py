"""What the HTTP benchmarks share: a scratch database, a signed-in urllib session, a host's
processes (gunicorn and the job consumer) started and stopped, their CPU time.

scripts/ is not a package: a script imports this module with scripts/ on ``sys.path`` (the
directory of the script that runs is on it already).
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import os
import re
import signal
import subprocess
import tempfile
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
