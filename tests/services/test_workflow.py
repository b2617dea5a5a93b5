"""Demand and match workflows: transitions, roles and scope, events."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from app.errors import Conflict, DomainError, Forbidden, NotFound
from app.services import match_writer
from app.services import workflow as wf
from app.services.workflow import IncompleteDemand
from models import District, TechField, User
from tests import factories as f

_users = itertools.count(1)

GOOD = dict(
    title="高镍三元锂电池包热失控预警系统开发",
    problem="现有电池包热失控预警依赖温度阈值，预警时间不足30秒，无法满足整车安全要求，"
    "需解决多传感器融合与早期气体检测难题。",
    goals="热失控预警时间≥5分钟，误报率≤1%，系统成本低于2000元/套。",
    investment=200,
    keywords=["热失控", "电池管理系统", "气体传感器"],
    publishable=True,
)


def user(session, role: str, *, district: str | None = "洪山区", inst: str | None = None) -> User:
    """Write a user of a role scoped to a district or an institution."""
    n = next(_users)
    u = User(username=f"u{n}_{role}", password_hash="x", display_name=f"用户{n}", role=role)
    if role in ("district_liaison", "district_admin") and district:
        u.district_id = session.scalar(select(District.id).where(District.name == district))
    if role == "campus_liaison":
        u.institution_id = f.institution(session, inst or "测试大学").id
    session.add(u)
    session.flush()
    return u


def field_id(session) -> int:
    return session.scalar(select(TechField.id).order_by(TechField.id).limit(1))


@pytest.fixture
def people(app, session):
    return {
        "liaison": user(session, "district_liaison"),
        "admin": user(session, "district_admin"),
        "other_liaison": user(session, "district_liaison", district="江岸区"),
        "other_admin": user(session, "district_admin", district="江岸区"),
        "campus": user(session, "campus_liaison", inst="测试大学"),
        "other_campus": user(session, "campus_liaison", inst="另一大学"),
        "city": user(session, "city_admin", district=None),
    }


def draft(session, who, **over):
    data = {
        **GOOD,
        "enterprise_name": "武汉锂安科技有限公司",
        "new_enterprise": True,
        "tech_field_id": field_id(session),
        **over,
    }
    return wf.create_demand(session, who, data)


def test_create_gives_a_code_and_a_draft_event(session, people):
    d = draft(session, people["liaison"])
    d2 = draft(session, people["liaison"], title="第二个需求：膜分离工艺")
    assert d.status == "draft"
    assert d.code.startswith("XQ") and d.code[2:6].isdigit() and d.code[6] == "-"
    assert int(d2.code[-6:]) == int(d.code[-6:]) + 1
    assert [(e.from_status, e.to_status, e.user_id) for e in d.events] == [
        (None, "draft", people["liaison"].id)
    ]
    assert d.tokens  # stored at write time


def test_full_happy_path_records_every_event(app, session, people):
    with app.test_request_context():
        e1 = f.expert(session, "张锂", ["动力锂电池热失控预警与电池管理系统"], fields="锂电池")
        e2 = f.expert(session, "王膜", ["反渗透膜污染控制"], inst="另一大学")
        session.commit()  # the index is built from committed rows
        d = draft(session, people["liaison"])
        wf.submit_demand(session, people["liaison"], d)
        wf.publish_demand(session, people["admin"], d)
        matches = match_writer.propose_matches(session, people["liaison"], d, [e1.id, e2.id])
    assert d.status == "matched" and d.published_at and d.submitted_at
    m1 = next(m for m in matches if m.expert_id == e1.id)
    assert m1.status == "proposed" and m1.score > 0
    assert m1.explanation["rank"] == 1 and m1.explanation["terms"]
    campus = people["campus"]
    match_writer.accept_match(session, campus, m1)
    match_writer.introduce_match(session, campus, m1)
    match_writer.negotiate_match(session, campus, m1)
    match_writer.sign_match(session, campus, m1, 35.5)
    assert m1.status == "signed" and m1.contract_amount == 35.5
    assert [e.to_status for e in m1.events] == [
        "proposed",
        "accepted",
        "introduced",
        "negotiating",
        "signed",
    ]
    assert m1.events[-1].contract_amount == 35.5 and m1.events[-1].user_id == campus.id
    assert [(e.from_status, e.to_status) for e in d.events] == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "published"),
        ("published", "matched"),
    ]


# --- illegal transitions ----------------------------------------------------------------------
DEMAND_ILLEGAL = [
    # (status, actor, action, expected exception, message fragment)
    ("published", "admin", "return", Conflict, "当前状态「已发布」不能退回"),
    ("draft", "admin", "publish", Conflict, "当前状态「草稿」不能发布"),
    ("returned", "admin", "publish", Conflict, "不能发布"),
    ("closed", "admin", "close", Conflict, "当前状态「已关闭」不能关闭"),
    ("published", "liaison", "submit", Conflict, "不能提交"),
    ("submitted", "liaison", "publish", Forbidden, "无权"),
    ("submitted", "campus", "publish", NotFound, "不存在"),  # private: campus never saw it
    ("draft", "admin", "submit", Forbidden, "无权"),
    ("submitted", "liaison", "close", Forbidden, "无权关闭"),
    ("submitted", "other_admin", "publish", NotFound, "不存在"),  # another district's demand
]


@pytest.mark.parametrize("status, actor, action, exc, fragment", DEMAND_ILLEGAL)
def test_illegal_demand_transitions(session, people, status, actor, action, exc, fragment):
    d = f.demand(session, "锂电池热失控预警", status=status, publishable=False)
    before = len(d.events)
    with pytest.raises(exc) as err:
        wf.transition_demand(session, people[actor], d, action, reason="原因")
    assert fragment in err.value.message
    assert d.status == status and len(d.events) == before  # nothing changed, nothing recorded


def test_publishable_private_demand_of_another_district_is_visible_but_not_editable(
    session, people
):
    d = f.demand(session, "锂电池热失控预警", status="published", publishable=True)
    # Published: the other district sees it, but may not act on it.
    assert wf.get_demand(session, people["other_admin"], d.id) is d
    with pytest.raises(Forbidden):
        wf.close_demand(session, people["other_admin"], d)
    private = f.demand(session, "保密工艺", status="submitted", publishable=False)
    with pytest.raises(NotFound):
        wf.get_demand(session, people["other_liaison"], private.id)
    with pytest.raises(NotFound):
        wf.update_demand(session, people["other_liaison"], private, {"title": "改"})


def test_return_needs_a_reason_and_resubmission_clears_it(session, people):
    d = draft(session, people["liaison"])
    wf.submit_demand(session, people["liaison"], d)
    with pytest.raises(DomainError) as err:
        wf.return_demand(session, people["admin"], d, "  ")
    assert err.value.field == "reason"
    wf.return_demand(session, people["admin"], d, "请补充检测方法")
    assert d.status == "returned" and d.return_reason == "请补充检测方法"
    assert d.events[-1].reason == "请补充检测方法" and d.events[-1].user_id == people["admin"].id
    wf.update_demand(session, people["liaison"], d, {"goals": GOOD["goals"] + "检测按GB/T 31485。"})
    wf.submit_demand(session, people["liaison"], d)
    assert d.status == "submitted" and d.return_reason is None


def test_edit_only_in_draft_or_returned(session, people):
    d = draft(session, people["liaison"])
    wf.submit_demand(session, people["liaison"], d)
    with pytest.raises(Conflict) as err:
        wf.update_demand(session, people["liaison"], d, {"title": "新标题"})
    assert "当前状态「待审核」不能修改" in err.value.message
    with pytest.raises(Forbidden):
        wf.create_demand(session, people["admin"], {"title": "x", "enterprise_name": "某公司"})


def test_vague_demand_is_refused_with_hints(session, people):
    d = draft(
        session,
        people["liaison"],
        title="提高产品质量",
        problem="希望提高产品质量。",
        goals="",
        keywords=[],
        tech_field_id=None,
    )
    with pytest.raises(IncompleteDemand) as err:
        wf.submit_demand(session, people["liaison"], d)
    codes = {e["code"] for e in err.value.errors}
    assert {"no_measurable_target", "no_keywords", "no_field"} <= codes
    assert all(e["message"] for e in err.value.errors)
    assert d.status == "draft"


def test_only_publishable_demands_are_published(session, people):
    d = draft(session, people["liaison"], publishable=False)
    wf.submit_demand(session, people["liaison"], d)
    with pytest.raises(Conflict) as err:
        wf.publish_demand(session, people["admin"], d)
    assert err.value.field == "publishable"


MATCH_PATH = ["accept", "introduce", "negotiate"]
MATCH_ILLEGAL = [
    # (steps taken first, action, expected exception, message fragment)
    ([], "introduce", Conflict, "当前状态「待高校确认」不能引荐"),
    ([], "sign", Conflict, "不能签约"),
    (["accept"], "accept", Conflict, "当前状态「已接受」不能接受"),
    (["accept"], "decline", Conflict, "不能拒绝"),
    (["decline"], "close", Conflict, "当前状态「已婉拒」不能关闭"),
    (["accept", "introduce", "negotiate", "sign"], "close", Conflict, "当前状态「已签约」"),
]


def _proposed(app, session, people):
    e = f.expert(session, "张锂", ["动力锂电池热失控预警与电池管理系统"])
    session.commit()
    d = f.demand(session, "锂电池热失控预警", "电池热失控", "预警≥5分钟", status="published")
    with app.test_request_context():
        (m,) = match_writer.propose_matches(session, people["liaison"], d, [e.id])
    return m


def _step(session, who, m, action):
    extra = {"reason": "时间冲突"} if action in ("decline", "close") else {}
    if action == "sign":
        extra["contract_amount"] = 10
    match_writer.transition_match(session, who, m, action, **extra)


@pytest.mark.parametrize("steps, action, exc, fragment", MATCH_ILLEGAL)
def test_illegal_match_transitions(app, session, people, steps, action, exc, fragment):
    m = _proposed(app, session, people)
    for step in steps:
        _step(session, people["campus"], m, step)
    status, before = m.status, len(m.events)
    with pytest.raises(exc) as err:
        _step(session, people["campus"], m, action)
    assert fragment in err.value.message
    assert m.status == status and len(m.events) == before


def test_match_roles_and_scope(app, session, people):
    m = _proposed(app, session, people)
    with pytest.raises(NotFound):  # another institution's liaison does not see it
        match_writer.accept_match(session, people["other_campus"], m)
    with pytest.raises(Forbidden):  # the district sees it but campus decides
        match_writer.accept_match(session, people["liaison"], m)
    with pytest.raises(DomainError) as err:
        match_writer.decline_match(session, people["campus"], m, "")
    assert err.value.field == "reason"
    match_writer.decline_match(session, people["city"], m, "专家出国")  # the city may act too
    assert m.status == "declined" and m.reason == "专家出国"
    assert m.events[-1].user_id == people["city"].id
    assert match_writer.match_actions(session, people["campus"], m) == []


def test_propose_twice_skips_existing_and_refuses_all_duplicates(app, session, people):
    m = _proposed(app, session, people)
    with app.test_request_context(), pytest.raises(Conflict):
        match_writer.propose_matches(session, people["liaison"], m.demand, [m.expert_id])
    d = f.demand(session, "未发布需求", status="draft")
    with app.test_request_context(), pytest.raises(Conflict) as err:
        match_writer.propose_matches(session, people["liaison"], d, [m.expert_id])
    assert "当前状态「草稿」不能推荐专家" in err.value.message


def test_actions_for_buttons(session, people):
    d = draft(session, people["liaison"])
    assert wf.demand_actions(session, people["liaison"], d) == ["edit", "submit", "close"]
    assert wf.demand_actions(session, people["other_liaison"], d) == []
    wf.submit_demand(session, people["liaison"], d)
    assert wf.demand_actions(session, people["admin"], d) == ["publish", "return", "close"]


def test_system_transitions_follow_their_table(session):
    from app.errors import Conflict, DomainError
    from app.services.match_writer import apply_system_transition
    from models import Match, MatchEvent
    from tests import factories

    d = factories.demand(session, "系统迁移测试", status="published")
    e = factories.expert(session, "系统专家", ["涂层"])
    match = Match(demand=d, expert=e)
    session.add(match)
    apply_system_transition(session, match, "introduced", reason="需求对接会「春季」")
    apply_system_transition(session, match, "signed", reason="会上签约", contract_amount=30)
    session.flush()
    assert match.status == "signed" and match.contract_amount == 30
    events = session.query(MatchEvent).filter_by(match_id=match.id).order_by(MatchEvent.id).all()
    assert [(ev.from_status, ev.to_status) for ev in events] == [
        (None, "introduced"),
        ("introduced", "signed"),
    ]
    with pytest.raises(Conflict, match="已签约.*洽谈中"):
        apply_system_transition(session, match, "negotiating", reason="回退")
    with pytest.raises(DomainError, match="合同金额"):
        apply_system_transition(session, match, "signed", reason="x", contract_amount=0)


def test_every_demand_and_match_action_is_one_operation_log_row(session, people):
    from sqlalchemy import select

    from app.services.audit import ACTION_LABELS
    from models import AuditEvent
    from tests import factories

    d = draft(session, people["liaison"])
    wf.transition_demand(session, people["liaison"], d, "submit")
    wf.transition_demand(session, people["admin"], d, "publish")
    expert = factories.expert(session, "审计专家", ["电池热失控预警"])
    (match,) = match_writer.propose_matches(session, people["admin"], d, [expert.id])
    match_writer.transition_match(session, people["city"], match, "decline", reason="档期冲突")
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [r.action for r in rows] == ["demand.create", "demand.submit", "demand.publish",
                                        "match.propose", "match.decline"]
    assert all(r.action in ACTION_LABELS for r in rows)
    assert rows[2].detail == {"before": "待审核", "after": "已发布"}
    assert rows[4].detail["reason"] == "档期冲突" and rows[4].entity_id == match.id
    assert "审计专家" in rows[3].detail["after"]
