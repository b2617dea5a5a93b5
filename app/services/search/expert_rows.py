"""Reading the experts for the index: stored tokens straight to integer ids, chunk by chunk.

A rebuild reads ``CHUNK`` experts (and their items) at a time, splits their stored tokens and
maps them to ids against a growing vocabulary at once, so only one chunk's strings exist at
any time: the whole collection is held as int32 arrays (issue 16: one Python string per stored
token made a 100k rebuild peak at 9-10 GB). Ids come out as :meth:`ExpertRanker.fit` gives
them: profile tokens in order of first occurrence, then the tokens seen only in items.

:func:`read_docs` reads a few experts (a delta segment) as :class:`ExpertDoc`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.ranker.postings import row_attributes
from matching.records import ExpertDoc, ItemDoc
from matching.semantic import E5_DIM, bytes_to_vector
from matching.vectors import ExpertVectors
from models import Expert, ExpertItem

#: Experts read (and segmented back into ids) per query of a rebuild.
CHUNK = 500

_EXPERT_COLUMNS = (Expert.id, Expert.tokens, Expert.institution_id, Expert.tech_field_id,
                   Expert.is_academician)
_ITEM_COLUMNS = (ExpertItem.expert_id, ExpertItem.title, ExpertItem.tokens)


@dataclass
class Rows:
    """The experts of one rebuild as token ids and attributes (rows in id order)."""

    vocabulary: dict[str, int]
    profile_ids: tuple[np.ndarray, np.ndarray]
    item_ids: tuple[np.ndarray, np.ndarray]
    attributes: dict[str, Any]
    vector_model: str | None

    def take_ids(self) -> tuple:
        """Hand the token ids over to the fit (this object keeps no reference to them)."""
        out = (self.vocabulary, list(self.profile_ids), list(self.item_ids), self.attributes)
        self.profile_ids = self.item_ids = (np.zeros(0, np.int32), np.zeros(0, np.int64))
        return out


def vector_model_of(session: Session, model_id: str | None) -> str | None:
    """Return the model whose vectors count: the loaded one, else the first stored one."""
    if model_id:
        return model_id
    return session.scalar(select(Expert.vector_model).where(Expert.vector_model.is_not(None))
                          .order_by(Expert.id).limit(1))


def _grower() -> defaultdict[str, int]:
    ids: defaultdict[str, int] = defaultdict(None)
    ids.default_factory = ids.__len__  # a new token gets the next id, inside the lookup
    return ids


def _ids(lists: list[list[str]], grow: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    cols = np.fromiter(map(grow, chain.from_iterable(lists)), dtype=np.int32,
                       count=int(sizes.sum()))
    return cols, sizes


def _put(matrix: np.ndarray, row: int, blob: bytes | None) -> None:
    if blob is not None:
        matrix[row] = bytes_to_vector(blob, dim=E5_DIM)


def read_rows(session: Session, progress: Callable[[int, int], None] | None = None,
              model_id: str | None = None) -> Rows:
    """Read every expert's and item's tokens in id order, ``CHUNK`` experts per query.

    The vectors are read by a second pass (:func:`read_vectors`) once the fit has freed its
    working arrays, so the two never add up at the peak.
    """
    max_id = session.scalar(select(func.max(Expert.id))) or 0
    total = session.scalar(select(func.count()).select_from(Expert)) or 0
    profile_vocab, item_vocab = _grower(), _grower()
    p_grow, i_grow = profile_vocab.__getitem__, item_vocab.__getitem__
    p_parts, i_parts = [], []
    ids, inst, acad, fields, counts, titles = [], [], [], [], [], []
    last = 0
    while True:
        chunk = session.execute(
            select(*_EXPERT_COLUMNS).where(Expert.id > last, Expert.id <= max_id)
            .order_by(Expert.id).limit(CHUNK)).all()
        if not chunk:
            break
        last = chunk[-1].id
        item_rows = session.execute(
            select(*_ITEM_COLUMNS).where(ExpertItem.expert_id.between(chunk[0].id, last))
            .order_by(ExpertItem.expert_id, ExpertItem.position, ExpertItem.id)).all()
        by_expert: dict[int, list] = {}
        for it in item_rows:
            by_expert.setdefault(it.expert_id, []).append(it)
        p_lists, i_lists = [], []
        for e in chunk:
            mine = by_expert.get(e.id, ())
            p_lists.append(mtext.split_tokens(e.tokens))
            ids.append(e.id)
            inst.append(-1 if e.institution_id is None else e.institution_id)
            acad.append(bool(e.is_academician))
            fields.append((e.tech_field_id,) if e.tech_field_id else ())
            counts.append(len(mine))
            for it in mine:
                i_lists.append(mtext.split_tokens(it.tokens))
                titles.append(it.title)
        p_parts.append(_ids(p_lists, p_grow))
        i_parts.append(_ids(i_lists, i_grow))
        del p_lists, i_lists, chunk, item_rows, by_expert
        if progress:
            progress(len(ids), max(total, len(ids)))
    profile_vocab.default_factory = item_vocab.default_factory = None  # a plain mapping now
    # ids of the tokens seen only in items follow the profile tokens, in order of first use
    remap = np.empty(len(item_vocab), dtype=np.int32)
    for token, local in item_vocab.items():
        remap[local] = profile_vocab.setdefault(token, len(profile_vocab))
    del item_vocab
    item_cols = remap[_cat(c for c, _ in i_parts)] if remap.size else np.zeros(0, np.int32)
    attributes = row_attributes(np.asarray(ids, dtype=np.int64), np.asarray(counts), titles,
                                np.asarray(inst, dtype=np.int64), np.asarray(acad, dtype=bool),
                                fields, [() for _ in ids])
    return Rows(profile_vocab, (_cat(c for c, _ in p_parts), _cat(s for _, s in p_parts)),
                (item_cols, _cat(s for _, s in i_parts)), attributes,
                vector_model_of(session, model_id))


def read_vectors(session: Session, expert_ids: np.ndarray, item_indptr: np.ndarray,
                 model: str | None) -> ExpertVectors | None:
    """Read the vectors of ``model`` of the experts ``expert_ids`` (sorted), rows as fitted.

    Items fill their expert's rows ``item_indptr[i]:item_indptr[i + 1]`` in position order;
    an item added since the tokens were read is left out until the next base.
    """
    if model is None or session.scalar(
            select(Expert.id).where(Expert.vector_model == model, Expert.vector.is_not(None))
            .limit(1)) is None:
        return None
    has_items = session.scalar(
        select(ExpertItem.id).join(Expert, Expert.id == ExpertItem.expert_id)
        .where(Expert.vector_model == model, ExpertItem.vector.is_not(None)).limit(1)) is not None
    n = int(expert_ids.size)
    profiles = np.full((n, E5_DIM), np.nan, np.float32)
    items = np.full((int(item_indptr[-1]), E5_DIM), np.nan, np.float16) if has_items else None
    for start in range(0, n, CHUNK):
        part = expert_ids[start:start + CHUNK]
        lo, hi = int(part[0]), int(part[-1])
        ours = np.zeros(part.size, dtype=bool)
        for e in session.execute(select(Expert.id, Expert.vector, Expert.vector_model)
                                 .where(Expert.id.between(lo, hi))):
            at = int(np.searchsorted(part, e.id))
            if at < part.size and part[at] == e.id and e.vector_model == model:
                ours[at] = True
                _put(profiles, start + at, e.vector)
        if items is None:
            continue
        seen = np.zeros(part.size, dtype=np.int64)
        for it in session.execute(
                select(ExpertItem.expert_id, ExpertItem.vector)
                .where(ExpertItem.expert_id.between(lo, hi))
                .order_by(ExpertItem.expert_id, ExpertItem.position, ExpertItem.id)):
            at = int(np.searchsorted(part, it.expert_id))
            if at >= part.size or part[at] != it.expert_id or not ours[at]:
                continue
            row = start + at
            slot = int(item_indptr[row]) + int(seen[at])
            seen[at] += 1
            if slot < item_indptr[row + 1]:
                _put(items, slot, it.vector)
    owner = np.repeat(np.arange(n), np.diff(item_indptr))
    return ExpertVectors(profiles, items, owner if items is not None else None, own_items=True)


def _cat(parts: Iterable[np.ndarray]) -> np.ndarray:
    parts = list(parts)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def read_docs(session: Session, expert_ids: list[int], model: str | None
              ) -> tuple[list[ExpertDoc], np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Read a few experts (a delta) as docs with their vectors of ``model`` (rows in id order).

    Returns (docs, profile matrix or None, item matrix or None, item owner rows).
    """
    docs, p_blobs, i_blobs, owner = [], [], [], []
    ids = sorted(expert_ids)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        experts = session.execute(select(*_EXPERT_COLUMNS, Expert.vector, Expert.vector_model)
                                  .where(Expert.id.in_(part)).order_by(Expert.id)).all()
        items: dict[int, list] = {}
        for it in session.execute(select(*_ITEM_COLUMNS, ExpertItem.vector)
                                  .where(ExpertItem.expert_id.in_(part))
                                  .order_by(ExpertItem.expert_id, ExpertItem.position,
                                            ExpertItem.id)):
            items.setdefault(it.expert_id, []).append(it)
        for e in experts:
            mine = items.get(e.id, [])
            ours = model is not None and e.vector_model == model
            docs.append(ExpertDoc(
                id=e.id, tokens=tuple(mtext.split_tokens(e.tokens)),
                items=tuple(ItemDoc(title=i.title, tokens=tuple(mtext.split_tokens(i.tokens)))
                            for i in mine),
                institution_id=e.institution_id,
                field_ids=(e.tech_field_id,) if e.tech_field_id else (),
                is_academician=bool(e.is_academician)))
            p_blobs.append(e.vector if ours else None)
            for i in mine:
                i_blobs.append(i.vector if ours else None)
                owner.append(len(docs) - 1)
    if model is None:
        return docs, None, None, np.asarray(owner, dtype=np.intp)
    profiles = np.full((len(docs), E5_DIM), np.nan, np.float32)
    for n, blob in enumerate(p_blobs):
        _put(profiles, n, blob)
    items_m = np.full((len(i_blobs), E5_DIM), np.nan, np.float32)
    for n, blob in enumerate(i_blobs):
        _put(items_m, n, blob)
    return docs, profiles, items_m, np.asarray(owner, dtype=np.intp)
