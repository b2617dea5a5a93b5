"""企业库 and the other registries: scope by role, contact masking, one name per enterprise."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services import user_accounts
from models import AuditEvent, Enterprise, Institution, Investor, Park
from tests.factories import PASSWORD, district_named, login

VALID_CODE = "91110108551385082Q"



@pytest.fixture
def firms(session):
    hs, wc = district_named(session, "洪山区"), district_named(session, "武昌区")
    park = Park(name="洪山登记园", district=hs)
    inst = Institution(name="登记测试大学")
    session.add(inst)
    a = Enterprise(name="武汉洪登科技有限公司", district=hs, park=park, is_key=True,
                   contact_person="王经理", contact_phone="13800001234",
                   contact_email="wangjl@example.com")
    b = Enterprise(name="武汉武登科技有限公司", district=wc, contact_phone="13900005678")
    session.add_all([park, a, b])
    session.flush()
    user_accounts.create_user(session, "hsr", PASSWORD, "洪山区局", "district_admin",
                         district_id=hs.id)
    user_accounts.create_user(session, "hsrl", PASSWORD, "洪山联络员", "district_liaison",
                         district_id=hs.id)
    user_accounts.create_user(session, "cityr", PASSWORD, "市局", "city_admin")
    user_accounts.create_user(session, "whur", PASSWORD, "武大联络员", "campus_liaison",
                         institution_id=inst.id)
    session.commit()
    return {"a": a.id, "b": b.id, "hs": hs.id, "wc": wc.id, "park": park.id}



def test_district_sees_its_enterprises_with_full_contact(client, session, firms):
    login(client, "hsr")
    page = client.get("/enterprises").get_data(as_text=True)
    assert "武汉洪登科技有限公司" in page and "武汉武登科技有限公司" not in page
    detail = client.get(f"/enterprises/{firms['a']}").get_data(as_text=True)
    assert "13800001234" in detail and "wangjl@example.com" in detail and "洪山登记园" in detail
    assert client.get(f"/enterprises/{firms['b']}").status_code == 404
    found = client.get("/enterprises/lookup?q=洪登").get_json()
    assert [f["name"] for f in found] == ["武汉洪登科技有限公司"]
    assert client.get("/enterprises/lookup?q=武登").get_json() == []


def test_city_sees_all_and_reads_other_districts_contact_audited_once(client, session, firms):
    login(client, "cityr")
    page = client.get("/enterprises").get_data(as_text=True)
    assert "武汉洪登科技有限公司" in page and "武汉武登科技有限公司" in page
    client.get(f"/enterprises/{firms['a']}")
    reads = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "enterprise", AuditEvent.entity_id == firms["a"])).all()
    assert len(reads) == 1  # one row per page view
    ws = load_workbook(io.BytesIO(client.get("/enterprises?export=xlsx").data)).active
    assert ws.cell(row=1, column=8).value == "联系电话" and ws.max_row == 3


def test_contact_is_masked_outside_the_owning_district(session, firms):
    """The mask follows app.policy.privacy: a district user of another district sees 138****1234."""
    from app.policy.privacy import can_see_contact, mask_phone

    user = user_accounts.create_user(session, "wcr", PASSWORD, "武昌区局", "district_admin",
                                district_id=firms["wc"])
    assert not can_see_contact(user, firms["hs"])
    assert mask_phone("13800001234") == "138****1234"


def test_enterprise_form_checks_name_and_credit_code(client, session, firms):
    login(client, "hsr")
    resp = client.post("/enterprises/new", data={"name": "武汉洪登科技有限公司 "})
    assert resp.status_code == 422 and "企业库已有" in resp.get_data(as_text=True)
    resp = client.post("/enterprises/new", data={"name": "武汉新登科技有限公司",
                                                 "credit_code": "91110108551385083Q"})
    assert resp.status_code == 422 and "校验位" in resp.get_data(as_text=True)
    resp = client.post("/enterprises/new", data={"name": "<img src=x>", "credit_code": "123"})
    assert resp.status_code == 422 and "应为18位" in resp.get_data(as_text=True)
    resp = client.post("/enterprises/new", data={
        "name": "武汉新登科技有限公司", "credit_code": VALID_CODE, "is_key": "y",
        "park_id": str(firms["park"]), "contact_phone": "13800009999"})
    assert resp.status_code == 302
    row = session.scalar(select(Enterprise).where(Enterprise.name == "武汉新登科技有限公司"))
    assert row.district_id == firms["hs"] and row.is_key and row.credit_code == VALID_CODE
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "enterprise.create"))
    assert event.entity_id == row.id and event.detail["after"]["企业名称"] == "武汉新登科技有限公司"
    # a district admin cannot edit another district's enterprise
    assert client.get(f"/enterprises/{firms['b']}/edit").status_code == 404


def test_parks_investors_institutions(client, session, firms):
    login(client, "hsr")
    assert "洪山登记园" in client.get("/parks").get_data(as_text=True)
    park = client.get(f"/parks/{firms['park']}").get_data(as_text=True)
    assert "武汉洪登科技有限公司" in park
    resp = client.post("/parks/new", data={"name": "洪山新园", "kind": "incubator"})
    assert resp.status_code == 302
    assert session.scalar(select(Park).where(Park.name == "洪山新园")).district_id == firms["hs"]
    assert client.post("/investors/new", data={"name": "某创投"}).status_code == 403
    client.get("/logout")
    login(client, "cityr")
    resp = client.post("/investors/new", data={"name": "武汉某某创业投资管理有限公司",
                                               "stages": ["天使轮", "A轮"], "ticket_min": "100",
                                               "ticket_max": "50"})
    assert resp.status_code == 422 and "上限不能小于下限" in resp.get_data(as_text=True)
    resp = client.post("/investors/new", data={"name": "武汉某某创业投资管理有限公司",
                                               "stages": ["天使轮"], "ticket_min": "100",
                                               "ticket_max": "500"})
    assert resp.status_code == 302
    assert session.scalar(select(Investor)).stages == ["天使轮"]
    resp = client.post("/institutions/new", data={"name": "武汉 某某大学", "kind": "university"})
    assert resp.status_code == 302
    resp = client.post("/institutions/new", data={"name": "武汉某某大学", "kind": "university"})
    assert resp.status_code == 422 and "已有" in resp.get_data(as_text=True)
    assert "武汉某某大学" in client.get("/institutions?q=某某").get_data(as_text=True)


def test_campus_liaison_has_no_enterprise_registry(client, session, firms):
    login(client, "whur")
    assert client.get("/enterprises").status_code == 403
    assert client.get("/enterprises/lookup?q=武汉").status_code == 403


def test_registry_contacts_follow_the_one_phone_and_email_rule(client, session, firms):
    """The enterprise form and the registry writer refuse what the expert form refuses."""
    from app.errors import DomainError
    from app.services import registry_writer
    from app.services.fields import FieldError, check_phone

    login(client, "hsr")
    resp = client.post("/enterprises/new", data={"name": "武汉电话科技有限公司",
                                                 "contact_phone": "138-abc",
                                                 "contact_email": "wang@"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "联系电话格式不正确" in page and "电子邮箱格式不正确" in page
    with pytest.raises(FieldError) as phone_rule:
        check_phone("138-abc")
    assert phone_rule.value.message in page
    user = session.scalar(select(user_accounts.User).where(user_accounts.User.username == "hsr"))
    with pytest.raises(DomainError) as refused:
        registry_writer.save_enterprise(session, user, registry_writer.EnterpriseInput(
            name="武汉电话科技有限公司", contact_phone="电话"))
    assert {e["field"] for e in refused.value.errors} == {"contact_phone"}
    assert session.scalar(select(Enterprise).where(
        Enterprise.name == "武汉电话科技有限公司")) is None
