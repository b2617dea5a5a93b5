"""The page's form and the API refuse the same bad value with the same Chinese message.

Both paths end in the writer's check of the field (``workflow.DEMAND_FIELD_CHECKS``,
``experts.EXPERT_FIELD_CHECKS`` / ``check_items``): the page shows the message next to the field
(server side, 422) and writes nothing; the API answers it as the problem's detail.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from app import clock
from app.services import expert_writer, workflow
from models import Demand, Enterprise, Expert, ExpertItem
from tests.views.test_demand_views import GOOD
from tests.views.test_expert_views import _form as expert_form
from tests.views.test_match_views import build_world, login

TOO_LATE = clock.this_year() + 2
DEMAND_CASES = {
    "bad phone": ("contact_phone", "abc-电话"),
    "6 keywords": ("keywords", "一号、二号、三号、四号、五号、六号"),
    "keyword of 21 characters": ("keywords", "热" * 21),
    "bad e-mail": ("contact_email", "zhangsan@"),
    "deadline out of range": ("deadline", "2200-01-01"),
    "unknown cooperation mode": ("cooperation_mode", "随便合作"),
}
EXPERT_CASES = {
    "bad phone": ("phone", "abc"),
    "bad e-mail": ("email", "li@@whu"),
    "item year out of range": ("year", str(TOO_LATE)),
    "item year too early": ("year", "1900"),
}


def _control_id(field: str) -> str:
    """Return the id of a field's control: f-<field>, or item-<key>-<n> for an item's field."""
    if field.startswith("items-"):
        _items, n, key = field.split("-")
        return f"item-{key}-{n}"
    return f"f-{field}"


def _message_next_to(page: str, field: str) -> str | None:
    """Return the server's message shown under the field's control (before the next control)."""
    control = re.search(rf'id="{re.escape(_control_id(field))}"', page)
    if control is None:
        return None
    rest = page[control.end():]
    following = re.search(r'id="(f|item)-', rest)
    found = re.search(r'<div class="invalid-feedback"[^>]*>([^<]*)</div>',
                      rest[:following.start()] if following else rest)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def world(session):
    return build_world(session)


@pytest.mark.parametrize("case", DEMAND_CASES)
def test_demand_page_and_api_refuse_alike(client, session, world, case):
    field, value = DEMAND_CASES[case]
    with pytest.raises(workflow.fields.FieldError) as refused:
        workflow.DEMAND_FIELD_CHECKS[field](value)
    expected = refused.value.message
    counts = (session.scalar(select(func.count(Demand.id))),
              session.scalar(select(func.count(Enterprise.id))))
    login(client, "dhliaison")

    resp = client.post("/demands/new", data={**GOOD, field: value, "action": "submit"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert _message_next_to(page, field) == expected
    assert 'novalidate' in page

    body = {**GOOD, "new_enterprise": True, "publishable": True, field: value,
            "investment": 200, "keywords": GOOD["keywords"].split("、")}
    if field == "keywords":
        body["keywords"] = workflow.fields.quality.split_keywords(value)
    resp = client.post("/api/v1/demands", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["detail"] == expected
    assert resp.get_json()["field"] == field

    session.expire_all()  # neither path left anything half-written (not even the enterprise)
    assert (session.scalar(select(func.count(Demand.id))),
            session.scalar(select(func.count(Enterprise.id)))) == counts


@pytest.mark.parametrize("case", EXPERT_CASES)
def test_expert_page_and_api_refuse_alike(client, session, world, case):
    key, value = EXPERT_CASES[case]
    if key == "year":
        rows = [{"kind": "project", "title": "激光熔覆耐磨涂层制备", "year": value}]
        _rows, errors = expert_writer.check_items(rows)
        field, expected = "items-0-year", errors["items-0-year"]
        data = expert_form(item_year=[value, "2023"])
        pushed = {"items": [{"kind": "project", "title": "激光熔覆耐磨涂层制备",
                             "year": int(value)}]}
    else:
        with pytest.raises(workflow.fields.FieldError) as refused:
            expert_writer.EXPERT_FIELD_CHECKS[key](value)
        field, expected = key, refused.value.message
        data = expert_form(**{key: value})
        pushed = {key: value}
    def stored() -> tuple:
        session.expire_all()
        expert = session.get(Expert, world.whu_expert)
        return expert.phone, expert.email, [(i.title, i.year) for i in session.scalars(
            select(ExpertItem).where(ExpertItem.expert_id == expert.id))]

    before = stored()
    login(client, "whuliaison")

    resp = client.post(f"/experts/{world.whu_expert}/edit", data=data)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert _message_next_to(page, field) == expected
    assert 'novalidate' in page

    body = {"experts": [{"name": "李涂层", "institution": "武汉大学", **pushed}]}
    resp = client.put("/api/v1/experts", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["detail"] == f"第 1 条：{expected}"
    assert resp.get_json()["field"] == f"experts.0.{field}"

    assert stored() == before  # neither path wrote anything


def test_demand_form_shows_every_field_error_at_once_and_keeps_the_draft_rule(client, world):
    login(client, "dhliaison")
    resp = client.post("/demands/new", data={**GOOD, "title": "", "contact_phone": "abc",
                                             "investment": "很多", "action": "draft"})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert _message_next_to(page, "title") == "请填写需求名称。"
    assert _message_next_to(page, "contact_phone").startswith("联系电话格式不正确")
    assert _message_next_to(page, "investment") == "计划投入应为数字。"
    assert 'value="很多"' in page  # a text box: the browser never drops what was typed
