"""The one writer of ``Match.status``: proposing a shortlist, the campus liaison's steps, and the
system's own transitions (meeting outcomes), each with an event (who, when, from, to, why).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Demand,
    Expert,
    Match,
    MatchEvent,
    utcnow,
)

from ..errors import Conflict, DomainError, Forbidden, NotFound
from ..policy import access
from ..policy.statuses import DEMAND_STATUS_LABELS, MATCH_STATUS_LABELS
from . import fields
from .audit import record
from .search.ranking import rank_of_experts
from .state_machines import (
    DEMAND_TRANSITIONS,
    MATCH_ACTION_ALIASES,
    MATCH_TRANSITIONS,
    SYSTEM_MATCH_TRANSITIONS,
    find,
    reason_for,
    role_of,
    user_id_of,
)
from .workflow import _check_district, _demand_event, can_view_demand


def _contract_amount(value: Any) -> float:
    """Return a signed contract's amount in 万元: a finite number above 0."""
    amount = fields.check_number(value, "contract_amount", "合同金额")
    if amount is None or amount <= 0:
        raise DomainError("签约须填写大于 0 的合同金额（万元）。", field="contract_amount")
    return amount


# --- matches --------------------------------------------------------------------------------------
def _explanation(hit: Any, rank: int | None, version: Any) -> dict[str, Any]:
    if hit is None:
        return {"rank": None, "terms": [], "best_item_title": None, "semantic": False,
                "semantic_item_title": None, "index_version": version}
    return {
        "rank": rank,
        "terms": [[t, round(float(s), 4)] for t, s in hit.terms],
        "best_item_title": hit.best_item_title,
        "semantic": bool(hit.semantic),
        "semantic_item_title": hit.semantic_item_title,
        "index_version": version,
    }



def propose_matches(session: Session, user: Any, demand: Demand, expert_ids: Iterable[int],
                    note: str | None = None) -> list[Match]:
    """Send a shortlist of experts for a demand to their institutions' campus liaisons.

    Creates one `proposed` Match per new expert with the ranker's score and explanation, moves
    the demand to `matched`, and records the events. Experts already on the list are skipped.
    """
    if not can_view_demand(session, user, demand):
        raise NotFound("需求不存在，或您无权查看。")
    t = find(DEMAND_TRANSITIONS, "match", demand.status, DEMAND_STATUS_LABELS, user)
    _check_district(user, demand)
    if demand.status == "submitted" and demand.publishable:
        raise Conflict("可公开发布的需求请先发布，再推荐专家。", field="status")
    ids = list(dict.fromkeys(int(i) for i in expert_ids))
    if not ids:
        raise DomainError("请至少选择一位专家。", field="expert_ids")
    if len(ids) > 50:
        raise DomainError("一次最多推荐 50 位专家。", field="expert_ids")
    experts = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_(ids)))}
    missing = [i for i in ids if i not in experts]
    if missing:
        raise DomainError(f"专家不存在：{', '.join(map(str, missing))}", field="expert_ids")
    existing = set(session.scalars(
        select(Match.expert_id).where(Match.demand_id == demand.id, Match.expert_id.in_(ids))))
    new_ids = [i for i in ids if i not in existing]
    if not new_ids:
        raise Conflict("所选专家均已在该需求的对接名单中。", field="expert_ids")
    chosen = rank_of_experts(session, demand, new_ids)
    ranked, version = chosen.ranks, chosen.version
    why = reason_for(note, False, "推荐")
    now = utcnow()
    created = []
    for expert_id in new_ids:
        rank, hit = ranked.get(expert_id, (None, None))
        match = Match(demand=demand, expert=experts[expert_id], status="proposed",
                      score=round(float(hit.score), 6) if hit is not None else None,
                      explanation=_explanation(hit, rank, version),
                      proposed_by_id=user_id_of(user), created_at=now, updated_at=now)
        session.add(match)
        session.add(MatchEvent(match=match, user_id=user_id_of(user), at=now, from_status=None,
                               to_status="proposed", reason=why))
        created.append(match)
    if demand.status != t.target:
        old = demand.status
        demand.status = t.target
        demand.updated_at = now
        _demand_event(session, user, demand, old, t.target,
                      why or f"推荐专家 {len(created)} 位")
    session.flush()
    record(session, user, "match.propose", "demand", demand.id,
           after=f"推荐专家 {len(created)} 位：" + "、".join(experts[i].name for i in new_ids),
           reason=why)
    return created


def can_view_match(session: Session, user: Any, match: Match) -> bool:
    """Return whether `user` may see a match (the rule is app.policy.access.can_view_match)."""
    return access.can_view_match(user, match)


def get_match(session: Session, user: Any, match_id: int) -> Match:
    """Return a match the user may see, else raise NotFound."""
    match = session.get(Match, match_id)
    if match is None or not can_view_match(session, user, match):
        raise NotFound("对接记录不存在，或您无权查看。")
    return match


def transition_match(session: Session, user: Any, match: Match, action: str, *,
                     reason: str | None = None,
                     contract_amount: float | None = None) -> Match:
    """Apply a campus transition (accept, decline, introduce, negotiate, sign, close)."""
    action = MATCH_ACTION_ALIASES.get(action, action)
    if not can_view_match(session, user, match):
        raise NotFound("对接记录不存在，或您无权查看。")
    t = find(MATCH_TRANSITIONS, action, match.status, MATCH_STATUS_LABELS, user)
    if not access.can_act_on_match(user, match):
        raise Forbidden("只能处理本单位专家的对接。")
    why = reason_for(reason, t.reason_required, t.label)
    amount = None
    if action == "sign":
        amount = _contract_amount(contract_amount)
        match.contract_amount = amount
    if why is not None:
        match.reason = why
    old = match.status
    now = utcnow()
    match.status = t.target
    match.updated_at = now
    session.add(MatchEvent(match=match, user_id=user_id_of(user), at=now, from_status=old,
                           to_status=t.target, reason=why, contract_amount=amount))
    session.flush()
    record(session, user, f"match.{action}", "match", match.id,
           before=MATCH_STATUS_LABELS.get(old, old), after=MATCH_STATUS_LABELS[t.target],
           reason=why if amount is None else f"{why or ''} 合同金额 {amount:g} 万元".strip())
    return match


def apply_system_transition(session: Session, match: Match, target: str, *, user: Any = None,
                            reason: str, contract_amount: float | None = None) -> Match:
    """Move a match to `target` on the system's authority (a meeting outcome), with an event.

    The only writer of ``Match.status`` besides :func:`transition_match`; refuses a change the
    system table does not allow with a Chinese message naming both statuses.
    """
    old = match.status  # None: a match this change creates
    allowed = SYSTEM_MATCH_TRANSITIONS.get(old, ())
    if target not in allowed:
        raise Conflict(f"对接状态「{MATCH_STATUS_LABELS.get(old or '', old or '新建')}」"
                       f"不能改为「{MATCH_STATUS_LABELS.get(target, target)}」。", field="status")
    amount = None
    if target == "signed":
        amount = _contract_amount(contract_amount)
        if old == "signed" and match.contract_amount == amount:
            return match
        match.contract_amount = amount
    if target == "closed":
        match.reason = reason
    now = utcnow()
    match.status = target
    match.updated_at = now
    session.add(MatchEvent(match=match, user_id=user_id_of(user), at=now, from_status=old,
                           to_status=target, reason=reason, contract_amount=amount))
    demand = match.demand
    if old is None and demand is not None and demand.status == "published":
        # the demand's first match: published -> matched, as proposing does
        _demand_event(session, user, demand, "published", "matched", reason)
        demand.status = "matched"
        demand.updated_at = now
    session.flush()
    return match


def accept_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Accept a proposed match on behalf of the expert's institution."""
    return transition_match(session, user, match, "accept", reason=reason)


def decline_match(session: Session, user: Any, match: Match, reason: str) -> Match:
    """Decline a proposed match with a reason."""
    return transition_match(session, user, match, "decline", reason=reason)


def introduce_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Record that the expert and the enterprise were introduced."""
    return transition_match(session, user, match, "introduce", reason=reason)


def negotiate_match(session: Session, user: Any, match: Match, reason: str | None = None) -> Match:
    """Record that the two sides are negotiating."""
    return transition_match(session, user, match, "negotiate", reason=reason)


def sign_match(session: Session, user: Any, match: Match, contract_amount: float,
               reason: str | None = None) -> Match:
    """Record a signed contract with its amount (10k CNY, > 0)."""
    return transition_match(session, user, match, "sign", reason=reason,
                            contract_amount=contract_amount)


def close_match(session: Session, user: Any, match: Match, reason: str) -> Match:
    """Close a match that ends without a contract, with a reason."""
    return transition_match(session, user, match, "close", reason=reason)


def match_actions(session: Session, user: Any, match: Match) -> list[str]:
    """Return the actions `user` may take on a match now."""
    role = role_of(user)
    if not access.can_act_on_match(user, match):
        return []
    return [t.action for t in MATCH_TRANSITIONS
            if match.status in t.sources and role in t.roles]
