"""kill -9 soak: workers killed during concurrent writes lose no acknowledged write."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_no_acknowledged_write_is_lost_when_workers_are_killed(tmp_path, migrated):
    args = [sys.executable, "scripts/soak_kill.py", "--seconds", "12", "--kill-every", "2",
            "--clients", "6", "--port", str(_free_port())]
    if os.environ.get("TEST_DATABASE_URL"):
        # this run's PostgreSQL database (tests/conftest.py): the soak wipes its rows, as every
        # test does
        args += ["--database-url", migrated.url]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kills"] >= 3
    assert result["acknowledged"] > 50
    assert result["missing"] == 0, result
    assert result.get("server_errors", 0) == 0, result
