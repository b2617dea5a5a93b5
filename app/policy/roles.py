"""Roles of the service (PRODUCT.md) and the groups rules speak of."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role; compares equal to the string stored in ``User.role``."""

    DISTRICT_LIAISON = "district_liaison"
    DISTRICT_ADMIN = "district_admin"
    CAMPUS_LIAISON = "campus_liaison"
    CITY_ADMIN = "city_admin"


ROLE_LABELS: dict[str, str] = {
    Role.DISTRICT_LIAISON: "区派联络员",
    Role.DISTRICT_ADMIN: "区局管理员",
    Role.CAMPUS_LIAISON: "驻高校院所联络员",
    Role.CITY_ADMIN: "市科技局管理员",
}

#: Roles bound to one district (``User.district_id``).
DISTRICT_ROLES: frozenset[Role] = frozenset({Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN})
#: Roles that keep the programme's books (roster, trainings, cases, assessments, meetings).
ADMIN_ROLES: frozenset[Role] = frozenset({Role.DISTRICT_ADMIN, Role.CITY_ADMIN})
ALL_ROLES: frozenset[Role] = frozenset(Role)


def role_label(role: str | None) -> str:
    """Return the Chinese label of a role ('' for none)."""
    if not role:
        return ""
    return ROLE_LABELS.get(role, role)


def is_city(user: object) -> bool:
    """Return whether the user is the city bureau's administrator."""
    return getattr(user, "role", None) == Role.CITY_ADMIN
