"""Access predicates: the permission matrix as pure policy (no database, no Flask)."""

from types import SimpleNamespace as NS

import pytest

from app.policy import access
from app.policy.roles import Role

DH, HS, WHU, HUST = 1, 2, 10, 11


def user(role, district=None, institution=None):
    return NS(role=role, district_id=district, institution_id=institution)


USERS = {
    "city": user(Role.CITY_ADMIN),
    "dh_admin": user(Role.DISTRICT_ADMIN, DH),
    "dh_liaison": user(Role.DISTRICT_LIAISON, DH),
    "hs_liaison": user(Role.DISTRICT_LIAISON, HS),
    "whu": user(Role.CAMPUS_LIAISON, institution=WHU),
    "hust": user(Role.CAMPUS_LIAISON, institution=HUST),
    "nobody": None,
}
PRIVATE = NS(district_id=DH, publishable=False, status="submitted")
PUBLIC = NS(district_id=DH, publishable=True, status="published")
DRAFT = NS(district_id=DH, publishable=False, status="draft")


@pytest.mark.parametrize(("who", "demand", "sent", "expected"), [
    ("city", PRIVATE, (), True),
    ("dh_admin", PRIVATE, (), True),
    ("hs_liaison", PRIVATE, (), False),
    ("hs_liaison", PUBLIC, (), True),
    ("whu", PRIVATE, (), False),
    ("whu", PRIVATE, (WHU,), True),
    ("hust", PRIVATE, (WHU,), False),
    ("hust", PUBLIC, (), True),
    ("nobody", PUBLIC, (), False),
])
def test_view_demand(who, demand, sent, expected):
    assert access.can_view_demand(USERS[who], demand, sent) is expected


@pytest.mark.parametrize(("who", "expected"), [
    ("dh_liaison", True), ("dh_admin", False), ("hs_liaison", False), ("city", False),
    ("whu", False)])
def test_only_the_districts_liaison_edits_a_draft(who, expected):
    assert access.can_edit_demand(USERS[who], DRAFT) is expected
    assert access.can_edit_demand(USERS[who], PRIVATE) is False  # submitted: nobody edits


@pytest.mark.parametrize(("who", "view", "act"), [
    ("city", True, True), ("dh_admin", True, False), ("dh_liaison", True, False),
    ("hs_liaison", False, False), ("whu", True, True),
    ("hust", False, False),  # another university never reads the decline reason or amount
    ("nobody", False, False)])
def test_match_of_a_public_demand(who, view, act):
    match = NS(demand=PUBLIC, expert=NS(institution_id=WHU), status="declined")
    assert access.can_view_match(USERS[who], match) is view
    assert access.can_act_on_match(USERS[who], match) is act


@pytest.mark.parametrize(("who", "expected"), [
    ("city", True), ("whu", True), ("hust", False), ("dh_admin", False)])
def test_edit_expert(who, expected):
    assert access.can_edit_expert(USERS[who], WHU) is expected
