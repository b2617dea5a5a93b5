"""API routes of demands: list, create, show, edit, transitions, ranking and proposing experts.

Also the free-text ranking (/match), which ranks as for a demand but from the text sent.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from models import Demand, Expert, Match

from ...auth.decorators import api_token_required
from ...db import get_session
from ...errors import NotFound
from ...policy.scope import demand_scope
from ...policy.statuses import PUBLIC_DEMAND_STATUSES
from ...services import match_writer
from ...services import serializers as ser
from ...services import workflow as wf
from ...services.search import rank_text
from . import (
    ValidationProblem,
    _check_field,
    _check_institution,
    _need_user,
    _paged,
    _user,
    bp,
    require_scope,
)
from .schemas import (
    DemandCreateIn,
    DemandIn,
    DemandListArgs,
    DemandOut,
    DemandPage,
    MatchPage,
    MatchTextIn,
    ProposeIn,
    RankArgs,
    RankOut,
    ReasonIn,
)


# --- helpers ------------------------------------------------------------------------------------
def _public_clause():
    return and_(Demand.publishable.is_(True), Demand.status.in_(PUBLIC_DEMAND_STATUSES))


def _visible_demand(session, demand_id: int) -> Demand:
    user = _user()
    if user is not None:
        return wf.get_demand(session, user, demand_id)
    demand = session.get(Demand, demand_id)
    if demand is None or not ser.is_public(demand):
        raise NotFound("需求不存在，或您无权查看。")
    return demand


def _demand_out(session, demand: Demand) -> dict:
    user = _user()
    contact = ser.demand_contact(session, user, demand) if user is not None else None
    actions = wf.demand_actions(session, user, demand) if user is not None else None
    return ser.demand_dict(demand, contact=contact, actions=actions)


def _hits_out(session, hits, snap, proposed: set[int] = frozenset()) -> dict:
    experts = {
        e.id: e
        for e in session.scalars(select(Expert).where(Expert.id.in_([h.expert_id for h in hits])))
    }
    items = []
    for n, h in enumerate(hits, 1):
        if h.expert_id in experts:
            item = ser.hit_dict(h, experts[h.expert_id], n)
            item["proposed"] = h.expert_id in proposed
            items.append(item)
    return {"items": items, "index_version": list(snap.version), "n_experts": snap.n_experts}


# --- demands ------------------------------------------------------------------------------------
@bp.route("/demands")
@api_token_required
@bp.arguments(DemandListArgs, location="query")
@bp.response(200, DemandPage)
def list_demands(args: dict):
    """List demands: published ones for API clients, the user's scope for users."""
    require_scope("read")
    session = get_session()
    user = _user()
    where = demand_scope(user, include_published=True) if user is not None else _public_clause()
    query = select(Demand).where(where)
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(
            or_(
                Demand.title.ilike(like),
                Demand.problem.ilike(like),
                Demand.goals.ilike(like),
                Demand.code.ilike(like),
            )
        )
    if args.get("status"):
        query = query.where(Demand.status == args["status"])
    if args.get("district") is not None:
        query = query.where(Demand.district_id == args["district"])
    if args.get("industry") is not None:
        query = query.where(Demand.industry_id == args["industry"])
    if args.get("field") is not None:
        _check_field(session, args["field"])
        query = query.where(Demand.tech_field_id == args["field"])
    query = query.order_by(Demand.updated_at.desc(), Demand.id.desc())
    return _paged(query, args, session, lambda d: ser.demand_dict(d, detail=False))


@bp.route("/demands", methods=["POST"])
@api_token_required
@bp.arguments(DemandCreateIn)
@bp.response(201, DemandOut)
def create_demand(data: dict):
    """Record a draft demand (district liaison)."""
    session = get_session()
    demand = wf.create_demand(session, _need_user(), data)
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>")
@api_token_required
@bp.response(200, DemandOut)
def show_demand(demand_id: int):
    """Show one demand; published demands carry no personal contact data."""
    require_scope("read")
    session = get_session()
    out = _demand_out(session, _visible_demand(session, demand_id))
    return out


@bp.route("/demands/<int:demand_id>", methods=["PATCH"])
@api_token_required
@bp.arguments(DemandIn)
@bp.response(200, DemandOut)
def update_demand(data: dict, demand_id: int):
    """Edit a draft or returned demand (district liaison of its district)."""
    session = get_session()
    user = _need_user()
    demand = wf.update_demand(session, user, wf.get_demand(session, user, demand_id), data)
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>/<any(submit,publish,return,close):action>", methods=["POST"])
@api_token_required
@bp.arguments(ReasonIn)
@bp.response(200, DemandOut)
def transition_demand(data: dict, demand_id: int, action: str):
    """Submit, publish, return (reason required) or close a demand."""
    session = get_session()
    user = _need_user()
    demand = wf.get_demand(session, user, demand_id)
    wf.transition_demand(session, user, demand, action, data.get("reason"))
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>/matches")
@api_token_required
@bp.arguments(RankArgs, location="query")
@bp.response(200, RankOut)
def rank_for_demand(args: dict, demand_id: int):
    """Rank experts for a demand, with scores and explanations."""
    require_scope("rank")
    session = get_session()
    demand = _visible_demand(session, demand_id)
    _check_field(session, args.get("field"))
    _check_institution(session, args.get("institution"))
    from matching import text as mtext

    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    hits, snap = rank_text(
        session,
        demand.text,
        args["top"],
        field_id=args.get("field"),
        institution_id=args.get("institution"),
        academician_only=args["academician"],
        tokens=tokens,
        demand=demand,
    )
    proposed = set(session.scalars(select(Match.expert_id).where(Match.demand_id == demand.id)))
    return _hits_out(session, hits, snap, proposed)


@bp.route("/demands/<int:demand_id>/matches", methods=["POST"])
@api_token_required
@bp.arguments(ProposeIn)
@bp.response(201, MatchPage)
def propose(data: dict, demand_id: int):
    """Send a shortlist of experts for a demand to their campus liaisons."""
    session = get_session()
    user = _need_user()
    demand = wf.get_demand(session, user, demand_id)
    created = match_writer.propose_matches(
        session, user, demand, data["expert_ids"], data.get("note")
    )
    items = [ser.match_dict(m) for m in created]
    return {"items": items, "page": 1, "per_page": len(items), "total": len(items)}


# --- free-text matching -------------------------------------------------------------------------
@bp.route("/match", methods=["POST"])
@api_token_required
@bp.arguments(MatchTextIn)
@bp.response(200, RankOut)
def match_text(data: dict):
    """Rank experts for a free-text demand, with scores and explanations."""
    require_scope("rank")
    session = get_session()
    if not data["text"].strip():
        raise ValidationProblem("参数「text」有误：需求文本不能为空。", field="text")
    _check_field(session, data.get("field"))
    _check_institution(session, data.get("institution"))
    hits, snap = rank_text(
        session,
        data["text"],
        data["top"],
        field_id=data.get("field"),
        institution_id=data.get("institution"),
        academician_only=data["academician"],
    )
    return _hits_out(session, hits, snap)
