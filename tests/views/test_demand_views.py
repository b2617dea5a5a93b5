"""需求管理 pages: role gates, scoping, intake form, live check, review, expert search, export."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.services import user_accounts
from models import AuditEvent, Demand, DemandEvent, Match, TechField, User
from tests import factories as f

PASSWORD = user_accounts.DEMO_PASSWORD

GOOD = {
    "title": "高镍三元锂电池包热失控预警系统开发",
    "enterprise_name": "武汉锂安科技有限公司",
    "new_enterprise": "1",
    "problem": "现有电池包热失控预警依赖温度阈值，预警时间不足30秒，无法满足整车安全要求，"
               "需解决多传感器融合与早期气体检测难题。",
    "goals": "热失控预警时间≥5分钟，误报率≤1%，系统成本低于2000元/套。",
    "investment": "200",
    "keywords": "热失控、电池管理系统、气体传感器",
    "cooperation_mode": "合作研发",
    "publishable": "1",
}
VAGUE = {
    "title": "电池技术升级",
    "enterprise_name": "武汉锂安科技有限公司",
    "new_enterprise": "1",
    "problem": "希望提高产品质量，解决技术难题，寻求专家合作。",
    "goals": "",
    "investment": "",
    "keywords": "",
}


@pytest.fixture
def world(session):
    """Demo users plus demands in 东湖高新区 (dh) and 洪山区 (hs) in several states."""
    user_accounts.ensure_demo_users(session)
    field = session.scalar(select(TechField).order_by(TechField.id).limit(1))
    ent = f.enterprise(session, "武汉测试东湖高新区科技有限公司", "东湖高新区")
    ent.contact_person, ent.contact_phone = "张三丰", "13812345678"
    ent.contact_email = "zhangsan@example.com"
    dh_private = f.demand(session, "东湖私有需求：钠离子电池正极材料", "钠离子电池循环寿命不足",
                          status="submitted", district="东湖高新区", publishable=False)
    dh_published = f.demand(session, "东湖公开需求：光伏组件衰减检测", "光伏组件衰减检测手段缺乏",
                            status="published", district="东湖高新区")
    dh_submitted = f.demand(session, "东湖待审需求：污水膜生物反应器膜污染控制",
                            "膜污染导致通量下降", "通量衰减≤10%", status="submitted",
                            district="东湖高新区", keywords=["膜污染"])
    hs_private = f.demand(session, "洪山私有需求：高速列车轴承故障诊断", "轴承早期故障难以识别",
                          status="draft", district="洪山区", publishable=False)
    for d in (dh_private, dh_published, dh_submitted, hs_private):
        d.tech_field_id = field.id
    session.commit()
    return {"dh_private": dh_private.id, "dh_published": dh_published.id,
            "dh_submitted": dh_submitted.id, "hs_private": hs_private.id, "field": field.id}


def login(client, username: str) -> None:
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def text(resp) -> str:
    return resp.get_data(as_text=True)


# --- role gates and scoping ----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/demands/", "/demands/new", "/demands/review", "/demands/1",
                                  "/demands/1/experts"])
def test_pages_send_visitors_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username, path, status", [
    ("dhliaison", "/demands/new", 200),
    ("dhadmin", "/demands/new", 403),
    ("city", "/demands/new", 403),
    ("whuliaison", "/demands/new", 403),
    ("dhadmin", "/demands/review", 200),
    ("dhliaison", "/demands/review", 403),
    ("whuliaison", "/demands/review", 403),
    ("city", "/demands/review", 403),
    ("whuliaison", "/demands/", 200),
    ("city", "/demands/", 200),
])
def test_role_gates(client, world, username, path, status):
    login(client, username)
    assert client.get(path).status_code == status


def test_list_is_scoped_to_the_district(client, world):
    login(client, "dhliaison")
    page = text(client.get("/demands/"))
    assert "东湖私有需求" in page and "东湖公开需求" in page
    assert "洪山私有需求" not in page
    login(client, "whuliaison")
    page = text(client.get("/demands/"))
    assert "东湖公开需求" in page  # published and publishable
    assert "东湖私有需求" not in page and "洪山私有需求" not in page
    login(client, "city")
    page = text(client.get("/demands/"))
    assert "洪山私有需求" in page and "东湖私有需求" in page


def test_list_filters_and_search(client, world):
    login(client, "city")
    page = text(client.get("/demands/?status=published"))
    assert "东湖公开需求" in page and "东湖私有需求" not in page
    page = text(client.get("/demands/?q=轴承"))
    assert "洪山私有需求" in page and "东湖公开需求" not in page
    page = text(client.get("/demands/?q=武汉测试东湖"))  # enterprise name
    assert "东湖公开需求" in page and "洪山私有需求" not in page
    hs = client.get("/demands/?district_id=abc")  # junk is ignored, not an error
    assert hs.status_code == 200


@pytest.mark.parametrize("username, key, status", [
    ("dhliaison", "dh_private", 200),
    ("dhadmin", "dh_private", 200),
    ("city", "hs_private", 200),
    ("hsliaison", "dh_private", 404),     # URL-id tampering into another district's private one
    ("hsadmin", "dh_private", 404),
    ("whuliaison", "dh_private", 404),    # not sent to their institution
    ("hsliaison", "dh_published", 200),  # published demands are public
    ("whuliaison", "dh_published", 200),
])
def test_detail_visibility(client, world, username, key, status):
    login(client, username)
    assert client.get(f"/demands/{world[key]}").status_code == status


def test_tampered_ids_on_every_demand_url_give_404(client, world):
    login(client, "hsliaison")
    private = world["dh_private"]
    assert client.get(f"/demands/{private}/edit").status_code == 404
    assert client.get(f"/demands/{private}/experts").status_code == 404
    assert client.post(f"/demands/{private}/close").status_code == 404
    assert client.get("/demands/999999").status_code == 404
    login(client, "dhliaison")
    assert client.get(f"/demands/{world['hs_private']}/edit").status_code == 404


def test_contact_is_full_in_district_hidden_from_outsiders_and_audited_for_city(
        client, session, world):
    login(client, "dhliaison")
    page = text(client.get(f"/demands/{world['dh_private']}"))
    assert "13812345678" in page and "张三丰" in page
    login(client, "hsliaison")
    page = text(client.get(f"/demands/{world['dh_published']}"))
    assert "13812345678" not in page and "138****5678" not in page
    assert "不向区外公开个人联系方式" in page
    login(client, "city")
    page = text(client.get(f"/demands/{world['dh_private']}"))
    assert "138****5678" in page and "13812345678" not in page
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "view_contact")) == 0
    page = text(client.get(f"/demands/{world['dh_private']}?reveal=1"))
    assert "13812345678" in page
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "view_contact"))
    assert event is not None and event.entity_id == world["dh_private"]
    assert event.detail["区"] == "东湖高新区"


# --- intake form -------------------------------------------------------------------------------
def test_failed_save_keeps_input_and_shows_errors_next_to_fields(client, world):
    login(client, "dhliaison")
    data = {**GOOD, "title": "", "keywords": "一、二、三、四、五、六", "action": "draft"}
    resp = client.post("/demands/new", data=data)
    assert resp.status_code == 422
    page = text(resp)
    assert "请填写需求名称" in page
    assert "关键词最多 5 个" in page
    assert "预警时间不足30秒" in page  # what the user typed is still there
    assert 'value="200"' in page
    assert 'id="f-title"' in page and "is-invalid" in page


def test_save_draft_then_submit_a_good_demand(client, session, world):
    login(client, "dhliaison")
    resp = client.post("/demands/new", data={**GOOD, "tech_field_id": world["field"],
                                             "action": "draft"})
    assert resp.status_code == 302
    demand = session.scalar(select(Demand).where(Demand.title == GOOD["title"]))
    assert demand.status == "draft" and demand.keywords == ["热失控", "电池管理系统", "气体传感器"]
    assert resp.headers["Location"].endswith(f"/demands/{demand.id}/edit")
    resp = client.post(f"/demands/{demand.id}/edit",
                       data={**GOOD, "tech_field_id": world["field"], "action": "submit"})
    assert resp.status_code == 302
    session.expire_all()
    demand = session.get(Demand, demand.id)
    assert demand.status == "submitted"
    assert [e.to_status for e in demand.events] == ["draft", "submitted"]


def test_submitting_a_vague_demand_keeps_it_as_draft_with_hints_by_field(
        client, session, world):
    login(client, "dhliaison")
    resp = client.post("/demands/new", data={**VAGUE, "action": "submit"})
    assert resp.status_code == 422
    page = text(resp)
    assert "未提交" in page and "已保存为草稿" in page
    assert "寻求专家合作" in page  # input kept
    assert "未填写关键词" in page  # next to the keywords field
    assert "未选择技术领域" in page
    # With keywords and a field the effectiveness check speaks instead.
    resp = client.post("/demands/new", data={**VAGUE, "keywords": "电池", "action": "submit",
                                              "tech_field_id": world["field"]})
    assert resp.status_code == 422
    page = text(resp)
    assert "预期目标缺少可衡量的指标" in page
    demand = session.scalar(select(Demand).where(Demand.title == VAGUE["title"]))
    assert demand is not None and demand.status == "draft"


def test_another_districts_enterprise_is_refused(client, session, world):
    f.enterprise(session, "洪山某某精密制造有限公司", "洪山区")
    session.commit()
    login(client, "dhliaison")
    resp = client.post("/demands/new", data={**GOOD, "enterprise_name": "洪山某某精密制造有限公司",
                                             "action": "draft"})
    assert resp.status_code == 422
    assert "该企业登记在其他区" in text(resp)


def test_check_endpoint_returns_hints_with_their_fields(client, world):
    login(client, "dhliaison")
    resp = client.post("/demands/check", data=VAGUE)
    assert resp.status_code == 200
    page = text(resp)
    assert 'data-verdict="vague"' in page
    assert 'data-field="goals"' in page and "预期目标缺少可衡量的指标" in page
    assert 'data-field="investment"' in page
    assert "<html" not in page  # a fragment for htmx
    assert 'id="check-summary"' in page and 'hx-swap-oob="true"' in page  # phone summary
    page = text(client.post("/demands/check", data={**GOOD, "tech_field_id": world["field"]}))
    assert 'data-verdict="specific"' in page and "预期目标缺少可衡量的指标" not in page
    assert client.post("/demands/check", data={}).status_code == 200


def test_similar_demand_warning_links_only_what_the_user_may_see(client, world):
    login(client, "hsliaison")
    # Close to 东湖's private demand (not visible): not mentioned at all, not even its code ...
    page = text(client.post("/demands/check", data={
        "title": "钠离子电池正极材料", "problem": "钠离子电池循环寿命不足"}))
    assert "其他区已有相似需求" not in page
    assert "东湖私有需求" not in page and f'/demands/{world["dh_private"]}"' not in page
    # ... and to 东湖's published demand (visible): a link with its title.
    page = text(client.post("/demands/check", data={
        "title": "光伏组件衰减检测", "problem": "光伏组件衰减检测手段缺乏"}))
    assert f'/demands/{world["dh_published"]}"' in page and "东湖公开需求" in page


# --- review --------------------------------------------------------------------------------------
def test_review_queue_lists_submitted_demands_of_the_district(client, world):
    login(client, "dhadmin")
    page = text(client.get("/demands/review"))
    assert "东湖待审需求" in page and "东湖私有需求" in page
    assert "东湖公开需求" not in page and "洪山私有需求" not in page
    assert "企业未同意公开发布，不能发布" in page


def test_publish_and_return_are_recorded_as_events(client, session, world):
    login(client, "dhadmin")
    resp = client.post(f"/demands/{world['dh_submitted']}/publish", data={"next": "review"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/demands/review")
    admin = session.scalar(select(User).where(User.username == "dhadmin"))
    event = session.scalar(select(DemandEvent).where(
        DemandEvent.demand_id == world["dh_submitted"]))
    assert (event.from_status, event.to_status, event.user_id) == ("submitted", "published",
                                                                   admin.id)
    # A demand that may not be published: refused with the reason.
    resp = client.post(f"/demands/{world['dh_private']}/publish", data={"next": "review"})
    assert resp.status_code == 422
    assert "未标记为可公开发布" in text(resp)
    # Return needs a reason, shown next to the row's field.
    resp = client.post(f"/demands/{world['dh_private']}/return", data={"next": "review"})
    assert resp.status_code == 422 and "请填写退回的原因" in text(resp)
    resp = client.post(f"/demands/{world['dh_private']}/return",
                       data={"next": "review", "reason": "请补充循环寿命的具体指标"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Demand, world["dh_private"]).status == "returned"
    login(client, "dhliaison")
    page = text(client.get(f"/demands/{world['dh_private']}"))
    assert "退回原因" in page and "请补充循环寿命的具体指标" in page


def test_other_district_admin_cannot_publish(client, session, world):
    login(client, "hsadmin")
    assert client.post(f"/demands/{world['dh_submitted']}/publish").status_code == 404
    login(client, "dhliaison")
    assert client.post(f"/demands/{world['dh_submitted']}/publish").status_code == 403
    session.expire_all()
    assert session.get(Demand, world["dh_submitted"]).status == "submitted"


# --- expert search and shortlist ---------------------------------------------------------------
@pytest.fixture
def experts(app, session, world):
    with app.test_request_context():
        a = f.expert(session, "张光伏", ["光伏组件衰减检测与寿命评估"], inst="武汉大学",
                     fields="光伏组件、衰减机理")
        b = f.expert(session, "李组件", ["光伏组件封装材料老化与衰减"], inst="华中科技大学",
                     academician=True)
        c = f.expert(session, "王膜", ["反渗透膜污染控制"], inst="华中科技大学")
        session.commit()
    return {"a": a.id, "b": b.id, "c": c.id}


def test_expert_search_ranks_and_highlights(client, world, experts):
    login(client, "dhliaison")
    resp = client.get(f"/demands/{world['dh_published']}/experts")
    assert resp.status_code == 200
    page = text(resp)
    assert "张光伏" in page and "李组件" in page
    assert page.index("张光伏") < page.index("王膜") if "王膜" in page else True
    assert "<mark>光伏</mark>" in page or "<mark>光伏组件</mark>" in page
    assert "最相关成果" in page and "发送给驻校联络员" in page
    page = text(client.get(f"/demands/{world['dh_published']}/experts?academician=1"))
    assert "李组件" in page and "张光伏" not in page


def test_expert_search_roles(client, world, experts):
    login(client, "whuliaison")
    assert client.get(f"/demands/{world['dh_published']}/experts").status_code == 403
    login(client, "hsliaison")  # may see the published demand but not match for it
    assert client.get(f"/demands/{world['dh_published']}/experts").status_code == 403


def test_send_shortlist_creates_matches_and_says_where_they_went(client, session, world,
                                                                  experts):
    login(client, "dhliaison")
    url = f"/demands/{world['dh_published']}/experts"
    resp = client.post(url, data={"expert_ids": [experts["a"], experts["b"]]})
    assert resp.status_code == 302
    page = text(client.get(resp.headers["Location"]))
    assert "已发送给武汉大学驻校联络员（王立成）" in page
    assert "已发送给华中科技大学驻校联络员（赵雅琴）" in page
    matches = session.scalars(select(Match).where(Match.demand_id == world["dh_published"])).all()
    assert {m.expert_id for m in matches} == {experts["a"], experts["b"]}
    assert all(m.status == "proposed" and m.score is not None for m in matches)
    session.expire_all()
    assert session.get(Demand, world["dh_published"]).status == "matched"
    # Nothing picked: a message, no new rows.
    resp = client.post(url, data={})
    assert resp.status_code == 422 and "请至少选择一位专家" in text(resp)


def test_send_is_not_offered_before_publication(client, world, experts):
    login(client, "dhliaison")
    page = text(client.get(f"/demands/{world['dh_submitted']}/experts"))
    assert "发送给驻校联络员" not in page and "先由区局发布" in page
    resp = client.post(f"/demands/{world['dh_submitted']}/experts",
                       data={"expert_ids": [experts["a"]]})
    assert resp.status_code == 403


def test_demand_without_usable_text_shows_the_message(client, session, world, experts):
    d = f.demand(session, "的", status="published", district="东湖高新区")
    d.tokens = ""
    session.commit()
    login(client, "dhliaison")
    page = text(client.get(f"/demands/{d.id}/experts"))
    assert "没有可用于匹配的关键词" in page
    assert "expert-row" not in page


# --- export --------------------------------------------------------------------------------------
def test_export_has_the_filtered_rows_of_all_pages(client, session, world):
    for n in range(25):
        f.demand(session, f"批量公开需求{n:02d}：工业机器人减速器", status="published",
                 district="东湖高新区")
    session.commit()
    login(client, "dhliaison")
    on_screen = text(client.get("/demands/?status=published&per_page=10"))
    assert "共 26 条" in on_screen
    resp = client.get("/demands/?status=published&export=xlsx")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("需求编号", "需求名称")
    titles = {r[1] for r in rows[1:]}
    assert len(rows) - 1 == 26
    assert "东湖公开需求：光伏组件衰减检测" in titles
    assert "东湖私有需求：钠离子电池正极材料" not in titles
    assert all(r[11] == "已发布" for r in rows[1:])



def test_similar_demand_names_the_expert_who_solved_it(client, session, world):
    """A published demand matched to an expert is found at intake with that expert named."""
    expert = f.expert(session, "钱热控", ["光伏组件衰减在线检测方法"], fields="光伏 衰减检测")
    session.add(Match(demand_id=world["dh_published"], expert=expert, status="signed",
                      contract_amount=80.0))
    session.commit()
    login(client, "hsliaison")
    page = text(client.post("/demands/check", data={
        "title": "光伏组件衰减检测", "problem": "光伏组件衰减检测手段缺乏"}))
    assert "年曾对接" in page and "钱热控" in page and "已签约" in page
    again = f.demand(session, "光伏组件衰减检测改进", "光伏组件衰减检测手段缺乏", "检出率≥95%",
                     status="submitted", district="东湖高新区")
    session.commit()
    login(client, "dhadmin")
    detail = text(client.get(f"/demands/{again.id}"))
    assert "相似需求与历史对接" in detail and "钱热控" in detail
