"""The contact rule as a table: every reader against every kind of demand link."""

from types import SimpleNamespace as NS

import pytest

from app.policy.privacy import (
    can_read_expert_contact,
    contact_tier,
    contact_view,
    mask_email,
    mask_name,
    mask_phone,
)
from app.policy.roles import Role

ENTERPRISE = NS(contact_person="周经理", contact_phone="13700001111", contact_email="zhou@a.cn")
DH, HS = 1, 2
WHU, HUST = 10, 11

liaison_dh = NS(role=Role.DISTRICT_LIAISON, district_id=DH, institution_id=None)
admin_hs = NS(role=Role.DISTRICT_ADMIN, district_id=HS, institution_id=None)
city = NS(role=Role.CITY_ADMIN, district_id=None, institution_id=None)
campus_whu = NS(role=Role.CAMPUS_LIAISON, district_id=None, institution_id=WHU)


@pytest.mark.parametrize(("user", "sent", "engaged", "tier"), [
    (liaison_dh, False, False, "full"),        # own district
    (admin_hs, False, False, "none"),          # another district, even for a public demand
    (city, False, False, "revealable"),
    (campus_whu, False, False, "none"),        # never sent to its experts
    (campus_whu, True, False, "masked"),       # proposed, not yet taken on
    (campus_whu, True, True, "audited"),       # taken on: needs the contact, read is logged
    (None, False, False, "none"),              # API token without a user
])
def test_contact_tiers(user, sent, engaged, tier):
    assert contact_tier(user, DH, sent=sent, engaged=engaged) == tier


def test_views_follow_the_tiers():
    assert contact_view(admin_hs, ENTERPRISE, district_id=DH) is None
    own = contact_view(liaison_dh, ENTERPRISE, district_id=DH)
    assert own.phone == "13700001111" and not own.masked and not own.audit
    masked = contact_view(city, ENTERPRISE, district_id=DH)
    assert masked.phone == "137****1111" and masked.person == "周**" and masked.can_reveal
    revealed = contact_view(city, ENTERPRISE, district_id=DH, reveal=True)
    assert revealed.phone == "13700001111" and revealed.audit
    proposed = contact_view(campus_whu, ENTERPRISE, district_id=DH, sent=True, reveal=True)
    assert proposed.masked and not proposed.can_reveal  # reveal is not theirs to ask
    engaged = contact_view(campus_whu, ENTERPRISE, district_id=DH, engaged=True)
    assert not engaged.masked and engaged.audit
    assert contact_view(city, NS(contact_person="", contact_phone=None, contact_email=None),
                        district_id=DH) is None


def test_expert_contact_is_full_only_for_its_institution_and_the_city():
    assert can_read_expert_contact(campus_whu, WHU)
    assert not can_read_expert_contact(campus_whu, HUST)
    assert can_read_expert_contact(city, HUST)
    assert not can_read_expert_contact(liaison_dh, WHU)
    assert not can_read_expert_contact(None, WHU)


@pytest.mark.parametrize(("value", "masked"), [
    ("13812345678", "138****5678"), ("027-8765432", "027****5432"), ("12345", "***45"),
    ("", ""), (None, "")])
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


def test_mask_email_and_name():
    assert mask_email("zhangsan@whu.edu.cn") == "z***n@whu.edu.cn"
    assert mask_email("ab@x.cn") == "a***@x.cn"
    assert mask_name("张三丰") == "张**"
