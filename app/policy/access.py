"""Predicates on one record: may this user open it, edit it, act on it.

They agree with :mod:`app.policy.scope` row for row (tests/policy check both on the same data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .roles import DISTRICT_ROLES, Role
from .statuses import EDITABLE_DEMAND_STATUSES, PUBLIC_DEMAND_STATUSES


def _role(user: Any) -> str | None:
    return getattr(user, "role", None) if user is not None else None


def is_public(demand: Any) -> bool:
    """Return whether a demand is on the platform (publishable and published or matched)."""
    return bool(demand.publishable) and demand.status in PUBLIC_DEMAND_STATUSES


def in_district(user: Any, district_id: int | None) -> bool:
    """Return whether `user` is a district role of `district_id`."""
    return (_role(user) in DISTRICT_ROLES and district_id is not None
            and getattr(user, "district_id", None) == district_id)


def can_view_demand(user: Any, demand: Any, sent_to_institution_ids: Iterable[int] = ()) -> bool:
    """Return whether `user` may open a demand (`sent_to_institution_ids`: its matches' experts)."""
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return True
    if role in DISTRICT_ROLES:
        return demand.district_id == user.district_id or is_public(demand)
    if role == Role.CAMPUS_LIAISON:
        return is_public(demand) or (
            user.institution_id is not None and user.institution_id in set(sent_to_institution_ids))
    return False


def can_manage_demand(user: Any, demand: Any) -> bool:
    """Return whether `user` works on this demand's district (its admin, liaison, or the city)."""
    return _role(user) == Role.CITY_ADMIN or in_district(user, demand.district_id)


def can_edit_demand(user: Any, demand: Any) -> bool:
    """Return whether `user` may edit the demand's fields now."""
    return (_role(user) == Role.DISTRICT_LIAISON and in_district(user, demand.district_id)
            and demand.status in EDITABLE_DEMAND_STATUSES)


def can_view_match(user: Any, match: Any) -> bool:
    """Return whether `user` may see a match: its institution, its district, or the city.

    A campus liaison never reads matches of other institutions' experts (their decline reasons
    and contract amounts), even on a public demand.
    """
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return True
    if role == Role.CAMPUS_LIAISON:
        return user.institution_id is not None and match.expert.institution_id == (
            user.institution_id)
    if role in DISTRICT_ROLES:
        return in_district(user, match.demand.district_id)
    return False


def can_act_on_match(user: Any, match: Any) -> bool:
    """Return whether `user` may take the campus side's actions on a match."""
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return True
    return role == Role.CAMPUS_LIAISON and user.institution_id is not None and (
        match.expert.institution_id == user.institution_id)


def can_edit_expert(user: Any, institution_id: int | None) -> bool:
    """Return whether `user` may edit or import experts of an institution."""
    role = _role(user)
    if role == Role.CITY_ADMIN:
        return True
    return (role == Role.CAMPUS_LIAISON and institution_id is not None
            and getattr(user, "institution_id", None) == institution_id)


#: What a city admin may grant an API token (ApiClient.scopes), with the label users read.
TOKEN_SCOPES: dict[str, str] = {
    "read": "读取已发布需求、专家及其对接记录",
    "rank": "为需求或文本匹配专家",
    "push_experts": "推送指定高校院所的专家",
}


def token_allows(client: Any, scope: str) -> bool:
    """Return whether an API token holds a scope."""
    return scope in (getattr(client, "scopes", None) or ())


def token_may_push_for(client: Any, institution_id: int | None) -> bool:
    """Return whether an API token may write experts of an institution."""
    return (token_allows(client, "push_experts") and institution_id is not None
            and institution_id in (getattr(client, "institution_ids", None) or ()))
