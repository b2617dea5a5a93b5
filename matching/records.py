"""Plain frozen records passed in and out of the matching package."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemandDoc", "ExpertDoc", "ItemDoc", "RankedExpert"]


@dataclass(frozen=True, slots=True)
class ItemDoc:
    """One item of an expert's record (project, patent, paper) with its stored tokens."""

    title: str
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExpertDoc:
    """An expert as the ranker sees it: stored tokens and the attributes filters use.

    ``tokens`` are the weighted profile tokens (see :func:`matching.text.expert_tokens`);
    ``items`` are scored one by one to name the best-matching item.
    """

    id: int | str
    tokens: tuple[str, ...] = ()
    items: tuple[ItemDoc, ...] = ()
    institution_id: int | None = None
    field_ids: tuple[int, ...] = ()
    industry_ids: tuple[int, ...] = ()
    is_academician: bool = False


@dataclass(frozen=True, slots=True)
class RankedExpert:
    """One line of a ranking, with its explanation.

    ``terms`` are (term, share) pairs, largest share first; shares are the fraction of the
    lexical score each matched term contributed. ``best_item`` indexes ``ExpertDoc.items``
    (closest in words); ``semantic_item`` the item closest in meaning (experts with two items
    or more, when vectors were used). ``semantic`` is True when the semantic part carried the
    expert: words alone would not have listed it. ``percent`` is the score on a 0-100 scale
    (:func:`matching.fusion.percent`). ``chips`` are the terms a person reads as reasons
    (:func:`matching.ranker.reasons.readable`); ``minor_terms`` the rest (single characters,
    numbers, fragments), ``minor_share`` their share of the lexical score.
    """

    expert_id: int | str
    score: float
    terms: tuple[tuple[str, float], ...] = ()
    best_item: int | None = None
    best_item_title: str | None = None
    semantic: bool = False
    semantic_item: int | None = None
    semantic_item_title: str | None = None
    percent: int = 0
    chips: tuple[tuple[str, float], ...] = ()
    minor_terms: tuple[str, ...] = ()
    minor_share: float = 0.0


@dataclass(frozen=True, slots=True)
class DemandDoc:
    """A demand as the similar-demand index sees it."""

    id: int | str
    tokens: tuple[str, ...] = ()
