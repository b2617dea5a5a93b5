"""API routes of matches: list in the caller's scope, show with history, transitions."""

from __future__ import annotations

from sqlalchemy import select

from models import Demand, Expert, Match

from ...auth.decorators import api_token_required
from ...db import get_session
from ...policy.scope import match_scope
from ...services import match_writer
from ...services import serializers as ser
from . import _need_user, _paged, _user, bp, require_scope
from .schemas import MatchListArgs, MatchOut, MatchPage, MatchTransitionIn


# --- matches ------------------------------------------------------------------------------------
@bp.route("/matches")
@api_token_required
@bp.arguments(MatchListArgs, location="query")
@bp.response(200, MatchPage)
def list_matches(args: dict):
    """List matches in the caller's scope (API clients with the read scope: published demands')."""
    require_scope("read")
    session = get_session()
    user = _user()
    query = (
        select(Match)
        .join(Demand, Demand.id == Match.demand_id)
        .join(Expert, Expert.id == Match.expert_id)
        .where(match_scope(user))
    )
    if args.get("status"):
        query = query.where(Match.status == args["status"])
    if args.get("demand") is not None:
        query = query.where(Match.demand_id == args["demand"])
    return _paged(query.order_by(Match.updated_at.desc(), Match.id.desc()), args, session,
                  ser.match_dict)


@bp.route("/matches/<int:match_id>")
@api_token_required
@bp.response(200, MatchOut)
def show_match(match_id: int):
    """Show one match with its history."""
    session = get_session()
    user = _need_user()
    match = match_writer.get_match(session, user, match_id)
    return ser.match_dict(
        match, events=True, actions=match_writer.match_actions(session, user, match)
    )


@bp.route(
    "/matches/<int:match_id>/<any(accept,decline,introduce,negotiate,negotiating,sign,"
    "close):action>",
    methods=["POST"],
)
@api_token_required
@bp.arguments(MatchTransitionIn)
@bp.response(200, MatchOut)
def transition_match(data: dict, match_id: int, action: str):
    """Accept, decline (reason), introduce, negotiate, sign (amount > 0) or close (reason)."""
    session = get_session()
    user = _need_user()
    match = match_writer.get_match(session, user, match_id)
    match_writer.transition_match(
        session,
        user,
        match,
        action,
        reason=data.get("reason"),
        contract_amount=data.get("contract_amount"),
    )
    out = ser.match_dict(
        match, events=True, actions=match_writer.match_actions(session, user, match)
    )
    return out
