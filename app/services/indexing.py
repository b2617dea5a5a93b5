"""Write-time text processing: tokens stored with each row, and the data version counters."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from matching import text as mtext
from models import DataVersion, Demand, Expert, ExpertItem, utcnow

from .fields import MAX_QUERY_TEXT

EXPERTS = "experts"
DEMANDS = "demands"


def refresh_expert_tokens(expert: Expert, *, keep_vectors: bool = False) -> None:
    """Segment an expert's profile and items once and store the tokens with the rows.

    ``keep_vectors`` is for re-segmenting unchanged text (a new domain term): the sentence
    vectors depend on the text only, so they stay valid.
    """
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
    if keep_vectors:
        return
    expert.vector = None  # the profile changed: the semantic job re-embeds it
    expert.vector_model = None
    for item in items:
        item.vector = None


def demand_tokens(text: str | None) -> list[str]:
    """Segment what matching reads of a demand or a free text: its first MAX_QUERY_TEXT characters.

    The ranking, the similar-demand check and the stored tokens all read this window; the rest of
    a longer text (fields allow 20,000 characters each) is kept but never segmented.
    """
    return mtext.analyze((text or "")[:MAX_QUERY_TEXT])


def refresh_demand_tokens(demand: Demand, *, keep_vectors: bool = False) -> None:
    """Segment a demand's text once (its :func:`demand_tokens`) and store them with the row."""
    demand.tokens = mtext.join_tokens(demand_tokens(demand.text))
    if keep_vectors:
        return
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


def apply_domain_term(session: Session, term: str) -> tuple[int, int]:
    """Re-segment only the experts and demands whose text contains a new domain term.

    The whole database is never re-segmented: a term can only change the words of texts that
    contain it. Returns (experts, demands) re-segmented; their data versions move so that every
    worker rebuilds its index (and loads the term) on its next check.
    """
    mtext.initialize([term])
    in_items = select(ExpertItem.expert_id).where(
        or_(ExpertItem.title.contains(term, autoescape=True),
            ExpertItem.text.contains(term, autoescape=True)))
    experts = session.scalars(select(Expert).where(or_(
        Expert.title.contains(term, autoescape=True),
        Expert.research_fields.contains(term, autoescape=True),
        Expert.summary.contains(term, autoescape=True),
        Expert.id.in_(in_items)))).all()
    for expert in experts:
        refresh_expert_tokens(expert, keep_vectors=True)
    demands = session.scalars(select(Demand).where(or_(
        Demand.title.contains(term, autoescape=True),
        Demand.problem.contains(term, autoescape=True),
        Demand.goals.contains(term, autoescape=True)))).all()
    for demand in demands:
        refresh_demand_tokens(demand, keep_vectors=True)
    if experts:
        bump_version(session, EXPERTS)
    if demands:
        bump_version(session, DEMANDS)
    return len(experts), len(demands)

