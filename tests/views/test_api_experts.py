"""The expert endpoints of the API, with data: list, show, and the scoped push."""

from __future__ import annotations

from sqlalchemy import func, select

from models import ApiClient, Expert, Institution
from tests import factories as f
from tests.views.test_api import api_client, bearer


def test_expert_list_answers_with_data_and_masks_contacts(client, session):
    e = f.expert(session, "张锂", ["动力锂电池热失控预警"], fields="锂电池")
    e.phone, e.email = "13812345678", "zhangli@test.edu.cn"
    token = api_client(session)
    session.commit()
    r = client.get("/api/v1/experts?q=锂", headers=bearer(token))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json["total"] == 1 and r.json["items"][0]["name"] == "张锂"
    assert r.json["items"][0]["phone"] == "138****5678"
    r = client.get(f"/api/v1/experts/{e.id}", headers=bearer(token))
    assert r.status_code == 200 and r.json["items"][0]["title"].startswith("动力锂电池")


def _push_token(session, institutions, scopes=("read", "push_experts")) -> str:
    token = api_client(session, "推送平台")
    client_row = session.scalar(select(ApiClient).where(ApiClient.name == "推送平台"))
    client_row.scopes = list(scopes)
    client_row.institution_ids = [i.id for i in institutions]
    session.commit()
    return token


def test_push_needs_the_scope_and_its_institution(client, session):
    whu = f.institution(session, "武汉大学")
    f.institution(session, "华中科技大学")
    reader = api_client(session, "只读平台")
    token = _push_token(session, [whu])
    body = {"experts": [{"name": "李新", "institution": "武汉大学", "research_fields": "涂层"}]}
    r = client.put("/api/v1/experts", json=body, headers=bearer(reader))
    assert r.status_code == 403 and "推送指定高校院所的专家" in r.json["detail"]
    other = {"experts": [{"name": "李新", "institution": "华中科技大学", "research_fields": "x"}]}
    r = client.put("/api/v1/experts", json=other, headers=bearer(token))
    assert r.status_code == 403 and "华中科技大学" in r.json["detail"]
    r = client.put("/api/v1/experts", json=body, headers=bearer(token))
    assert r.status_code == 200 and r.json["created"] == 1


def test_push_keeps_what_it_did_not_send_and_never_splits_an_institution(client, session):
    whu = f.institution(session, "武汉大学")
    e = f.expert(session, "张锂", ["动力锂电池热失控预警"], inst="武汉大学", academician=True)
    e.phone, e.email = "13812345678", "zhangli@whu.edu.cn"
    token = _push_token(session, [whu])
    body = {"experts": [{"name": "张锂", "institution": "武汉大学 ", "title": "研究员",
                         "phone": "", "email": None}]}
    r = client.put("/api/v1/experts", json=body, headers=bearer(token))
    assert r.status_code == 200 and r.json["updated"] == 1
    session.expire_all()
    e = session.get(Expert, e.id)
    assert (e.phone, e.email, e.is_academician, len(e.items)) == (
        "13812345678", "zhangli@whu.edu.cn", True, 1)
    full_width = {"experts": [{"name": "张锂", "institution": "武汉大学\u3000", "title": "院士"}]}
    assert client.put("/api/v1/experts", json=full_width, headers=bearer(token)).status_code == 200
    assert session.scalar(select(func.count(Institution.id))) == 1


def test_push_refuses_bad_values_with_the_row_and_field(client, session):
    whu = f.institution(session, "武汉大学")
    token = _push_token(session, [whu])
    body = {"experts": [{"name": "甲", "institution": "武汉大学", "research_fields": "x"},
                        {"name": "乙", "institution": "武汉大学", "phone": "abc",
                         "research_fields": "y"}]}
    r = client.put("/api/v1/experts", json=body, headers=bearer(token))
    assert r.status_code == 422 and "第 2 条" in r.json["detail"] and "联系电话" in r.json["detail"]
    assert session.scalar(select(func.count(Expert.id))) == 0  # nothing half-written
