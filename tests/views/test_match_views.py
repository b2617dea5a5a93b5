"""对接管理 pages: permission matrix, scoping, campus transitions through the pages, export."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services import user_accounts
from models import AuditEvent, Match, MatchEvent, User, utcnow
from tests import factories

USERS = ("city", "dhadmin", "dhliaison", "hsadmin", "hsliaison", "whuliaison", "hustliaison")


@dataclass
class World:
    """Ids of the rows the view tests use."""

    whu_expert: int
    hust_expert: int
    dh_demand: int
    hs_demand: int
    dh_whu: int  # 东湖 demand x 武汉大学 expert, proposed
    hs_hust: int  # 洪山 demand x 华中科技大学 expert, proposed
    dh_hust_signed: int  # 东湖 demand x 华中科技大学 expert, signed


def _match(session, demand, expert, status: str, amount: float | None = None) -> Match:
    user = session.scalar(select(User).where(User.username == "dhliaison"))
    m = Match(demand=demand, expert=expert, status=status, score=3.2, contract_amount=amount,
              explanation={"rank": 1, "terms": [["涂层", 0.6]], "best_item_title": "耐磨涂层"},
              proposed_by_id=user.id, created_at=utcnow(), updated_at=utcnow())
    session.add(m)
    session.add(MatchEvent(match=m, user_id=user.id, at=utcnow(), from_status=None,
                           to_status="proposed", reason="请重点看涂层寿命"))
    if status != "proposed":
        session.add(MatchEvent(match=m, at=utcnow(), from_status="proposed", to_status=status,
                               contract_amount=amount))
    session.flush()
    return m


def build_world(session) -> World:
    """Demo users, two experts (武汉大学, 华中科技大学), demands in 东湖 and 洪山, three matches."""
    user_accounts.ensure_demo_users(session)
    session.flush()
    whu = factories.expert(session, "李涂层", ["激光熔覆 耐磨涂层 制备工艺"], inst="武汉大学",
                           fields="表面工程；激光熔覆")
    whu.phone, whu.email = "13812345678", "lituceng@whu.edu.cn"
    hust = factories.expert(session, "张电池", ["锂电池 正极材料 循环寿命"], inst="华中科技大学",
                            fields="电化学储能", academician=True)
    hust.phone = "13987654321"
    dh = factories.demand(session, "轧辊表面耐磨涂层寿命提升", "轧辊磨损快", "寿命提高一倍",
                          district="东湖高新区", status="matched", keywords=["涂层"])
    dh.enterprise.contact_person, dh.enterprise.contact_phone = "周经理", "13700001111"
    hs = factories.demand(session, "储能电池循环寿命提升", "循环衰减快", "循环 3000 次",
                          district="洪山区", status="matched", keywords=["电池"])
    w = World(whu.id, hust.id, dh.id, hs.id, _match(session, dh, whu, "proposed").id,
              _match(session, hs, hust, "proposed").id,
              _match(session, dh, hust, "signed", 80.0).id)
    session.commit()
    return w


def login(client, username: str) -> None:
    """Sign in a demo user through the login form."""
    resp = client.post("/login", data={"username": username,
                                       "password": user_accounts.DEMO_PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.fixture
def world(session) -> World:
    return build_world(session)


# --- permission matrix ---------------------------------------------------------------------------
def _paths(w: World) -> dict[str, str]:
    return {"index": "/matches", "queue": "/matches/campus", "detail": f"/matches/{w.dh_whu}",
            "export": "/matches?export=xlsx"}


MATRIX = {
    #            index queue detail export
    "city":        (200, 403, 200, 200),
    "dhadmin":     (200, 403, 200, 200),
    "dhliaison":   (200, 403, 200, 200),
    "hsadmin":     (200, 403, 404, 200),
    "hsliaison":   (200, 403, 404, 200),
    "whuliaison":  (200, 200, 200, 200),
    "hustliaison": (200, 200, 404, 200),
}


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("endpoint", ["index", "queue", "detail", "export"])
def test_permission_matrix(client, world, username, endpoint):
    login(client, username)
    column = ["index", "queue", "detail", "export"].index(endpoint)
    resp = client.get(_paths(world)[endpoint])
    assert resp.status_code == MATRIX[username][column]


@pytest.mark.parametrize("endpoint", ["index", "queue", "detail", "export"])
def test_anonymous_goes_to_login(client, world, endpoint):
    resp = client.get(_paths(world)[endpoint])
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_anonymous_post_goes_to_login(client, world, session):
    resp = client.post(f"/matches/{world.dh_whu}/accept")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert session.get(Match, world.dh_whu).status == "proposed"


@pytest.mark.parametrize("username,status", [("hustliaison", 404), ("hsliaison", 404),
                                             ("dhliaison", 403), ("dhadmin", 403)])
def test_others_cannot_act_on_a_match(client, world, session, username, status):
    login(client, username)
    resp = client.post(f"/matches/{world.dh_whu}/accept", data={"next": "detail"})
    assert resp.status_code == status
    session.expire_all()
    assert session.get(Match, world.dh_whu).status == "proposed"


# --- scoping of the list ---------------------------------------------------------------------
@pytest.mark.parametrize("username,seen,unseen", [
    ("dhliaison", ["轧辊表面耐磨涂层寿命提升"], ["储能电池循环寿命提升"]),
    ("hsadmin", ["储能电池循环寿命提升"], ["轧辊表面耐磨涂层寿命提升"]),
    ("whuliaison", ["李涂层"], ["张电池"]),
    ("city", ["李涂层", "张电池", "储能电池循环寿命提升"], []),
])
def test_list_is_scoped(client, world, username, seen, unseen):
    login(client, username)
    text = client.get("/matches").get_data(as_text=True)
    for word in seen:
        assert word in text
    for word in unseen:
        assert word not in text


def test_status_tabs_count_and_filter(client, world):
    login(client, "dhadmin")
    text = client.get("/matches").get_data(as_text=True)
    assert "共 2 条" in text  # both 东湖 matches
    filtered = client.get("/matches?status=signed").get_data(as_text=True)
    assert "共 1 条" in filtered and "张电池" in filtered and "李涂层" not in filtered
    searched = client.get("/matches?q=李涂").get_data(as_text=True)
    assert "共 1 条" in searched


def test_export_xlsx_has_the_filtered_rows(client, world):
    login(client, "city")
    resp = client.get("/matches?status=signed&export=xlsx")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:7] == ("需求编号", "需求名称", "需求企业", "所属区", "专家", "专家单位", "状态")
    assert len(rows) == 2
    assert rows[1][4] == "张电池" and rows[1][6] == "已签约" and rows[1][8] == 80


# --- the campus state machine through the pages -------------------------------------------------
def test_campus_liaison_accepts_introduces_and_signs(client, world, session):
    login(client, "whuliaison")
    queue = client.get("/matches/campus").get_data(as_text=True)
    assert "轧辊表面耐磨涂层寿命提升" in queue and "请重点看涂层寿命" in queue
    assert "储能电池循环寿命提升" not in queue  # another institution's expert
    url = f"/matches/{world.dh_whu}"
    assert client.post(f"{url}/accept", data={"next": "queue", "tab": "pending"}).status_code == 302
    assert client.post(f"{url}/introduce", data={"reason": "已组织线上会谈"}).status_code == 302
    # sign without an amount: the message sits next to the amount field, nothing changes
    resp = client.post(f"{url}/sign", data={"next": "detail", "contract_amount": ""})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "合同金额" in text and "is-invalid" in text
    session.expire_all()
    assert session.get(Match, world.dh_whu).status == "introduced"
    assert client.post(f"{url}/sign", data={"contract_amount": "120.5",
                                            "reason": "签订技术开发合同"}).status_code == 302
    session.expire_all()
    match = session.get(Match, world.dh_whu)
    assert match.status == "signed" and match.contract_amount == 120.5
    assert [e.to_status for e in match.events] == ["proposed", "accepted", "introduced", "signed"]
    # the district liaison sees every step on the match detail
    client.post("/logout")
    login(client, "dhliaison")
    detail = client.get(url).get_data(as_text=True)
    for word in ("已接受", "已引荐", "已签约", "120.50", "签订技术开发合同", "王立成"):
        assert word in detail
    assert 'action="/matches/' not in detail  # no campus actions for the district


def test_illegal_transition_is_refused(client, world, session):
    login(client, "whuliaison")
    resp = client.post(f"/matches/{world.dh_whu}/sign", data={"contract_amount": "10"})
    assert resp.status_code == 409
    assert "不能签约" in resp.get_data(as_text=True)
    resp = client.post(f"/matches/{world.dh_whu}/fly")
    assert resp.status_code == 400
    session.expire_all()
    assert session.get(Match, world.dh_whu).status == "proposed"
    assert len(session.get(Match, world.dh_whu).events) == 1


def test_decline_needs_a_reason_kept_on_error(client, world, session):
    login(client, "whuliaison")
    resp = client.post(f"/matches/{world.dh_whu}/decline",
                       data={"next": "queue", "tab": "pending", "reason": "  "})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "请填写拒绝的原因" in text and "is-invalid" in text
    resp = client.post(f"/matches/{world.dh_whu}/decline",
                       data={"next": "queue", "tab": "pending", "reason": "专家出国访学"})
    assert resp.status_code == 302 and "tab=pending" in resp.headers["Location"]
    session.expire_all()
    match = session.get(Match, world.dh_whu)
    assert match.status == "declined" and match.reason == "专家出国访学"
    done = client.get("/matches/campus?tab=done").get_data(as_text=True)
    assert "轧辊表面耐磨涂层寿命提升" in done


def test_enterprise_contact_is_masked_until_accepted_and_the_read_is_audited(client, world,
                                                                              session):
    login(client, "whuliaison")
    url = f"/matches/{world.dh_whu}"
    before = client.get(url).get_data(as_text=True)
    assert "137****1111" in before and "13700001111" not in before
    client.post(f"{url}/accept")
    after = client.get(url).get_data(as_text=True)
    assert "13700001111" in after and "周经理" in after
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "view_contact",
                                                      AuditEvent.entity == "match")).all()
    assert [e.entity_id for e in events] == [world.dh_whu]


def test_period_filter_and_times_are_beijing_days(client, world, session):
    from datetime import UTC, datetime

    match = session.get(Match, world.dh_whu)
    match.created_at = datetime(2026, 1, 1, 20, 30, tzinfo=UTC)  # 2026-01-02 04:30 in Wuhan
    match.events[0].at = match.created_at
    session.commit()
    login(client, "dhadmin")
    text = client.get("/matches?start=2026-01-02&end=2026-01-02").get_data(as_text=True)
    assert "共 1 条" in text and "李涂层" in text
    text = client.get("/matches?start=2025-12-01&end=2026-01-01").get_data(as_text=True)
    assert "共 0 条" in text
    assert "2026-01-02 04:30" in client.get(f"/matches/{world.dh_whu}").get_data(as_text=True)
