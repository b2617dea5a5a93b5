"""The ranking use case: experts for a demand or a free text, with explanations.

One explained ranking per request: :func:`rank_text` calls the ranker's ``rank`` once (the
fusion, the 语义相近 badge and the closest item are decided there, in matching/, by the code that
scripts/evaluate.py measures). :func:`rank_of_experts` gives the rank of a few chosen experts (a
shortlist being sent) from the ranker's ``rank_of``: one pass, only those experts explained.
The query text is read up to MAX_QUERY_TEXT characters, and a stored demand longer than that is
ranked on the same first MAX_QUERY_TEXT characters (its stored tokens cover only those since
``indexing.demand_tokens``; a row saved earlier may hold more, so it is segmented again); the
query vector is encoded from the demand window (``matching.semantic.encode_demands``: the first
``QUERY_CHARS`` characters), as stored demand vectors are.

No Flask here: the index comes from the session (:func:`app.services.search.index.index_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.ranker import EmptyQueryError
from matching.records import RankedExpert
from matching.semantic import E5_DIM, bytes_to_vector, encode_demands
from models import Demand

from ...errors import DomainError
from ..fields import MAX_QUERY_TEXT
from ..indexing import demand_tokens
from .index import ExpertSnapshot, IndexSource, index_of


@dataclass(frozen=True)
class Hit:
    """A ranked expert with its explanation, ready for a page or the API.

    ``semantic``: the semantic part carried this expert (words alone would not have listed it;
    pages show 语义相近). ``vector_pending``: the semantic signal is on but this expert has no
    vector yet, so it was ranked on words alone. ``semantic_item_title``: the item closest in
    meaning. ``percent``: the score on the 0-100 scale; ``chips``: the terms a person reads as
    reasons; ``minor_terms``: single characters, numbers and fragments (one grey line).
    """

    expert_id: int
    score: float
    terms: tuple[tuple[str, float], ...]
    best_item_title: str | None
    semantic: bool
    vector_pending: bool
    semantic_item_title: str | None
    percent: int = 0
    chips: tuple[tuple[str, float], ...] = ()
    minor_terms: tuple[str, ...] = ()
    minor_share: float = 0.0


def query_tokens(text: str) -> list[str]:
    """Segment a query's first MAX_QUERY_TEXT characters; raise when nothing usable is left."""
    tokens = demand_tokens(text)
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
    weight: float
    vector: np.ndarray | None  # the demand's vector when the semantic signal is used
    semantic_on: bool  # an encoder is loaded (experts without a vector are "pending")

    def fusion(self, snap: ExpertSnapshot) -> dict[str, Any]:
        """Return the ranker's semantic arguments (the recipe lives in matching/)."""
        if self.vector is None:
            return {}
        return {"query_vector": self.vector, "vectors": snap.expert_vectors,
                "semantic_weight": self.weight}


def _query(source: IndexSource, snap: ExpertSnapshot, text: str, tokens: list[str] | None,
           demand: Demand | None, query_vector: np.ndarray | None) -> _Query:
    full = text or (demand.text if demand else "") or ""
    if len(full) > MAX_QUERY_TEXT:
        tokens = None  # a row saved before the cap holds more tokens: read the window only
    elif not tokens and demand is not None and demand.tokens:
        tokens = mtext.split_tokens(demand.tokens)
    text = full[:MAX_QUERY_TEXT]
    tokens = tokens if tokens else query_tokens(text)
    encoder = source.encoder
    if not source.semantic_active(snap) or snap.expert_vectors is None:
        return _Query(tokens, 0.0, None, encoder is not None)
    qvec = query_vector if query_vector is not None else demand_vector(demand, encoder.model_id)
    if qvec is None:
        qvec = encode_demands(encoder, [text])[0]
    return _Query(tokens, float(source.semantic_weight), np.asarray(qvec, dtype=np.float32), True)


def _hit(snap: ExpertSnapshot, q: _Query, r: RankedExpert) -> Hit:
    has_vector = snap.has_vector_of(int(r.expert_id))
    return Hit(expert_id=int(r.expert_id), score=float(r.score), terms=r.terms,
               best_item_title=r.best_item_title, semantic=bool(r.semantic) and has_vector,
               vector_pending=q.semantic_on and not has_vector,
               semantic_item_title=r.semantic_item_title if has_vector else None,
               percent=r.percent, chips=r.chips, minor_terms=r.minor_terms,
               minor_share=r.minor_share)


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
    try:
        ranked = snap.ranker.rank(q.tokens, top=top, field_id=field_id,
                                  institution_id=institution_id,
                                  academician_only=academician_only, exclude_ids=exclude_ids,
                                  **q.fusion(snap))
    except EmptyQueryError as exc:
        raise DomainError(str(exc) or "需求文本中没有可用于匹配的关键词。", field="text") from exc
    return [_hit(snap, q, r) for r in ranked], snap


@dataclass(frozen=True)
class ChosenRanks:
    """Where some chosen experts stand in a demand's ranking over the whole index."""

    ranks: dict[int, tuple[int | None, Hit | None]]  # expert id -> (1-based rank, explanation)
    version: list[int]


def rank_of_experts(session: Session, demand: Demand, expert_ids: list[int]) -> ChosenRanks:
    """Rank some chosen experts for a demand in one pass, explaining only them.

    The rank is the place in the demand's full ranking (fused with the stored vectors when the
    semantic signal is on); an expert the ranking would not list at all gets no rank.
    """
    source = index_of(session)
    snap = source.experts(session)
    version = list(snap.version)
    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    try:
        q = _query(source, snap, demand.text, tokens, demand, None)
        found = snap.ranker.rank_of(q.tokens, [int(e) for e in expert_ids], **q.fusion(snap))
    except (DomainError, EmptyQueryError):  # a demand with no usable words: no score
        return ChosenRanks({}, version)
    out: dict[int, tuple[int | None, Hit | None]] = {}
    for eid in expert_ids:
        rank, line = found.get(int(eid), (None, None))
        out[int(eid)] = (rank, _hit(snap, q, line) if line is not None else None)
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
