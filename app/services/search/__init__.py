"""Search: snapshots of the matching index per collection (:mod:`.index`) and the ranking use
case (:mod:`.ranking`). The process-level holder lives in :mod:`app.lifecycle`."""

from .index import DemandSnapshot, ExpertSnapshot, build_demand_snapshot, build_expert_snapshot
from .ranking import (
    ChosenRanks,
    Hit,
    demand_vector,
    expert_snapshot,
    query_tokens,
    rank_of_experts,
    rank_text,
    similar_demands,
)

__all__ = [
    "ChosenRanks", "DemandSnapshot", "ExpertSnapshot", "Hit", "build_demand_snapshot",
    "build_expert_snapshot", "demand_vector", "expert_snapshot", "query_tokens",
    "rank_of_experts", "rank_text", "similar_demands",
]
