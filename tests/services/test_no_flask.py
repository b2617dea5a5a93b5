"""The services and the policy import no Flask (the web layer is the only one that does)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import app.policy
import app.services

ROOT = Path(__file__).resolve().parents[2]


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_every_service_and_policy_module_imports_without_flask():
    names = _modules(app.services) + _modules(app.policy)
    assert len(names) > 30
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"
