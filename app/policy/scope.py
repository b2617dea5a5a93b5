"""Where-clauses: the rows of each collection a user may list (RuoYi's data scope, once).

Every list, export, warning and count asks these; nothing else writes a scope.

| collection | city admin | district roles | campus liaison |
|---|---|---|---|
| demands | all | own district (+ public ones where asked) | public + sent to its experts |
| matches | all | those of own district's demands | those of its institution's experts |
| meetings | all | own district's | none |
| experts (edit, import) | all | none | its institution's |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from models import Demand, Expert, Match, MatchmakingMeeting

from .roles import DISTRICT_ROLES, Role
from .statuses import PUBLIC_DEMAND_STATUSES


def _role(user: Any) -> str | None:
    return getattr(user, "role", None) if user is not None else None


def public_demands() -> ColumnElement[bool]:
    """Return the clause of demands on the platform: publishable and published or matched."""
    return and_(Demand.publishable.is_(True), Demand.status.in_(PUBLIC_DEMAND_STATUSES))


def demands_sent_to(institution_id: int) -> Any:
    """Return a subquery of the demand ids sent to experts of an institution."""
    return (select(Match.demand_id).join(Expert, Expert.id == Match.expert_id)
            .where(Expert.institution_id == institution_id))


def demand_scope(user: Any, *, include_published: bool = False) -> ColumnElement[bool]:
    """Return a where-clause limiting demands to what `user` may see.

    District roles see their district, plus every public demand with `include_published`; campus
    liaisons see public demands and those sent to their experts; others nothing.
    """
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return true()
    if role in DISTRICT_ROLES:
        if user.district_id is None:
            return public_demands() if include_published else false()
        own = Demand.district_id == user.district_id
        return or_(own, public_demands()) if include_published else own
    if role == Role.CAMPUS_LIAISON:
        if user.institution_id is None:
            return public_demands()
        return or_(public_demands(), Demand.id.in_(demands_sent_to(user.institution_id)))
    return false()


def match_scope(user: Any) -> ColumnElement[bool]:
    """Return a where-clause limiting matches to what `user` may see.

    `user` None is an API token without a user: the matches of public demands.
    """
    if user is None:
        return Match.demand_id.in_(select(Demand.id).where(public_demands()))
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return true()
    if role in DISTRICT_ROLES and user.district_id is not None:
        return Match.demand_id.in_(select(Demand.id).where(Demand.district_id == user.district_id))
    if role == Role.CAMPUS_LIAISON and user.institution_id is not None:
        return Match.expert_id.in_(
            select(Expert.id).where(Expert.institution_id == user.institution_id))
    return false()


def meeting_scope(user: Any) -> ColumnElement[bool]:
    """Return a where-clause limiting matchmaking meetings to what `user` may see."""
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return true()
    if role in DISTRICT_ROLES and user.district_id is not None:
        return MatchmakingMeeting.district_id == user.district_id
    return false()


def expert_edit_scope(user: Any) -> ColumnElement[bool]:
    """Return a where-clause limiting experts to those `user` may edit or import."""
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return true()
    if role == Role.CAMPUS_LIAISON and user.institution_id is not None:
        return Expert.institution_id == user.institution_id
    return false()
