"""`flask create-api-client`: scopes and named institutions from the command line."""

from __future__ import annotations

from sqlalchemy import select

from models import ApiClient
from tests import factories


def test_push_scope_needs_a_named_institution_that_exists(runner, session):
    factories.institution(session, "测试大学")
    session.commit()
    refused = runner.invoke(args=["create-api-client", "推送一", "--scope", "push_experts"])
    assert refused.exit_code == 1 and "须指定可推送的高校院所" in refused.output
    unknown = runner.invoke(args=["create-api-client", "推送二", "--scope", "push_experts",
                                  "--institution", "不存在大学"])
    assert unknown.exit_code == 1 and "「不存在大学」不存在" in unknown.output
    made = runner.invoke(args=["create-api-client", "推送三", "--scope", "read",
                               "--scope", "push_experts", "--institution", "测试大学 "])
    assert made.exit_code == 0, made.output
    session.expire_all()
    client = session.scalar(select(ApiClient).where(ApiClient.name == "推送三"))
    inst = factories.institution(session, "测试大学")
    assert client.scopes == ["read", "push_experts"] and client.institution_ids == [inst.id]


def test_default_scopes_are_read_and_rank(runner, session):
    made = runner.invoke(args=["create-api-client", "默认"])
    assert made.exit_code == 0, made.output
    client = session.scalar(select(ApiClient).where(ApiClient.name == "默认"))
    assert client.scopes == ["read", "rank"] and client.institution_ids == []
