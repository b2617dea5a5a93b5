"""Write-time text processing: tokens stored with each row, and the data version counters."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matching import text as mtext
from models import DataVersion, Demand, Expert, utcnow

EXPERTS = "experts"
DEMANDS = "demands"


def refresh_expert_tokens(expert: Expert) -> None:
    """Segment an expert's profile and items once and store the tokens with the rows."""
    items = list(expert.items)
    repeats = mtext.FIELD_REPEATS
    tokens = mtext.expert_tokens(
        expert.title or "", expert.research_fields or "", expert.summary or "", []
    )
    for item in items:
        item_tokens = mtext.analyze(item.text or item.title or "")
        item.tokens = mtext.join_tokens(item_tokens)
        # the same weights as matching.text.expert_tokens, without segmenting the item twice
        tokens += item_tokens * repeats["item_text"]
        if item.title and repeats["item_title"]:
            tokens += mtext.analyze(item.title) * repeats["item_title"]
    expert.tokens = mtext.join_tokens(tokens)
    expert.vector = None  # the profile changed: the semantic job re-embeds it
    expert.vector_model = None
    for item in items:
        item.vector = None


def refresh_demand_tokens(demand: Demand) -> None:
    """Segment a demand's text once and store the tokens with the row."""
    demand.tokens = mtext.join_tokens(mtext.analyze(demand.text))
    demand.vector = None
    demand.vector_model = None


def bump_version(session: Session, name: str) -> None:
    """Move a collection's data version forward so every worker rebuilds its index."""
    row = session.get(DataVersion, name)
    if row is None:
        session.add(DataVersion(name=name, version=1, updated_at=utcnow()))
        session.flush()
        return
    session.execute(
        update(DataVersion)
        .where(DataVersion.name == name)
        .values(version=DataVersion.version + 1, updated_at=utcnow())
    )


def current_version(session: Session, name: str) -> int:
    """Return a collection's data version (0 when never written)."""
    return session.scalar(select(DataVersion.version).where(DataVersion.name == name)) or 0
