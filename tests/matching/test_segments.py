"""The shared index on disk (memory-mapped) and the delta segment beside a base.

A base plus a delta must rank as a full rebuild of the same experts does: the same top 10,
up to the drift of the collection statistics the delta borrows from its base.
"""

from __future__ import annotations

import json
import mmap
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching.array_files import FrozenVocabulary, StringTable
from matching.ranker import ExpertRanker
from matching.ranker.segments import SegmentedRanker, StackedVectors, fit_delta
from matching.records import ExpertDoc, ItemDoc
from matching.text import analyze
from matching.vectors import ExpertVectors

#: The in-repository service-like set (2,000 fictional experts, 34 enterprise demands), so the
#: comparison runs wherever the suite runs (CI clones without ../shared beside them).
DATA = Path(__file__).resolve().parent / "data" / "service_like"


@pytest.fixture(scope="module")
def dev() -> tuple[list[ExpertDoc], list[list[str]]]:
    rng = random.Random(0)
    rows = [json.loads(line) for line in
            (DATA / "experts.jsonl").read_text(encoding="utf-8").splitlines()][:700]

    def text(e: dict) -> str:
        return "；".join(e.get(k) or "" for k in ("title", "research_fields", "summary"))

    def item(i: dict) -> ItemDoc:
        body = f"{i['title']} {i.get('text') or ''}"
        return ItemDoc(title=i["title"], tokens=tuple(analyze(body)))

    docs = [ExpertDoc(id=n + 1, tokens=tuple(analyze(text(e))),
                      items=tuple(item(i) for i in e["items"][:3]),
                      institution_id=rng.randint(1, 5)) for n, e in enumerate(rows)]
    demands = [json.loads(line)["text"] for line in
               (DATA / "demands.jsonl").read_text(encoding="utf-8").splitlines()]
    # and 26 research-field lines of experts in the delta: queries whose answers moved
    fields = [e["research_fields"] for e in rows[600:700:4]][:26]
    queries = [analyze(t) for t in [*demands, *fields]]
    return docs, [q for q in queries if q]


def _split(docs: list[ExpertDoc]):  # noqa: ANN202 - (base docs, delta docs, masked rows, final)
    """A base of the first 650 experts; then 20 changed, 10 deleted, 50 new."""
    base = docs[:650]
    changed = [replace(d, tokens=d.tokens + docs[-1 - k].tokens[:40]) for k, d in
               enumerate(base[100:120])]
    deleted = {d.id for d in base[200:210]}
    new = docs[650:]
    delta = changed + new
    masked = np.array([n for n, d in enumerate(base)
                       if d.id in deleted or d.id in {c.id for c in changed}])
    by_id = {d.id: d for d in base if d.id not in deleted}
    by_id.update({d.id: d for d in delta})
    return base, delta, masked, [by_id[k] for k in sorted(by_id)]


def _vectors(docs: list[ExpertDoc]) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(1)
    out = {}
    for d in docs:
        v = rng.normal(size=32).astype(np.float32) + (len(d.tokens) % 7)
        out[d.id] = v / np.linalg.norm(v)
    return out


def _mapped(arr: np.ndarray) -> bool:
    """Whether an array's memory is a read-only file mapping (not a private copy)."""
    while arr is not None and not isinstance(arr, mmap.mmap):
        if isinstance(arr, np.ndarray) and arr.flags.writeable:
            return False
        arr = getattr(arr, "base", None) if not isinstance(arr, np.memmap) else arr._mmap
    return isinstance(arr, mmap.mmap)


def _ids(ranked) -> list:  # noqa: ANN001
    return [r.expert_id for r in ranked]


def test_base_and_delta_rank_as_a_full_rebuild(dev) -> None:  # noqa: ANN001
    docs, queries = dev
    base_docs, delta_docs, masked, final = _split(docs)
    base = ExpertRanker().fit(base_docs)
    seg = SegmentedRanker(base, fit_delta(base, delta_docs), masked)
    full = ExpertRanker().fit(final)
    overlaps, firsts = [], 0
    for q in queries:
        a, b = _ids(seg.rank(q, top=10)), _ids(full.rank(q, top=10))
        assert not set(a) & {d.id for d in docs[200:210]}  # deleted experts never come back
        overlaps.append(len(set(a) & set(b)) / max(len(b), 1))
        firsts += a[:1] == b[:1]
    assert np.mean(overlaps) >= 0.9, np.mean(overlaps)
    assert firsts >= 0.9 * len(queries)
    # a new expert is found by its own words
    newest = delta_docs[-1]
    assert newest.id in _ids(seg.rank(list(newest.tokens[:30]), top=10))


def test_base_and_delta_fused_with_vectors(dev) -> None:  # noqa: ANN001
    docs, queries = dev
    base_docs, delta_docs, masked, final = _split(docs)
    vec = _vectors(docs)
    base = ExpertRanker().fit(base_docs)
    seg = SegmentedRanker(base, fit_delta(base, delta_docs), masked)
    stacked = StackedVectors(ExpertVectors(np.stack([vec[d.id] for d in base_docs])),
                             ExpertVectors(np.stack([vec[d.id] for d in delta_docs])),
                             seg.keep)
    full = ExpertRanker().fit(final)
    full_vectors = ExpertVectors(np.stack([vec[d.id] for d in final]))
    overlaps = []
    for q in queries[:30]:
        qv = vec[docs[len(q) % len(docs)].id]
        a = _ids(seg.rank(q, top=10, query_vector=qv, vectors=stacked, semantic_weight=0.4))
        b = _ids(full.rank(q, top=10, query_vector=qv, vectors=full_vectors,
                           semantic_weight=0.4))
        overlaps.append(len(set(a) & set(b)) / max(len(b), 1))
    assert np.mean(overlaps) >= 0.9, np.mean(overlaps)


def test_rank_of_and_filters_on_segments(dev) -> None:  # noqa: ANN001
    docs, queries = dev
    base_docs, delta_docs, masked, _final = _split(docs)
    base = ExpertRanker().fit(base_docs)
    seg = SegmentedRanker(base, fit_delta(base, delta_docs), masked)
    q = queries[0]
    top = seg.rank(q, top=5)
    places = seg.rank_of(q, [r.expert_id for r in top])
    assert [places[r.expert_id][0] for r in top] == [1, 2, 3, 4, 5]
    only = seg.rank(q, top=10, institution_id=2, exclude_ids=[top[0].expert_id])
    by_id = {d.id: d for d in base_docs + delta_docs}
    assert all(by_id[r.expert_id].institution_id == 2 for r in only)
    assert top[0].expert_id not in _ids(only)


def test_saved_ranker_is_memory_mapped_and_ranks_the_same(dev, tmp_path) -> None:  # noqa: ANN001
    docs, queries = dev
    fitted = ExpertRanker().fit(docs)
    fitted.save(tmp_path / "r")
    one = ExpertRanker.load(tmp_path / "r", mmap=True)
    two = ExpertRanker.load(tmp_path / "r", mmap=True)
    # two loads (two workers) map the same files: no private copy of the postings
    for loaded in (one, two):
        for arr in (loaded.postings_.cos.data, loaded.postings_.cos.indices,
                    loaded.postings_.ql.data, loaded.length_term_, loaded.vocabulary_.keys):
            assert _mapped(arr)
        assert isinstance(loaded.vocabulary_, FrozenVocabulary)
        assert isinstance(loaded.item_titles_, StringTable)
    # cos and ql share their index arrays on disk
    assert np.shares_memory(one.postings_.cos.indices, one.postings_.ql.indices)
    for q in queries[:20]:
        assert one.rank(q, top=10) == fitted.rank(q, top=10)


def test_frozen_vocabulary_behaves_as_the_dict() -> None:
    vocab = {"w:电池": 0, "c:电": 1, "b:电池": 2, "w:" + "长" * 40: 3}
    frozen = FrozenVocabulary.build(vocab)
    assert len(frozen) == 4
    assert [frozen.get(t) for t in vocab] == [0, 1, 2, 3]
    assert frozen.get("w:没有") is None and "w:没有" not in frozen
    assert frozen.ids_of(["c:电", "w:没有", "w:" + "长" * 40]).tolist() == [1, -1, 3]
