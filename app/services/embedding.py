"""The embedding job: semantic vectors stored with experts, their items and demands.

Rows whose ``vector`` is NULL (never embedded, or cleared by a write: see
:mod:`app.services.indexing`) or whose ``vector_model`` differs from the loaded encoder's
``model_id`` (another model or package version) are *pending*. :func:`run` encodes them in
batches — every pending expert profile first, then their items, then demands, so that every
expert is ranked semantically as early as possible — writes the float16 bytes and the model id,
and bumps the experts data version so serving processes rebuild their snapshots with the new
vectors.

Where it runs: in the job queue's consumer process (:mod:`app.job_queue`, task ``embed``), never
in a request or a gunicorn worker; ``flask --app app embed`` runs it in the foreground.

A write that lands while a batch is being encoded wins: vectors are written only where the row's
stored tokens still equal the tokens the text was read with, so a stale vector never overwrites
the cleared one of an edited row (the next pass embeds the new text).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from matching.semantic import (  # MAX_TEXT_CHARS, text_key: used by ranking, shipped_vectors
    MAX_TEXT_CHARS,  # noqa: F401
    Encoder,
    capped_text,
    encode_demands,
    item_passage,
    profile_passage,
    text_key,  # noqa: F401
    vector_to_bytes,
)
from models import BackgroundJob, Demand, Expert, ExpertItem

from .indexing import EXPERTS, bump_version

log = logging.getLogger(__name__)

JOB_KIND = "embedding"
#: Texts read, encoded and written per transaction: a batch ends within seconds, so a consumer
#: that is shutting down can wait for it, and a model batch of this size is near the best rate.
PROFILES_PER_BATCH = 32
ITEMS_PER_BATCH = 64
DEMANDS_PER_BATCH = 64


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

    experts: int
    items: int
    demands: int
    skipped: int  # rows edited while their batch was encoded: embedded by the next pass
    seconds: float
    model_id: str = ""
    stopped: bool = False

    @property
    def texts(self) -> int:
        """Return the number of texts written."""
        return self.experts + self.items + self.demands

    def summary(self) -> str:
        """Return the job's message for people."""
        rate = self.texts / self.seconds if self.seconds > 0 else 0.0
        return (f"{'已停止（进程退出），下次启动继续；' if self.stopped else ''}"
                f"已生成 {self.experts} 位专家、{self.items} 条成果、"
                f"{self.demands} 条需求的语义向量，"
                f"用时 {self.seconds:.1f} 秒（{rate:.1f} 条/秒，模型 {self.model_id}）")


# -- texts -----------------------------------------------------------------------------------------
def item_text(item: ExpertItem) -> str:
    """Return the passage text of one item (:func:`matching.semantic.item_passage`)."""
    return item_passage(item.title, item.text)


def profile_text(expert: Expert) -> str:
    """Return the passage text of a whole profile (:func:`matching.semantic.profile_passage`)."""
    return profile_passage(expert.title, expert.research_fields, expert.summary,
                           [item_text(i) for i in expert.items])


# -- what is pending -------------------------------------------------------------------------------
def _stale(column_vector: Any, column_model: Any, model_id: str) -> Any:
    return or_(column_vector.is_(None), column_model.is_(None), column_model != model_id)


def _pending_profile_ids(session: Session, model_id: str) -> list[int]:
    return list(session.scalars(
        select(Expert.id).where(_stale(Expert.vector, Expert.vector_model, model_id))
        .order_by(Expert.id)))


def _pending_item_ids(session: Session, model_id: str) -> list[int]:
    """Items without a vector whose expert's profile has one of this model (profiles go first)."""
    return list(session.scalars(
        select(ExpertItem.id).join(Expert)
        .where(ExpertItem.vector.is_(None), Expert.vector_model == model_id,
               Expert.vector.is_not(None))
        .order_by(ExpertItem.expert_id, ExpertItem.position, ExpertItem.id)))


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
    from . import job_rows

    return job_rows.latest(session, JOB_KIND)


# -- batches: read, encode outside any transaction, write (sessions never committed here) --------
def _capped(texts: Sequence[str]) -> list[str]:
    return [capped_text(t) for t in texts]


def embed_demand_now(demand: Demand, encoder: Encoder) -> bool:
    """Give a demand being saved its query vector at once (in the writing transaction).

    Returns whether it was written; a demand without text is left to the job.
    """
    if not (demand.text or "").strip():
        return False
    vec = encode_demands(encoder, [demand.text])[0]
    demand.vector, demand.vector_model = vector_to_bytes(vec), encoder.model_id
    return True


def read_profiles(session: Session, expert_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """Read (id, tokens, profile text) of some experts."""
    experts = session.scalars(
        select(Expert).where(Expert.id.in_(list(expert_ids)))
        .options(selectinload(Expert.items)).order_by(Expert.id))
    return [(e.id, e.tokens, profile_text(e)) for e in experts]


def write_profiles(session: Session, model_id: str, rows: Sequence[tuple[int, str, str]],
                   vectors: Any) -> tuple[int, int]:
    """Write profile vectors where the experts still hold the tokens they were read with.

    The expert's item vectors are cleared with it: they were either cleared by the edit already
    or made by another model, and are embedded again after every profile has its vector. An
    expert with a single item carries no information in a separate item vector (the item is the
    profile): it gets the profile's vector and is never encoded twice.

    Returns (profiles written, single items given the profile's vector).
    """
    written = copied = 0
    for (eid, tokens, _text), vec in zip(rows, vectors, strict=True):
        blob = vector_to_bytes(vec)
        n = session.execute(
            update(Expert).where(Expert.id == eid, Expert.tokens == tokens)
            .values(vector=blob, vector_model=model_id)
            .execution_options(synchronize_session=False)).rowcount
        if n:
            items = session.scalars(select(ExpertItem.id).where(ExpertItem.expert_id == eid)).all()
            session.execute(update(ExpertItem).where(ExpertItem.expert_id == eid)
                            .values(vector=blob if len(items) == 1 else None)
                            .execution_options(synchronize_session=False))
            copied += len(items) == 1
        written += n
    return written, copied


def read_items(session: Session, item_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """Read (id, tokens, passage text) of some items."""
    return [(i.id, i.tokens, item_text(i)) for i in session.scalars(
        select(ExpertItem).where(ExpertItem.id.in_(list(item_ids))).order_by(ExpertItem.id))]


def write_items(session: Session, rows: Sequence[tuple[int, str, str]], vectors: Any) -> int:
    """Write item vectors where the items still hold the tokens they were read with."""
    written = 0
    for (iid, tokens, _text), vec in zip(rows, vectors, strict=True):
        written += session.execute(
            update(ExpertItem).where(ExpertItem.id == iid, ExpertItem.tokens == tokens)
            .values(vector=vector_to_bytes(vec)).execution_options(synchronize_session=False)
        ).rowcount
    return written


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


class _Publisher:
    """Bumps the experts data version when vectors were written (at most every ``every`` s)."""

    def __init__(self, db: Any, every: float) -> None:
        self.db, self.every = db, every
        self.last = time.monotonic()
        self.unpublished = False

    def wrote(self, session: Session, n: int) -> None:
        self.unpublished = self.unpublished or n > 0
        if self.unpublished and time.monotonic() - self.last >= self.every:
            bump_version(session, EXPERTS)
            self.last, self.unpublished = time.monotonic(), False

    def flush(self) -> None:
        if self.unpublished:
            with self.db.unit_of_work() as session:
                bump_version(session, EXPERTS)
            self.last, self.unpublished = time.monotonic(), False


def run(db: Any, encoder: Encoder, *, progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None, bump_every: float = 60.0) -> EmbeddingResult:
    """Embed every pending profile, then items, then demands; each batch its own transaction.

    ``db`` is the app's :class:`app.db.Database`. The experts data version is bumped once the
    profiles are done (so every expert ranks semantically as early as possible), again after
    the items, and every ``bump_every`` seconds of a long run. ``stop`` ends the run between
    two batches (``stopped`` in the result). The caller keeps the job row.
    """
    started = time.perf_counter()
    model_id = encoder.model_id
    with db.Session() as session:
        total = count_pending(session, model_id).total
        profile_ids = _pending_profile_ids(session, model_id)
    done = skipped = 0
    counts = {"experts": 0, "items": 0, "demands": 0}
    publisher = _Publisher(db, bump_every)

    def phase(ids: list[int], size: int, read: Callable, encode: Callable, write: Callable,
              key: str, publish: bool) -> None:
        nonlocal done, skipped
        for chunk in _chunks(ids, size):
            if stop is not None and stop.is_set():
                raise _Stopped
            with db.Session() as session:
                rows = read(session, chunk)
            vectors = encode([t for _i, _k, t in rows]) if rows else []
            with db.unit_of_work() as session:
                n = write(session, rows, vectors)
                n, copied = n if isinstance(n, tuple) else (n, 0)
                if publish:
                    publisher.wrote(session, n)
            counts[key] += n
            counts["items"] += copied
            skipped += len(rows) - n
            done += len(rows) + copied
            if progress:
                progress(done, max(total, done))

    def passages(texts: list[str]) -> Any:
        return encoder.encode_passages(_capped(texts))

    stopped = False
    try:
        phase(profile_ids, PROFILES_PER_BATCH, read_profiles, passages,
              lambda s, r, v: write_profiles(s, model_id, r, v), "experts", True)
        publisher.flush()
        with db.Session() as session:
            item_ids = _pending_item_ids(session, model_id)
        phase(item_ids, ITEMS_PER_BATCH, read_items, passages,
              write_items, "items", True)
        publisher.flush()
        with db.Session() as session:
            demand_ids = _pending_demand_ids(session, model_id)
        phase(demand_ids, DEMANDS_PER_BATCH, read_demands, lambda t: encode_demands(encoder, t),
              lambda s, r, v: write_demands(s, model_id, r, v), "demands", False)
    except _Stopped:
        stopped = True
    finally:
        publisher.flush()  # publish what was written, also when the run fails
    result = EmbeddingResult(experts=counts["experts"], items=counts["items"],
                             demands=counts["demands"], skipped=skipped,
                             seconds=time.perf_counter() - started, model_id=model_id,
                             stopped=stopped)
    log.info("embedding run done", extra={**counts, "skipped": skipped, "stopped": stopped,
                                          "seconds": round(result.seconds, 1)})
    return result
