"""The other invitees of each session, and the 1:1 pairs proposed inside a session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from matching.planning.plan_records import (
    ExpertAssignment,
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    PlanningError,
    Session,
    SessionInvitees,
    SessionPlan,
)
from matching.planning.seats import as_matrix
from matching.planning.themes import Analyzer, bigram_analyze, display

__all__ = ["invite_others", "keep_one_place", "propose_pairs"]


def _tokens_of(text: str, tokens: Sequence[str], analyzer: Analyzer) -> set[str]:
    raw = list(tokens) if tokens else list(analyzer(text))
    return {display(t) for t in raw}


def invite_others(
    plan: SessionPlan,
    demands: Sequence[MeetingDemand],
    *,
    assignment: ExpertAssignment | None = None,
    expert_institutions: Mapping[Hashable, Hashable | None] | None = None,
    enterprises: Sequence[MeetingEnterprise] = (),
    investors: Sequence[MeetingInvestor] = (),
    analyzer: Analyzer = bigram_analyze,
    max_enterprises: int = 20,
    max_investors: int = 10,
) -> tuple[SessionInvitees, ...]:
    """List each session's related enterprises, fitting investors and experts' institutions.

    Parameters
    ----------
    plan : SessionPlan
        The sessions.
    demands : sequence of MeetingDemand
        At least the demands of the plan (for owners, industries, stages, investment).
    assignment : ExpertAssignment, optional
        Invited experts; their institutions are invited.
    expert_institutions : mapping of expert id to institution id, optional
    enterprises : sequence of MeetingEnterprise
        Candidate related enterprises. One is related to a session when it is in an industry of
        the session or its text shares theme words with the session; demand owners are left
        out. Ranked by shared theme words, then same industry, then input order.
    investors : sequence of MeetingInvestor
        An investor fits when its industries (if any) include an industry of the session, its
        stages (if any) include a stage of a session demand (or no demand has a stage), and
        its ticket range contains the session's total planned investment (when known). Ranked
        by how many of the three preferences it states and meets, then input order.
    analyzer : callable, default=bigram_analyze
        Tokenizes enterprise texts that have no stored tokens.
    max_enterprises, max_investors : int
        At most this many of each per session.

    Returns
    -------
    tuple of SessionInvitees
        One per session, in plan order.
    """
    by_id = {d.id: d for d in demands}
    expert_institutions = expert_institutions or {}
    ent_tokens = [_tokens_of(e.text or e.name, e.tokens, analyzer) for e in enterprises]
    ent_texts = [(e.name or "") + (e.text or "") for e in enterprises]
    out = []
    for session in plan.sessions:
        missing = [d for d in session.demand_ids if d not in by_id]
        if missing:
            raise PlanningError(f"分场 {session.key} 的需求 {missing[0]} 不在需求列表中", "input")
        sdemands = [by_id[d] for d in session.demand_ids]
        owners = {d.enterprise_id for d in sdemands if d.enterprise_id is not None}
        industries = set(session.industries) | {d.industry for d in sdemands}
        industries.discard(None)
        themes = set(session.theme_words)
        ranked = []
        for pos, ent in enumerate(enterprises):
            if ent.id in owners:
                continue
            shared = sum(1 for w in themes if w in ent_tokens[pos] or w in ent_texts[pos])
            same = ent.industry is not None and ent.industry in industries
            if shared or same:
                ranked.append((-shared, not same, pos, ent.id))
        ranked.sort()
        investment = [d.planned_investment for d in sdemands if d.planned_investment is not None]
        total = float(sum(investment)) if investment else None
        stages = {d.stage for d in sdemands if d.stage}
        fits = []
        for pos, inv in enumerate(investors):
            stated = 0
            if inv.industries:
                if not industries & set(inv.industries):
                    continue
                stated += 1
            if inv.stages and stages:
                if not stages & set(inv.stages):
                    continue
                stated += 1
            if total is not None and (inv.ticket_min is not None or inv.ticket_max is not None):
                if inv.ticket_min is not None and total < inv.ticket_min:
                    continue
                if inv.ticket_max is not None and total > inv.ticket_max:
                    continue
                stated += 1
            fits.append((-stated, pos, inv.id))
        fits.sort()
        institutions: list[Hashable] = []
        if assignment is not None:
            for expert in assignment.experts_of(session.key):
                inst = expert_institutions.get(expert)
                if inst is not None and inst not in institutions:
                    institutions.append(inst)
        out.append(
            SessionInvitees(
                session_key=session.key,
                enterprise_ids=tuple(r[-1] for r in ranked[:max_enterprises]),
                investor_ids=tuple(f[-1] for f in fits[:max_investors]),
                institution_ids=tuple(institutions),
            )
        )
    return tuple(out)


def propose_pairs(
    session: Session,
    assignment: ExpertAssignment,
    affinity: np.ndarray | sp.spmatrix | sp.sparray,
    expert_ids: Sequence[Hashable],
    demand_ids: Sequence[Hashable],
    *,
    per_demand: int = 2,
    min_affinity: float = 0.0,
) -> tuple[tuple[Hashable, Hashable], ...]:
    """Propose 1:1 pairs of a session: each demand with its best invited experts.

    Parameters
    ----------
    session : Session
    assignment : ExpertAssignment
    affinity : ndarray or sparse matrix of shape (n_experts, n_demands)
    expert_ids, demand_ids : sequence
        Row and column ids of ``affinity``.
    per_demand : int, default=2
        Experts per demand.
    min_affinity : float, default=0.0
        Pairs at or below this affinity are not proposed.

    Returns
    -------
    tuple of (demand_id, expert_id)
    """
    experts = assignment.experts_of(session.key)
    if not experts:
        return ()
    e_index = {e: i for i, e in enumerate(expert_ids)}
    d_index = {d: j for j, d in enumerate(demand_ids)}
    mat = as_matrix(affinity)
    rows = [e_index[e] for e in experts]
    cols = [d_index[d] for d in session.demand_ids]
    sub = mat[rows][:, cols]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    pairs = []
    for j, did in enumerate(session.demand_ids):
        order = np.argsort(-sub[:, j], kind="stable")[:per_demand]
        pairs.extend((did, experts[i]) for i in order if sub[i, j] > min_affinity)
    return tuple(pairs)


def keep_one_place(
    invitees: Sequence[SessionInvitees],
    slot_of: Mapping[str, str | None],
    *,
    availability: Mapping[Hashable, Iterable[str]] | None = None,
    caps: Mapping[Hashable, int] | None = None,
    kept: Iterable[tuple[str, str, Hashable]] = (),
) -> tuple[SessionInvitees, ...]:
    """Drop invitations that would put an investor or related enterprise in two places.

    In the given order of sessions, an investor or enterprise keeps its first session of each
    time slot; an investor also skips slots it cannot attend (``availability``, keyed by
    ``("investor", id)``) and stops at its cap (``caps``, same keys). ``kept`` lists
    ``(session_key, kind, id)`` invitations that stay whatever happens (locked by the
    organiser); they still occupy their slot. Sessions without a slot keep their lists.

    Returns
    -------
    tuple of SessionInvitees
        In input order, with ``enterprise_ids`` and ``investor_ids`` filtered.
    """
    availability = {p: set(v) for p, v in (availability or {}).items()}
    caps = dict(caps or {})
    forced = set(kept)
    seen: set[tuple[str, Hashable, str]] = set()
    count: Counter[Hashable] = Counter()
    for key, kind, pid in forced:
        slot = slot_of.get(key)
        if slot is not None:
            seen.add((kind, pid, slot))
            if kind == "investor":
                count[pid] += 1
    out = []
    for inv in invitees:
        slot = slot_of.get(inv.session_key)
        if slot is None:
            out.append(inv)
            continue
        lists: dict[str, list[Hashable]] = {"enterprise": [], "investor": []}
        for kind, ids in (("enterprise", inv.enterprise_ids), ("investor", inv.investor_ids)):
            for pid in ids:
                if (inv.session_key, kind, pid) in forced:
                    lists[kind].append(pid)
                    continue
                person = (kind, pid)
                if (kind, pid, slot) in seen:
                    continue
                if person in availability and slot not in availability[person]:
                    continue
                if kind == "investor" and person in caps and count[pid] >= caps[person]:
                    continue
                seen.add((kind, pid, slot))
                if kind == "investor":
                    count[pid] += 1
                lists[kind].append(pid)
        out.append(replace(inv, enterprise_ids=tuple(lists["enterprise"]),
                           investor_ids=tuple(lists["investor"])))
    return tuple(out)
