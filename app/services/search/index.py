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
from matching.records import DemandDoc, ExpertDoc, ItemDoc
from matching.semantic import E5_DIM, bytes_to_matrix
from matching.similar import DemandIndex
from matching.vectors import ExpertVectors
from models import Demand, DomainTerm, Expert, ExpertItem

from ..indexing import DEMANDS, EXPERTS, current_version

#: Key of the index holder in ``Session.info`` (set by :mod:`app.lifecycle` on the app's
#: session factory, so every session of that app reaches its holder without Flask).
INFO_KEY = "search_index"


@dataclass(frozen=True)
class ExpertSnapshot:
    """Everything a request needs to rank experts, frozen at one experts data version."""

    version: tuple[int, ...]
    ranker: ExpertRanker
    expert_ids: np.ndarray
    row_of: dict[int, int]  # expert id -> row in fit order, built once per snapshot
    vectors: np.ndarray | None  # (n_experts, dim), NaN rows where not embedded
    has_vector: np.ndarray  # (n_experts,) bool
    item_vectors: np.ndarray | None
    item_owner: np.ndarray | None
    item_titles: list[str]
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
        return int(self.has_vector.sum())


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


def build_expert_snapshot(session: Session, progress: Callable[[int, int], None] | None = None,
                          model_id: str | None = None) -> ExpertSnapshot:
    """Build the expert snapshot from the database's stored tokens and vectors."""
    started = time.perf_counter()
    version = (current_version(session, EXPERTS),)
    load_domain_terms(session)
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
    ids = np.asarray([d.id for d in docs], dtype=np.int64)
    has_vector = (~np.isnan(vectors[:, 0]) if vectors is not None
                  else np.zeros(ids.size, dtype=bool))
    return ExpertSnapshot(
        version=version, ranker=ranker, expert_ids=ids,
        row_of={int(e): n for n, e in enumerate(ids.tolist())},
        vectors=vectors, has_vector=has_vector, item_vectors=item_vectors,
        item_owner=item_owner if item_vectors is not None else None,
        item_titles=item_titles, vector_model=vector_model,
        build_seconds=time.perf_counter() - started,
        expert_vectors=None if vectors is None else ExpertVectors(
            vectors, item_vectors, item_owner if item_vectors is not None else None),
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
