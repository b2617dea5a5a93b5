"""The JSON API: token auth, scoping, privacy, validation problems, OpenAPI, real HTTP."""

from __future__ import annotations

import json
import secrets
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app.auth.tokens import hash_token
from models import ApiClient, Enterprise, Expert, TechField
from tests import factories as f
from tests.services.test_workflow import GOOD, user

PROBLEM = "application/problem+json"


def api_client(session, name: str = "城市平台") -> str:
    """Write an active ApiClient and return its plain token."""
    token = secrets.token_urlsafe(24)
    session.add(ApiClient(name=name, token_hash=hash_token(token), token_prefix=token[:8]))
    session.flush()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client, u) -> None:
    """Sign a user in on the test client (the shared app context caches the last user)."""
    from flask import g

    g.pop("_login_user", None)
    with client.session_transaction() as s:
        s["_user_id"] = u.get_id()  # "<id>:<session version>"
        s["_fresh"] = True


@pytest.fixture
def world(app, session):
    """Two districts, users, experts and demands in every interesting state."""
    w = {
        "liaison": user(session, "district_liaison"),
        "admin": user(session, "district_admin"),
        "other_liaison": user(session, "district_liaison", district="江岸区"),
        "campus": user(session, "campus_liaison", inst="测试大学"),
        "city": user(session, "city_admin", district=None),
    }
    w["e1"] = f.expert(session, "张锂", ["动力锂电池热失控预警与电池管理系统"], fields="锂电池")
    w["e2"] = f.expert(session, "王膜", ["反渗透膜污染控制与水处理"], inst="另一大学")
    w["e1"].phone, w["e1"].email = "13812345678", "zhangli@test.edu.cn"
    w["public"] = f.demand(session, "高镍三元锂电池热失控预警", "预警时间不足", "预警≥5分钟",
                           status="published", keywords=["热失控"])
    w["private"] = f.demand(session, "江岸区保密需求：膜分离工艺", "膜污染严重", "通量提升30%",
                            status="submitted", district="江岸区", publishable=False)
    ent = session.get(Enterprise, w["public"].enterprise_id)
    ent.contact_person, ent.contact_phone = "李四", "13900001111"
    w["token"] = api_client(session)
    session.commit()
    return w


def test_missing_and_wrong_token_are_401_problems(client, world):
    for headers in ({}, bearer("not-a-token")):
        r = client.get("/api/v1/demands", headers=headers)
        assert r.status_code == 401
        assert r.mimetype == PROBLEM
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.json["status"] == 401 and r.json["detail"]


def test_api_client_sees_only_published_demands_without_contact(client, world):
    r = client.get("/api/v1/demands", headers=bearer(world["token"]))
    assert r.status_code == 200
    assert [d["id"] for d in r.json["items"]] == [world["public"].id]
    assert r.json["total"] == 1
    one = client.get(f"/api/v1/demands/{world['public'].id}", headers=bearer(world["token"]))
    assert one.status_code == 200 and one.json["contact"] is None
    assert "13900001111" not in one.get_data(as_text=True)
    hidden = client.get(f"/api/v1/demands/{world['private'].id}", headers=bearer(world["token"]))
    assert hidden.status_code == 404 and hidden.mimetype == PROBLEM


def test_url_id_tampering_on_another_districts_private_demand_is_404(client, world):
    login(client, world["liaison"])  # 洪山区
    r = client.get(f"/api/v1/demands/{world['private'].id}")
    assert r.status_code == 404 and r.mimetype == PROBLEM
    r = client.post(f"/api/v1/demands/{world['private'].id}/close", json={})
    assert r.status_code == 404
    login(client, world["other_liaison"])  # 江岸区: it is theirs
    assert client.get(f"/api/v1/demands/{world['private'].id}").status_code == 200


def test_user_list_is_scoped(client, world):
    login(client, world["other_liaison"])
    r = client.get("/api/v1/demands?per_page=50")
    assert r.status_code == 200, r.json
    ids = {d["id"] for d in r.json["items"]}
    assert ids == {world["private"].id, world["public"].id}
    login(client, world["liaison"])
    ids = {d["id"] for d in client.get("/api/v1/demands").json["items"]}
    assert ids == {world["public"].id}


def test_demand_workflow_over_the_api(app, client, world, session):
    login(client, world["liaison"])
    field = session.scalar(select(TechField.id).limit(1))
    r = client.post("/api/v1/demands", json={**GOOD, "enterprise_name": "武汉锂安科技有限公司",
                                             "new_enterprise": True,
                                             "tech_field_id": field})
    assert r.status_code == 201, r.json
    did = r.json["id"]
    assert r.json["code"].startswith("XQ") and r.json["status"] == "draft"
    assert "submit" in r.json["actions"]
    assert client.post(f"/api/v1/demands/{did}/submit", json={}).json["status"] == "submitted"
    r = client.post(f"/api/v1/demands/{did}/publish", json={})
    assert r.status_code == 403 and r.mimetype == PROBLEM  # a liaison may not publish
    login(client, world["admin"])
    r = client.post(f"/api/v1/demands/{did}/return", json={})
    assert r.status_code == 400 and r.json["field"] == "reason"
    r = client.post(f"/api/v1/demands/{did}/publish", json={})
    assert r.status_code == 200 and r.json["status"] == "published"
    r = client.post(f"/api/v1/demands/{did}/return", json={"reason": "补充"})
    assert r.status_code == 409 and r.json["detail"] == "当前状态「已发布」不能退回。"


def test_vague_demand_submission_returns_hints(client, world):
    login(client, world["liaison"])
    r = client.post("/api/v1/demands", json={"title": "提高产品质量", "problem": "希望提高质量",
                                             "enterprise_name": "武汉某公司",
                                             "new_enterprise": True})
    r = client.post(f"/api/v1/demands/{r.json['id']}/submit", json={})
    assert r.status_code == 422 and r.mimetype == PROBLEM
    codes = {e["code"] for e in r.json["errors"]}
    assert {"no_measurable_target", "no_field"} <= codes


def test_expert_detail_masks_contact(client, world):
    r = client.get(f"/api/v1/experts/{world['e1'].id}", headers=bearer(world["token"]))
    assert r.status_code == 200
    assert r.json["phone"] == "138****5678"
    assert "13812345678" not in r.get_data(as_text=True)
    assert r.json["items"][0]["title"].startswith("动力锂电池")
    assert client.get("/api/v1/experts/999999", headers=bearer(world["token"])).status_code == 404


def test_free_text_match_ranks_with_explanations(client, world):
    r = client.post("/api/v1/match", headers=bearer(world["token"]),
                    json={"text": "锂电池热失控预警 电池管理系统", "top": 5})
    assert r.status_code == 200, r.json
    first = r.json["items"][0]
    assert first["expert_id"] == world["e1"].id and first["score"] > 0
    assert first["terms"] and "命中关键词" in first["explanation"]
    assert "phone" not in first


@pytest.mark.parametrize("body, field", [
    ({"text": "锂电池", "top": 0}, "top"),
    ({"text": "锂电池", "top": 101}, "top"),
    ({"text": "锂电池", "field": 999999}, "field"),
    ({"text": "锂电池", "institution": 999999}, "institution"),
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({}, "text"),
    ({"text": "锂电池", "top": "many"}, "top"),
])
def test_bad_match_parameters_are_problems_naming_the_field(client, world, body, field):
    r = client.post("/api/v1/match", headers=bearer(world["token"]), json=body)
    assert r.status_code in (400, 422)
    assert r.mimetype == PROBLEM
    assert r.json["field"] == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json["detail"])  # Chinese message


def test_demand_ranking_and_top_validation(client, world):
    did = world["public"].id
    r = client.get(f"/api/v1/demands/{did}/matches?top=3", headers=bearer(world["token"]))
    assert r.status_code == 200 and r.json["items"][0]["expert_id"] == world["e1"].id
    r = client.get(f"/api/v1/demands/{did}/matches?top=500", headers=bearer(world["token"]))
    assert r.status_code == 422 and r.json["field"] == "top"


def test_match_transitions_over_the_api(client, world, session):
    login(client, world["liaison"])
    r = client.post(f"/api/v1/demands/{world['public'].id}/matches",
                    json={"expert_ids": [world["e1"].id]})
    assert r.status_code == 201, r.json
    mid = r.json["items"][0]["id"]
    login(client, world["campus"])
    r = client.post(f"/api/v1/matches/{mid}/sign", json={"contract_amount": 10})
    assert r.status_code == 409
    assert client.post(f"/api/v1/matches/{mid}/accept", json={}).json["status"] == "accepted"
    client.post(f"/api/v1/matches/{mid}/introduce", json={})
    r = client.post(f"/api/v1/matches/{mid}/sign", json={"contract_amount": 0})
    assert r.status_code == 400 and r.json["field"] == "contract_amount"
    r = client.post(f"/api/v1/matches/{mid}/sign", json={"contract_amount": 12.5})
    assert r.json["status"] == "signed"
    assert [e["to_status"] for e in r.json["events"]] == [
        "proposed", "accepted", "introduced", "signed"]
    ids = [m["id"] for m in client.get("/api/v1/matches").json["items"]]
    assert ids == [mid]
    r = client.post(f"/api/v1/matches/{mid}/accept", headers=bearer(world["token"]), json={})
    assert r.status_code == 403  # API tokens do not act in the workflow


def test_push_experts_upserts_and_reindexes(client, world, session):
    inst = f.institution(session, "华中测试大学")
    row = session.scalar(select(ApiClient))
    row.scopes, row.institution_ids = ["read", "rank", "push_experts"], [inst.id]
    session.commit()
    body = {"experts": [{"institution": "华中测试大学", "name": "赵氢", "title": "教授",
                         "research_fields": "燃料电池 氢能", "phone": "13700002222",
                         "items": [{"kind": "project", "title": "质子交换膜燃料电池电堆"}]}]}
    r = client.put("/api/v1/experts", headers=bearer(world["token"]), json=body)
    assert r.status_code == 200 and r.json["created"] == 1
    body["experts"][0]["title"] = "研究员"
    r = client.put("/api/v1/experts", headers=bearer(world["token"]), json=body)
    assert r.json == {"created": 0, "updated": 1, "ids": r.json["ids"]}
    session.expire_all()
    e = session.get(Expert, r.json["ids"][0])
    assert e.title == "研究员" and len(e.items) == 1 and e.tokens
    r = client.post("/api/v1/match", headers=bearer(world["token"]), json={"text": "燃料电池电堆"})
    assert r.json["items"][0]["expert_id"] == e.id
    r = client.put("/api/v1/experts", headers=bearer(world["token"]),
                   json={"experts": [{"name": "无单位"}]})
    assert r.status_code == 422 and r.json["field"] == "experts.0.institution"


def test_a_push_only_token_reads_nothing(client, world, session):
    """Regression: a push-only token listed every published demand's matches (decline reasons,
    contract amounts); the match list asks for the read scope like the other lists."""
    row = session.scalar(select(ApiClient))
    row.scopes, row.institution_ids = ["push_experts"], [world["e1"].institution_id]
    session.commit()
    for path in ("/api/v1/matches", "/api/v1/demands", "/api/v1/experts"):
        r = client.get(path, headers=bearer(world["token"]))
        assert r.status_code == 403 and r.mimetype == PROBLEM, path
        assert "读取已发布需求、专家及其对接记录" in r.json["detail"]


def test_openapi_document_lists_the_paths(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/demands", "/api/v1/demands/{demand_id}", "/api/v1/experts",
                 "/api/v1/match", "/api/v1/matches", "/api/v1/demands/{demand_id}/matches",
                 "/api/v1/matches/{match_id}/{action}"):
        assert path in spec["paths"], path
    assert "put" in spec["paths"]["/api/v1/experts"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for ops in spec["paths"].values():
        for op in ops.values():
            if isinstance(op, dict) and "responses" in op:
                assert op["responses"]


def test_docs_page_uses_the_vendored_swagger_ui(client, app):
    r = client.get("/api/v1/docs")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "<script>" not in html  # no inline script: the CSP stays strict
    with client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js") as js:
        assert js.status_code == 200
    assert "openapi.json" in client.get("/api/v1/docs/init.js").get_data(as_text=True)


def test_real_http_server(app, world):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/api/v1"
    try:
        req = urllib.request.Request(f"{base}/demands?per_page=5", headers=bearer(world["token"]))
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
            assert resp.status == 200
        assert [d["code"] for d in body["items"]] == [world["public"].code]
        req = urllib.request.Request(f"{base}/match", method="POST",
                                     data=json.dumps({"text": "锂电池", "top": 0}).encode(),
                                     headers={**bearer(world["token"]),
                                              "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 422
        assert err.value.headers["Content-Type"].startswith(PROBLEM)
        assert json.loads(err.value.read())["field"] == "top"
        err.value.close()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/experts", timeout=30)
        assert err.value.code == 401
        err.value.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
