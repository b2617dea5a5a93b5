"""操作日志: expert saves, registry edits and import runs each write exactly one row through
app/services/audit.py record(), with who, the object, from and to, in Chinese labels."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import DomainError
from app.services import expert_writer, imports, registry_writer, user_accounts
from app.services.audit import ACTION_LABELS, describe
from models import AuditEvent, District, Institution

PASSWORD = "Test@2022pass"


@pytest.fixture
def people(session):
    hs = session.scalar(select(District).where(District.name == "洪山区"))
    inst = Institution(name="日志测试大学")
    session.add(inst)
    session.flush()
    return {
        "city": user_accounts.create_user(session, "logcity", PASSWORD, "市局", "city_admin",
                                          log=False),
        "admin": user_accounts.create_user(session, "loghs", PASSWORD, "洪山区局",
                                           "district_admin", district_id=hs.id, log=False),
        "campus": user_accounts.create_user(session, "logwhu", PASSWORD, "日志联络员",
                                            "campus_liaison", institution_id=inst.id, log=False),
        "hs": hs, "inst": inst,
    }


def _rows(session) -> list[AuditEvent]:
    session.flush()
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def _one_new(session, seen: int) -> AuditEvent:
    """Return the one row written since `seen` rows (and fail if there are more or none)."""
    rows = _rows(session)[seen:]
    assert len(rows) == 1, [r.action for r in rows]
    assert rows[0].action in ACTION_LABELS
    return rows[0]


def test_expert_create_and_update_are_one_row_each_without_contact_values(session, people):
    data = {"name": "日志专家", "title": "副教授", "research_fields": "表面工程",
            "phone": "13800001111"}
    change = expert_writer.validate(session, data, institution_id=people["inst"].id)
    expert, _ = expert_writer.save(session, change, user=people["campus"])
    created = _one_new(session, 0)
    assert (created.action, created.entity, created.entity_id) == ("expert.create", "expert",
                                                                   expert.id)
    assert created.actor == "日志联络员(logwhu)"
    assert created.detail["after"]["姓名"] == "日志专家"
    assert created.detail["after"]["所在单位"] == "日志测试大学"
    assert "13800001111" not in str(created.detail)

    change = expert_writer.validate(session, {**data, "title": "教授", "phone": "13900002222"},
                                    institution_id=people["inst"].id, expert=expert)
    expert_writer.save(session, change, expert, user=people["campus"])
    updated = _one_new(session, 1)
    assert updated.action == "expert.update" and ACTION_LABELS[updated.action] == "修改专家"
    assert updated.detail == {"before": {"职称/职务": "副教授"},
                              "after": {"职称/职务": "教授", "联系电话": "（已修改）"}}
    assert describe(updated.detail)["before"] == "职称/职务：副教授"


def test_an_unchanged_expert_save_writes_nothing(session, people):
    data = {"name": "不变专家", "research_fields": "储能"}
    change = expert_writer.validate(session, data, institution_id=people["inst"].id)
    expert, _ = expert_writer.save(session, change, user=people["campus"])
    seen = len(_rows(session))
    change = expert_writer.validate(session, data, institution_id=people["inst"].id,
                                    expert=expert)
    assert expert_writer.save(session, change, expert, user=people["campus"])[1] is False
    assert len(_rows(session)) == seen


def test_each_registry_save_is_one_row_with_from_and_to(session, people):
    city, admin = people["city"], people["admin"]
    firm = registry_writer.save_enterprise(session, admin, registry_writer.EnterpriseInput(
        name="武汉日志科技有限公司", contact_phone="13800003333"))
    row = _one_new(session, 0)
    assert (row.action, row.entity_id) == ("enterprise.create", firm.id)
    assert row.detail["after"]["企业名称"] == "武汉日志科技有限公司"
    assert row.detail["after"]["所属区"] == "洪山区"
    assert row.detail["after"]["联系电话"] == "（已修改）"
    registry_writer.save_enterprise(session, admin, registry_writer.EnterpriseInput(
        name="武汉日志科技有限公司", is_key=True, contact_phone="13800003333"), firm)
    row = _one_new(session, 1)
    assert row.action == "enterprise.update"
    assert row.detail == {"before": {"重点企业": "否"}, "after": {"重点企业": "是"}}

    park = registry_writer.save_park(session, admin, name="日志园", kind="park", district_id=None)
    row = _one_new(session, 2)
    assert (row.action, row.detail["after"]) == ("park.create", {
        "名称": "日志园", "类型": "产业园区", "所属区": "洪山区"})
    registry_writer.save_park(session, admin, name="日志园", kind="incubator", district_id=None,
                         park=park)
    row = _one_new(session, 3)
    assert row.detail == {"before": {"类型": "产业园区"}, "after": {"类型": "孵化器"}}

    investor = registry_writer.save_investor(
        session, city, name="日志创投", stages=["天使轮"], ticket_min=100, ticket_max=500,
        focus="", contact_person="", contact_phone="027-87650000", industry_ids=[])
    row = _one_new(session, 4)
    assert row.action == "investor.create" and row.detail["after"]["投资阶段"] == "天使轮"
    assert "027-87650000" not in str(row.detail)
    registry_writer.save_investor(
        session, city, name="日志创投", stages=["天使轮", "A轮"], ticket_min=100,
        ticket_max=800, focus="", contact_person="", contact_phone="027-87650000",
        industry_ids=[], investor=investor)
    row = _one_new(session, 5)
    assert row.detail == {"before": {"投资阶段": "天使轮", "单笔上限（万元）": "500"},
                          "after": {"投资阶段": "天使轮、A轮", "单笔上限（万元）": "800"}}

    inst = registry_writer.save_institution(session, city, name="日志研究院", kind="institute",
                                       city="武汉")
    row = _one_new(session, 6)
    assert (row.action, row.entity_id, ACTION_LABELS[row.action]) == (
        "institution.create", inst.id, "新增高校院所")
    registry_writer.save_institution(session, city, name="日志研究院", kind="institute",
                                     city="宜昌", institution=inst)
    row = _one_new(session, 7)
    assert row.detail == {"before": {"所在城市": "武汉"}, "after": {"所在城市": "宜昌"}}


@pytest.mark.parametrize("kind, rows, action", [
    ("parks", [["名称", "所属区"], ["日志一园", "洪山区"], ["日志二园", "洪山区"],
               ["日志孵化器", "江岸区"]], "park.import"),
    ("institutions", [["名称"], ["日志一大学"], ["日志二研究所"]], "institution.import"),
    ("investors", [["机构名称", "投资阶段"], ["日志甲创投", "A轮"]], "investor.import"),
    ("enterprises", [["企业名称", "所属区"], ["日志一公司", "洪山区"], ["日志二公司", "洪山区"]],
     "enterprise.import"),
    ("experts", [["姓名", "所在单位", "研究方向"], ["日志甲", "日志测试大学", "储能"],
                 ["日志乙", "日志测试大学", "电池"]], "expert.import"),
])
def test_an_import_run_is_one_row_with_its_counts(session, people, kind, rows, action):
    from tests.services.test_imports import csv_bytes

    result = imports.import_file(session, kind, "日志.csv", csv_bytes(rows))
    imports.record_run(session, people["city"], result, "日志.csv")
    row = _one_new(session, 0)
    assert (row.action, row.entity_id, row.actor) == (action, None, "市局(logcity)")
    assert row.detail["after"] == {"文件": "日志.csv", "行数": len(rows) - 1,
                                   "新增": len(rows) - 1, "更新": 0, "未变": 0}
    assert ACTION_LABELS[action].startswith("导入")


def test_meeting_confirm_held_and_delete_are_one_row_each_with_from_and_to(session, people):
    """A meeting's confirm and held steps log from and to; deleting logs what was deleted."""
    from app.services.meetings import edit
    from models import MatchmakingMeeting, MeetingSession

    city = people["city"]
    meeting = MatchmakingMeeting(title="锂电产业对接会", status="planned", params={})
    session.add(meeting)
    session.flush()
    session.add(MeetingSession(meeting_id=meeting.id, seq=1, title="锂电"))
    session.flush()
    session.refresh(meeting)
    edit.confirm(session, city, meeting)
    edit.mark_held(session, city, meeting)
    rows = list(session.scalars(select(AuditEvent).where(AuditEvent.entity == "meeting")
                                .order_by(AuditEvent.id)))
    assert [(r.action, r.detail["before"], r.detail["after"]) for r in rows] == [
        ("meeting.confirm", "已排期", "已确认"), ("meeting.held", "已确认", "已召开")]
    draft = MatchmakingMeeting(title="待删对接会", status="draft", params={})
    session.add(draft)
    session.flush()
    draft_id = draft.id
    seen = len(_rows(session))
    edit.delete_meeting(session, city, draft)
    row = _one_new(session, seen)
    assert (row.action, row.entity_id, row.detail["before"]) == (
        "meeting.delete", draft_id, {"名称": "待删对接会", "状态": "草稿"})


def test_account_changes_are_logged_by_the_writer_also_from_the_cli(session, people, runner):
    """The writer of users and API clients logs; a CLI change is logged with 系统 as the actor."""
    seen = len(_rows(session))
    user = user_accounts.create_city_admin(session, "clicity", PASSWORD)
    row = _one_new(session, seen)
    assert (row.action, row.entity_id, row.actor) == ("user.create", user.id, "系统")
    user_accounts.set_active(session, user, False, actor=people["city"])
    row = _one_new(session, seen + 1)
    assert (row.action, row.detail) == ("user.disable", {"before": "启用", "after": "停用"})
    with pytest.raises(DomainError):
        user_accounts.set_active(session, people["city"], False, actor=people["city"])
    client, _token = user_accounts.create_api_client(session, "日志客户端", None)
    row = _one_new(session, seen + 2)
    assert (row.action, row.entity_id, row.actor) == ("api_client.create", client.id, "系统")
    user_accounts.deactivate_api_client(session, client, actor=people["city"])
    assert _one_new(session, seen + 3).action == "api_client.deactivate"
    user_accounts.reset_password(session, user, "Tide-lamp-2026", "Tide-lamp-2026",
                                 actor=people["city"], generated=False)
    row = _one_new(session, seen + 4)
    assert row.detail["after"]["方式"] == "管理员设定"
