"""The house rules of issue 10 that a reader checks by listing files, kept by a test."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("app", "matching", "models")
#: Generated schema steps and the demo's fictional content are data, not modules to read.
LONG_ALLOWED = ("models/migrations/", "app/demo/content.py")


def _modules(*tops: str):
    for top in tops:
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in rel and "__pycache__" not in rel:
                yield rel, path


def test_no_two_modules_or_packages_share_a_name():
    names: dict[str, set[str]] = defaultdict(set)
    for rel, path in _modules(*LAYERS):
        if path.name == "__init__.py":
            names[path.parent.name].add(path.parent.relative_to(ROOT).as_posix() + "/")
        else:
            names[path.stem].add(rel)
    for top in LAYERS:
        names[top].add(top + "/")
    shared = {name: sorted(where) for name, where in names.items() if len(where) > 1}
    assert shared == {}


def test_no_module_over_500_lines():
    long = {rel: n for rel, path in _modules(*LAYERS, "tests", "scripts")
            if not rel.startswith(LONG_ALLOWED)
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
