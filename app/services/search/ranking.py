"""The ranking use case: experts for a demand or a free text, with explanations.

One explained ranking per request: :func:`rank_text` calls the ranker's ``rank`` once; the
语义相近 badge (the semantic part carried an expert that words alone would not have listed) is
read from the lexical score vector of the same query, not from a second explained ranking.
:func:`rank_of_experts` gives the rank of a few chosen experts (a shortlist being sent) from one
``scores`` pass and explains only those experts.

No Flask here: the index comes from the session (:func:`app.services.search.index.index_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.fusion import fuse
from matching.ranker import EmptyQueryError
from matching.records import RankedExpert
from matching.semantic import E5_DIM, bytes_to_vector
from models import Demand

from ...errors import DomainError
from .index import ExpertSnapshot, IndexSource, index_of


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

    @property
    def semantic_only(self) -> bool:
        """Old name of :attr:`vector_pending` (it never meant "semantic signal only")."""
        return self.vector_pending


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


@dataclass(frozen=True)
class _Query:
    tokens: list[str]
    semantic: np.ndarray | None  # cosine per expert, NaN where no vector
    weight: float
    vector: np.ndarray | None
    semantic_on: bool  # an encoder is loaded (experts without a vector are "pending")


def _query(source: IndexSource, snap: ExpertSnapshot, text: str, tokens: list[str] | None,
           demand: Demand | None, query_vector: np.ndarray | None) -> _Query:
    if not tokens and demand is not None and demand.tokens:
        tokens = mtext.split_tokens(demand.tokens)
    tokens = tokens if tokens else query_tokens(text)
    encoder = source.encoder
    if not source.semantic_active(snap):
        return _Query(tokens, None, 0.0, None, encoder is not None)
    assert snap.vectors is not None
    qvec = query_vector if query_vector is not None else demand_vector(demand, encoder.model_id)
    if qvec is None:
        qvec = encoder.encode_queries([text or (demand.text if demand else "")])[0]
    qvec = np.asarray(qvec, dtype=np.float32)
    sem = (snap.vectors @ qvec).astype(np.float64)
    return _Query(tokens, sem, float(source.semantic_weight), qvec, True)


def _filter_mask(snap: ExpertSnapshot, field_id: int | None, institution_id: int | None,
                 academician_only: bool, exclude_ids: tuple) -> np.ndarray:
    # The ranker decides what a filter keeps: ask it (it has no public name for this yet).
    return snap.ranker._filter_mask(field_id, None, institution_id, academician_only,  # noqa: SLF001
                                    list(exclude_ids))


def _matched(snap: ExpertSnapshot, lexical: np.ndarray) -> np.ndarray:
    """Return a bool mask of the experts sharing a scored token with the query.

    Per-query z-scores give every expert that shares none the same lowest value (a raw score of
    0); a lowest value held by a single expert is taken as a match.
    """
    has_text = snap.ranker.has_text_
    if not has_text.any():
        return has_text
    floor = lexical[has_text].min()
    at_floor = has_text & (lexical == floor)
    return has_text & ~at_floor if int(at_floor.sum()) > 1 else has_text


def _lexically_listed(snap: ExpertSnapshot, lexical: np.ndarray, keep: np.ndarray,
                      top: int) -> np.ndarray:
    """Return a bool mask of the experts the lexical ranking alone would list in its ``top``.

    Words alone list only experts that share a scored token with the query: their lexical score
    is above the common floor of the experts that share none.
    """
    cand = keep & _matched(snap, lexical)
    idx = np.flatnonzero(cand)
    listed = np.zeros(lexical.shape, dtype=bool)
    if idx.size > top:
        values = lexical[idx]
        part = np.argpartition(-values, top - 1)[:top]
        cut = values[part].min()
        above = idx[values > cut]
        at_cut = idx[values == cut][: top - above.size]  # ties go to the lower row, as ranked
        idx = np.concatenate([above, at_cut])
    listed[idx] = True
    return listed


def _closest_item(snap: ExpertSnapshot, row: int, qvec: np.ndarray | None) -> str | None:
    """Return the title of the expert's item closest in meaning to the query vector."""
    if snap.item_vectors is None or snap.item_owner is None or qvec is None:
        return None
    # items are stored grouped by expert, in expert order
    lo = int(np.searchsorted(snap.item_owner, row, side="left"))
    hi = int(np.searchsorted(snap.item_owner, row, side="right"))
    if hi <= lo:
        return None
    cos = snap.item_vectors[lo:hi].astype(np.float32) @ qvec
    if np.all(np.isnan(cos)):
        return None
    return snap.item_titles[lo + int(np.nanargmax(cos))]


def _hit(snap: ExpertSnapshot, q: _Query, r: RankedExpert, carried: bool | None) -> Hit:
    row = snap.row_of[int(r.expert_id)]
    has_vector = bool(snap.has_vector[row])
    fused = has_vector and q.semantic is not None and q.weight > 0
    return Hit(expert_id=int(r.expert_id), score=float(r.score), terms=r.terms,
               best_item_title=r.best_item_title, semantic=fused and bool(carried),
               vector_pending=q.semantic_on and not has_vector,
               semantic_item_title=_closest_item(snap, row, q.vector) if fused else None)


def _rank(snap: ExpertSnapshot, q: _Query, top: int, **filters: Any) -> list[RankedExpert]:
    try:
        return snap.ranker.rank(q.tokens, top=top, semantic_scores=q.semantic,
                                semantic_weight=q.weight, **filters)
    except EmptyQueryError as exc:
        raise DomainError(str(exc) or "需求文本中没有可用于匹配的关键词。", field="text") from exc


def rank_text(session: Session, text: str, top: int = 10, *, field_id: int | None = None,
              institution_id: int | None = None, academician_only: bool = False,
              exclude_ids: tuple = (), tokens: list[str] | None = None,
              demand: Demand | None = None, query_vector: np.ndarray | None = None,
              ) -> tuple[list[Hit], ExpertSnapshot]:
    """Rank experts for a text (or stored tokens) with explanations.

    Pass ``demand`` when ranking a stored demand: its stored tokens are used when ``tokens`` is
    not given, and its stored vector when its ``vector_model`` matches the encoder (no encoding
    in the request). ``query_vector`` gives the vector directly. Otherwise ``text`` is encoded.
    """
    source = index_of(session)
    snap = source.experts(session)
    q = _query(source, snap, text, tokens, demand, query_vector)
    ranked = _rank(snap, q, top, field_id=field_id, institution_id=institution_id,
                   academician_only=academician_only, exclude_ids=exclude_ids)
    listed = None
    if q.semantic is not None and q.weight > 0 and ranked:
        keep = _filter_mask(snap, field_id, institution_id, academician_only, exclude_ids)
        listed = _lexically_listed(snap, np.asarray(snap.ranker.scores(q.tokens)), keep, top)
    return [_hit(snap, q, r, listed is not None and not listed[snap.row_of[int(r.expert_id)]])
            for r in ranked], snap


@dataclass(frozen=True)
class ChosenRanks:
    """Where some chosen experts stand in a demand's ranking over the whole index."""

    ranks: dict[int, tuple[int | None, Hit | None]]  # expert id -> (1-based rank, explanation)
    version: list[int]


def rank_of_experts(session: Session, demand: Demand, expert_ids: list[int]) -> ChosenRanks:
    """Rank some chosen experts for a demand without explaining the rest of the collection.

    One ``scores`` pass (fused with the stored vectors when the semantic signal is on) gives
    every expert's final score; an expert's rank is one plus the experts ahead of it (ties go to
    the lower row, as in the ranking page). Only the chosen experts are explained. An expert
    the ranking page would not list (no shared word, and no vector) gets no rank.
    """
    source = index_of(session)
    snap = source.experts(session)
    version = list(snap.version)
    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    try:
        q = _query(source, snap, demand.text, tokens, demand, None)
        lexical = np.asarray(snap.ranker.scores(q.tokens), dtype=np.float64)
    except (DomainError, EmptyQueryError):  # a demand with no usable words: no score
        return ChosenRanks({}, version)
    has_text = snap.ranker.has_text_
    cand = _matched(snap, lexical)
    final = lexical
    if q.semantic is not None and q.weight > 0:
        known = ~np.isnan(q.semantic) & has_text
        final = fuse(np.where(has_text, lexical, np.nan), np.where(known, q.semantic, np.nan),
                     q.weight).scores
        final = np.where(has_text, final, -np.inf)
        cand = cand | known
    rows = {int(e): snap.row_of[int(e)] for e in expert_ids if int(e) in snap.row_of}
    chosen = np.zeros(snap.n_experts, dtype=bool)
    chosen[list(rows.values())] = True
    others = snap.expert_ids[~chosen].tolist()
    explained = {int(r.expert_id): r for r in _rank(snap, q, max(len(rows), 1),
                                                    exclude_ids=others)}
    out: dict[int, tuple[int | None, Hit | None]] = {}
    for eid, row in rows.items():
        r = explained.get(eid)
        if r is None or not cand[row]:
            out[eid] = (None, None)
            continue
        v = final[row]
        ahead = int(np.count_nonzero(cand & (final > v)))
        ahead += int(np.count_nonzero(cand[:row] & (final[:row] == v)))
        out[eid] = (ahead + 1, _hit(snap, q, r, None))
    return ChosenRanks(out, version)


def similar_demands(session: Session, tokens: list[str], top: int = 5,
                    exclude_ids: tuple = ()) -> list[tuple[int, float]]:
    """Return (demand_id, score) of the most similar existing demands in any district."""
    snap = index_of(session).demands(session)
    if snap.index is None or not tokens:
        return []
    return [(int(d), s) for d, s in snap.index.similar(tokens, top=top, exclude_ids=exclude_ids)]


def expert_snapshot(session: Session) -> ExpertSnapshot:
    """Return the current expert snapshot (meeting planning scores with its ranker)."""
    return index_of(session).experts(session)
