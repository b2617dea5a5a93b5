"""Snapshots of the matching index, one per collection, built from stored tokens and vectors.

Two collections, two data versions, two snapshots: the experts (:class:`ExpertSnapshot`: fitted
ranker, expert attributes, stored vectors) and the non-draft demands (:class:`DemandSnapshot`,
the similar-demand index). Saving a demand moves only the demands version, so it never rebuilds
the expert index, and the other way round.

Snapshots are immutable: a request reads one once and uses it to the end. Who holds them, when
they are rebuilt and in which process is decided outside ``services/`` (:mod:`app.lifecycle`);
the ranking use case (:mod:`app.services.search.ranking`) reaches the holder through the
session (:func:`index_of`), so nothing here imports Flask.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.ranker import ExpertRanker
from matching.records import DemandDoc
from matching.similar import DemandIndex
from models import Demand, DomainTerm

from ..indexing import DEMANDS, EXPERTS, current_version

#: Key of the index holder in ``Session.info`` (set by :mod:`app.lifecycle` on the app's
#: session factory, so every session of that app reaches its holder without Flask).
INFO_KEY = "search_index"


@dataclass(frozen=True)
class ExpertSnapshot:
    """Everything a request needs to rank experts, frozen at one experts data version.

    ``ranker`` is a fitted :class:`ExpertRanker` (built here, or mapped from the host's base on
    disk) or a :class:`~matching.ranker.segments.SegmentedRanker` (the base and a delta of the
    experts saved since); ``expert_ids`` gives the expert of each of its rows (-1: a base row
    masked by the delta).
    """

    version: tuple[int, ...]
    ranker: ExpertRanker
    expert_ids: np.ndarray
    has_vector: np.ndarray  # (rows,) bool
    vector_model: str | None
    built_at: float = field(default_factory=time.time)
    build_seconds: float = 0.0
    expert_vectors: Any = None  # ExpertVectors (or StackedVectors) of the rows above
    base: str | None = None  # the base directory on disk this snapshot maps, if any
    delta_size: int = 0  # experts in the delta segment

    @property
    def n_experts(self) -> int:
        """Return the number of experts in the index."""
        return int(np.count_nonzero(self.expert_ids >= 0)) if self.expert_ids.dtype.kind in "iu" \
            else int(self.expert_ids.size)

    @property
    def n_embedded(self) -> int:
        """Return how many experts have a semantic vector."""
        return int(self.has_vector.sum())

    def has_vector_of(self, expert_id: int) -> bool:
        """Whether the expert's row has a semantic vector (False when unknown)."""
        row = self.ranker.id_index_.get(expert_id)
        return row is not None and bool(self.has_vector[row])


@dataclass(frozen=True)
class DemandSnapshot:
    """The similar-demand index, frozen at one demands data version."""

    version: int
    index: DemandIndex | None
    build_seconds: float = 0.0


class IndexSource(Protocol):
    """What the ranking use case needs from the process that holds the index."""

    encoder: Any
    semantic_weight: float

    def experts(self, session: Session) -> ExpertSnapshot:
        """Return the current expert snapshot (rebuilt when the experts version moved)."""

    def demands(self, session: Session) -> DemandSnapshot:
        """Return the current similar-demand snapshot."""

    def semantic_active(self, snap: ExpertSnapshot) -> bool:
        """Whether requests on this snapshot fuse the semantic signal."""


def index_of(session: Session) -> IndexSource:
    """Return the index holder of the app this session belongs to."""
    source = session.info.get(INFO_KEY)
    if source is None:
        raise RuntimeError("no matching index is attached to this session's database "
                           "(app.lifecycle.init_app was not called)")
    return source


def load_domain_terms(session: Session) -> None:
    """Teach the segmenter the domain terms stored in the database."""
    terms = list(session.scalars(select(DomainTerm.term)))
    if terms:
        mtext.initialize(terms)


def build_expert_snapshot(session: Session, progress: Callable[[int, int], None] | None = None,
                          model_id: str | None = None) -> ExpertSnapshot:
    """Build the expert snapshot from the database's stored tokens and vectors.

    Rows are read in chunks and their tokens turned into integer ids at once
    (:mod:`app.services.search.expert_rows`): the rebuild never holds a Python string per
    stored token of the whole collection.
    """
    from .expert_rows import read_rows, read_vectors

    started = time.perf_counter()
    version = (current_version(session, EXPERTS),)
    load_domain_terms(session)
    rows = read_rows(session, progress=progress, model_id=model_id)
    ranker = ExpertRanker().fit_ids(*rows.take_ids())  # the fit frees the ids as it goes
    # the vectors after the fit: its working arrays are freed by then (a lower peak)
    vectors = read_vectors(session, ranker.expert_ids_, ranker.item_indptr_, rows.vector_model)
    has_vector = vectors.embedded.copy() if vectors is not None else \
        np.zeros(ranker.n_experts_, dtype=bool)
    return ExpertSnapshot(
        version=version, ranker=ranker, expert_ids=ranker.expert_ids_,
        has_vector=has_vector, vector_model=rows.vector_model,
        build_seconds=time.perf_counter() - started, expert_vectors=vectors,
    )


def build_demand_snapshot(session: Session) -> DemandSnapshot:
    """Build the similar-demand index from the stored tokens of every non-draft demand."""
    started = time.perf_counter()
    version = current_version(session, DEMANDS)
    load_domain_terms(session)
    rows = session.execute(
        select(Demand.id, Demand.tokens).where(Demand.status != "draft").order_by(Demand.id)
    ).all()
    docs = [DemandDoc(id=r.id, tokens=tuple(mtext.split_tokens(r.tokens))) for r in rows]
    return DemandSnapshot(version=version, index=DemandIndex().fit(docs) if docs else None,
                          build_seconds=time.perf_counter() - started)
