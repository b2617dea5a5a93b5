"""The effectiveness check in the workflow: one decision for panel and server, review override."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.errors import DomainError
from app.services import user_accounts
from app.services import workflow as wf
from models import Demand, DemandEvent, TechField, User
from tests import factories as f

VAGUE_TITLE = "东湖待审需求：电池技术升级"
SPECIFIC_TITLE = "东湖待审需求：污水膜生物反应器膜污染控制"
FORM = {
    "title": "养殖场水泡粪固液分离设备改进",
    "enterprise_name": "武汉测试东湖高新区科技有限公司",
    "problem": "养殖场水泡粪的固液分离，目标是降低分离后液体的含固率，现有的几种分离设备效果均"
               "不太理想。",
    "goals": "",
    "investment": "",
    "keywords": "固液分离、水泡粪",
    "publishable": "1",
}


@pytest.fixture
def world(session):
    """Demo users, a vague and a specific submitted demand in 东湖高新区."""
    user_accounts.ensure_demo_users(session)
    field = session.scalar(select(TechField).order_by(TechField.id).limit(1))
    vague = f.demand(session, VAGUE_TITLE, "希望提高产品质量，解决技术难题，寻求专家合作。",
                     district="东湖高新区", keywords=["电池"])
    specific = f.demand(session, SPECIFIC_TITLE, "膜污染导致通量下降，现有清洗方法效果不理想。",
                        "通量衰减≤10%", district="东湖高新区", keywords=["膜污染"])
    for d in (vague, specific):
        d.tech_field_id = field.id
    session.commit()
    return {"vague": vague.id, "specific": specific.id, "field": field.id}


def login(client, username: str) -> None:
    resp = client.post("/login", data={"username": username,
                                       "password": user_accounts.DEMO_PASSWORD})
    assert resp.status_code == 302


def admin(session) -> User:
    return session.scalar(select(User).where(User.username == "dhadmin"))


def test_publishing_a_vague_demand_needs_a_written_reason(session, world):
    demand = session.get(Demand, world["vague"])
    assert wf.check_quality(demand)[0].verdict == "vague"
    with pytest.raises(DomainError) as err:
        wf.transition_demand(session, admin(session), demand, "publish")
    assert err.value.field == "override_reason" and "发布理由" in err.value.message
    with pytest.raises(DomainError):
        wf.transition_demand(session, admin(session), demand, "publish", override_reason="  好 ")
    assert demand.status == "submitted"
    wf.transition_demand(session, admin(session), demand, "publish",
                         override_reason="已电话核实：企业将补充电池循环寿命指标")
    assert demand.status == "published"
    event = demand.events[-1]
    assert event.to_status == "published"
    assert event.quality_override == "已电话核实：企业将补充电池循环寿命指标"
    assert event.user_id == admin(session).id


def test_a_specific_demand_publishes_without_override(session, world):
    demand = session.get(Demand, world["specific"])
    assert wf.check_quality(demand)[0].verdict == "specific"
    wf.transition_demand(session, admin(session), demand, "publish")
    assert demand.status == "published" and demand.events[-1].quality_override is None


def test_review_queue_shows_verdict_hints_and_the_override(client, session, world):
    login(client, "dhadmin")
    page = client.get("/demands/review").get_data(as_text=True)
    assert 'data-verdict="vague"' in page and 'data-verdict="specific"' in page
    assert "未说明亟待解决的技术难题" in page or "描述多为" in page  # the hints themselves
    assert 'name="override_reason"' in page and "仍然发布" in page
    resp = client.post(f"/demands/{world['vague']}/publish",
                       data={"next": "review", "override_reason": ""})
    assert resp.status_code == 422
    assert "请填写不少于 5 字的发布理由" in resp.get_data(as_text=True)
    assert session.get(Demand, world["vague"]).status == "submitted"
    resp = client.post(f"/demands/{world['vague']}/publish",
                       data={"next": "review", "override_reason": "企业急需，指标已当面确认"})
    assert resp.status_code == 302
    page = client.get("/demands/review").get_data(as_text=True)
    assert 'id="recent-overrides"' in page and "企业急需，指标已当面确认" in page
    assert VAGUE_TITLE in page and "东湖高新区管理员" in page
    session.expire_all()
    events = session.scalars(select(DemandEvent).where(DemandEvent.demand_id == world["vague"]))
    assert [e.quality_override for e in events if e.to_status == "published"] == [
        "企业急需，指标已当面确认"]


def test_panel_and_server_agree_on_a_past_deadline(client, session, world):
    login(client, "dhliaison")
    f.enterprise(session, FORM["enterprise_name"], "东湖高新区")
    session.commit()
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    data = {**FORM, "tech_field_id": world["field"], "deadline": yesterday}
    panel = client.post("/demands/check", data=data).get_data(as_text=True)
    assert 'data-code="deadline_passed"' in panel and yesterday in panel
    assert "可以提交审核" not in panel
    resp = client.post("/demands/new", data={**data, "action": "submit"})
    assert resp.status_code == 422
    assert "早于今天" in resp.get_data(as_text=True)
    demand = session.scalar(select(Demand).where(Demand.title == FORM["title"]))
    assert demand.status == "draft"  # kept as a draft, not submitted
    today = {**data, "deadline": clock.today().isoformat()}
    panel = client.post("/demands/check", data=today).get_data(as_text=True)
    assert "deadline_passed" not in panel and "可以提交审核" in panel
    resp = client.post(f"/demands/{demand.id}/edit", data={**today, "action": "submit"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Demand, demand.id).status == "submitted"  # no investment, no indicator


def test_panel_and_server_agree_on_keywords(client, session, world):
    login(client, "dhliaison")
    f.enterprise(session, FORM["enterprise_name"], "东湖高新区")
    session.commit()
    data = {**FORM, "tech_field_id": world["field"], "keywords": "技术、创新"}
    panel = client.post("/demands/check", data=data).get_data(as_text=True)
    assert 'data-code="generic_keywords"' in panel and "技术、创新" in panel
    resp = client.post("/demands/new", data={**data, "action": "submit"})
    assert resp.status_code == 422 and "过于笼统" in resp.get_data(as_text=True)
    six = {**data, "keywords": "固液分离、水泡粪、含固率、螺旋挤压、絮凝、沼液"}
    panel = client.post("/demands/check", data=six).get_data(as_text=True)
    assert 'data-code="too_many_keywords"' in panel
    resp = client.post("/demands/new", data={**six, "action": "draft"})
    assert resp.status_code == 422 and "关键词最多 5 个" in resp.get_data(as_text=True)


def test_review_queue_searches_pages_and_exports(client, session):
    import io

    from openpyxl import load_workbook

    from app.services import user_accounts
    from tests import factories as f

    user_accounts.ensure_demo_users(session)
    f.demand(session, "东湖待审：膜分离工艺", "膜污染严重，通量下降30%", "通量衰减≤10%",
             status="submitted", district="东湖高新区")
    f.demand(session, "东湖待审：电池热失控预警", "预警时间不足", "预警≥5分钟",
             status="submitted", district="东湖高新区")
    session.commit()
    resp = client.post("/login", data={"username": "dhadmin",
                                       "password": user_accounts.DEMO_PASSWORD})
    assert resp.status_code == 302
    page = client.get("/demands/review?q=膜分离").get_data(as_text=True)
    assert "膜分离工艺" in page and "电池热失控预警" not in page
    data = client.get("/demands/review?export=xlsx").get_data()
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.cell(1, 1).value == "需求编号" and ws.max_row == 3
    titles = {ws.cell(r, 2).value for r in (2, 3)}
    assert titles == {"东湖待审：膜分离工艺", "东湖待审：电池热失控预警"}
