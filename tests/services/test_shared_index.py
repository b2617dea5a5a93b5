"""The host's shared expert index: a base on disk mapped by every worker, a delta beside it.

Two apps on one ``INDEX_DIR`` stand for two workers of a host; a child process shows that
loading maps the files (no private copy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app.lifecycle import index_root, search_index
from app.services import search
from app.services.indexing import EXPERTS, bump_version
from app.services.search import shared_index
from app.services.search.shared_index import list_bases, newest_base
from matching.ranker.segments import SegmentedRanker
from models import Expert
from tests import factories as f
from tests.conftest import app_on, session_on

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared(migrated, tmp_path):
    """Two apps (two workers of one host) sharing one index directory."""
    # no margin: a test's experts are all written within seconds of the base
    config = {"INDEX_SHARED": True, "INDEX_DIR": str(tmp_path / "index"),
              "INDEX_AS_OF_MARGIN": 0, "INDEX_CHECK_SECONDS": 0}
    first = app_on(migrated, **config)
    second = app_on(migrated, **config)
    apps = (next(first), next(second))
    yield apps
    for gen in (second, first):
        next(gen, None)


def _ranked_ids(app, text: str) -> list[int]:
    with app.app_context():
        gen = session_on(app)
        s = next(gen)
        try:
            hits, _snap = search.rank_text(s, text, top=10)
            return [h.expert_id for h in hits]
        finally:
            next(gen, None)


def _snapshot(app):  # noqa: ANN202
    with app.app_context():
        gen = session_on(app)
        s = next(gen)
        try:
            return search.expert_snapshot(s)
        finally:
            next(gen, None)


def _write(app, fn):  # noqa: ANN001, ANN202 - fn(session) inside a committed unit of work
    with app.app_context(), app.extensions["db"].unit_of_work() as s:
        return fn(s)


def test_two_workers_map_one_base_and_partial_dirs_are_never_read(shared, tmp_path):
    one, two = shared
    first = _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]).id)
    root = index_root(one)
    # a build that died mid-way and a directory with a wrong format: neither is a base
    (root / ".tmp-1-deadbeef" / "ranker").mkdir(parents=True)
    (root / "experts-v9999999999-1").mkdir()
    (root / "experts-v9999999998-1").mkdir()
    (root / "experts-v9999999998-1" / "base.json").write_text(json.dumps({"format": -1}))
    assert _ranked_ids(one, "动力电池热失控") == [first]
    assert _ranked_ids(two, "动力电池热失控") == [first]
    bases = list_bases(root)
    assert len(bases) == 1  # built once for the host, by whichever worker came first
    a, b = _snapshot(one), _snapshot(two)
    assert a.base == b.base == bases[0].name
    assert a.ranker is not b.ranker
    # both read the same files, mapped: nothing of the postings was copied into the process
    for snap in (a, b):
        assert not snap.ranker.postings_.cos.data.flags.writeable
        assert not snap.ranker.postings_.cos.data.flags.owndata


def test_a_child_process_maps_the_base_files(shared):
    one, _two = shared
    _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]))
    _ranked_ids(one, "动力电池")
    base = newest_base(index_root(one))
    code = (
        "import sys; from pathlib import Path;"
        "from app.services.search.shared_index import load_base, newest_base;"
        "snap = load_base(newest_base(Path(sys.argv[1])));"
        "snap.ranker.rank(['w:动力', 'w:电池'], top=3);"
        "maps = Path('/proc/self/maps').read_text();"
        "print(sum(1 for line in maps.splitlines() if sys.argv[1] in line))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(base.path.parent)], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    assert int(out.stdout.strip().splitlines()[-1]) >= 5  # the .npy files, mapped


def test_a_saved_expert_is_ranked_by_every_worker_without_a_rebuild(shared):
    one, two = shared
    _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]))
    _ranked_ids(one, "动力电池")
    _ranked_ids(two, "动力电池")
    base = newest_base(index_root(one)).name
    new = _write(one, lambda s: f.expert(s, "李娜", ["印染废水脱氮处理工艺"]).id)
    for app in (one, two):
        assert _ranked_ids(app, "印染废水脱氮") == [new]
        snap = _snapshot(app)
        assert isinstance(snap.ranker, SegmentedRanker) and snap.delta_size == 1
        assert snap.base == base  # the same base, no new one built
    assert [b.name for b in list_bases(index_root(one))] == [base]


def test_changed_and_deleted_experts_are_masked_in_the_base(shared):
    one, two = shared
    kept = _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]).id)
    gone = _write(one, lambda s: f.expert(s, "王强", ["动力电池回收利用"]).id)
    moved = _write(one, lambda s: f.expert(s, "赵敏", ["动力电池隔膜材料"]).id)
    assert set(_ranked_ids(two, "动力电池")) == {kept, gone, moved}

    def change(s):  # noqa: ANN001, ANN202
        s.delete(s.get(Expert, gone))
        e = s.get(Expert, moved)
        e.items[0].text = e.items[0].title = "印染废水脱氮处理"
        from app.services.indexing import refresh_expert_tokens

        refresh_expert_tokens(e)
        bump_version(s, EXPERTS)

    _write(one, change)
    assert _ranked_ids(two, "动力电池") == [kept]
    assert _ranked_ids(two, "印染废水脱氮") == [moved]
    assert _snapshot(two).n_experts == 2


def test_the_index_job_folds_the_delta_into_a_new_base(shared):
    one, two = shared
    _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]))
    _ranked_ids(two, "动力电池")
    new = _write(one, lambda s: f.expert(s, "李娜", ["印染废水脱氮处理工艺"]).id)
    assert _snapshot(two).delta_size == 1
    with one.app_context(), one.extensions["db"].Session() as s:
        # what the index job's handler does
        shared_index.build_base(s, index_root(one), margin=timedelta(0))
    snap = _snapshot(two)
    assert snap.delta_size == 0 and not isinstance(snap.ranker, SegmentedRanker)
    assert _ranked_ids(two, "印染废水脱氮") == [new]


def test_a_failed_build_leaves_the_old_base_serving(shared, monkeypatch):
    one, two = shared
    first = _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]).id)
    _ranked_ids(two, "动力电池")
    before = list_bases(index_root(one))

    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(shared_index, "save_state", broken)
    with one.app_context(), one.extensions["db"].Session() as s, pytest.raises(OSError):
        shared_index.build_base(s, index_root(one), margin=timedelta(0))
    assert list_bases(index_root(one)) == before
    assert not list(index_root(one).glob(".tmp-*"))  # the partial directory is gone
    assert _ranked_ids(two, "动力电池") == [first]
    assert search_index(two).snapshot.base == before[-1].name


@pytest.fixture
def two_hosts(migrated, tmp_path):
    """Two apps on one database, each with an index directory of its own (two hosts)."""
    gens = [app_on(migrated, INDEX_SHARED=True, INDEX_DIR=str(tmp_path / f"index-{host}"),
                   INDEX_AS_OF_MARGIN=0, INDEX_CHECK_SECONDS=0) for host in "ab"]
    yield tuple(next(gen) for gen in gens)
    for gen in reversed(gens):
        next(gen, None)


def test_every_host_builds_the_generation_the_index_job_built(two_hosts):
    a, b = two_hosts
    _write(a, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]))
    _ranked_ids(a, "动力电池")
    _ranked_ids(b, "动力电池")  # each host built its first base
    old_b = newest_base(index_root(b))
    new = _write(a, lambda s: f.expert(s, "李娜", ["印染废水脱氮处理工艺"]).id)
    assert _snapshot(b).delta_size == 1
    with a.app_context(), a.extensions["db"].Session() as s:  # what the index job does on A
        built = shared_index.build_generation(s, index_root(a), margin=timedelta(0))
        assert shared_index.newest_generation(s) == built.as_of
    assert newest_base(index_root(b)) == old_b  # B has not built it yet: the old base serves
    with b.app_context(), b.extensions["db"].Session() as s:  # B's consumer's check
        assert shared_index.follow_generation(s, index_root(a), lambda: None,
                                              timedelta(0)) is None  # A has it already
        followed = shared_index.follow_generation(s, index_root(b), lambda: None,
                                                  timedelta(0))
        assert followed is not None and followed.as_of >= built.as_of
        assert shared_index.follow_generation(s, index_root(b), lambda: None,
                                              timedelta(0)) is None  # once per host
    assert newest_base(index_root(b)) == followed
    snap = _snapshot(b)  # B's workers map it at their next check: the delta is folded
    assert snap.base == followed.name and snap.delta_size == 0
    assert _ranked_ids(b, "印染废水脱氮") == [new]


def test_a_delta_past_a_twentieth_of_the_base_asks_once_for_a_new_base(shared, monkeypatch):
    assert [shared_index.fold_at(n) for n in (50, 10_000, 100_000, 10**6)] == \
        [200, 500, 2000, 2000]
    one, _two = shared
    _write(one, lambda s: f.expert(s, "陈安", ["动力电池热失控预警"]))
    asked = []
    host = shared_index.HostIndex(index_root(one), lambda: None,
                                  request_fold=lambda: asked.append(1), margin=timedelta(0))
    monkeypatch.setattr(shared_index, "FOLD_AT", (2, 2000))  # a base of 1 folds past 2
    with one.app_context(), one.extensions["db"].Session() as s:
        assert host.refresh(s).delta_size == 0
    for name in ("李娜", "王强"):
        _write(one, lambda s, name=name: f.expert(s, name, ["印染废水脱氮处理工艺"]))
    with one.app_context(), one.extensions["db"].Session() as s:
        assert host.refresh(s).delta_size == 2 and asked == []  # at the limit: not yet
    _write(one, lambda s: f.expert(s, "赵敏", ["城市污水除磷工艺"]))
    with one.app_context(), one.extensions["db"].Session() as s:
        assert host.refresh(s).delta_size == 3 and asked == [1]
        assert host.refresh(s).delta_size == 3 and asked == [1]  # once per base
