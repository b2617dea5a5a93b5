"""The bad-input table: every hostile value gets a 4xx with a Chinese message, nothing written."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from models import Demand, Enterprise, Expert
from tests.views.test_api import api_client, bearer
from tests.views.test_demand_views import GOOD, login

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _counts(session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(session.scalar(select(func.count(m.id))) for m in (Demand, Enterprise, Expert))


def _chinese(resp) -> str:
    body = resp.get_data(as_text=True)
    if resp.is_json:
        body = json.dumps(resp.json, ensure_ascii=False)
    assert CHINESE.search(body), body[:300]
    return body


FORM_CASES = [
    # (what it stands for, field overrides, expected status, words in the answer)
    ("NUL in a title", {"title": "热失控\x00预警"}, 400, "空字符"),
    ("a control character", {"problem": "预警\x07时间"}, 400, "控制字符"),
    ("investment=inf", {"investment": "inf"}, 422, "有限的数字"),
    ("investment=nan", {"investment": "nan"}, 422, "有限的数字"),
    ("a negative investment", {"investment": "-5"}, 422, "不能小于"),
    ("an absurd investment", {"investment": "1e30"}, 422, "不能大于"),
    ("six keywords", {"keywords": "一、二、三、四、五、六"}, 422, "关键词最多"),
    ("a 21-character keyword", {"keywords": "热" * 21}, 422, "20"),
    ("a deadline in year 1", {"deadline": "0001-01-01"}, 422, "截止日期"),
    ("an over-long title", {"title": "题" * 201}, 422, "不能超过 200 字"),
    ("a bad phone", {"contact_phone": "call me"}, 422, "联系电话格式不正确"),
    ("an unknown enterprise", {"enterprise_name": "不存在的公司", "new_enterprise": ""}, 422,
     "企业库中没有"),
]


@pytest.mark.parametrize(("case", "over", "status", "words"), FORM_CASES,
                         ids=[c[0] for c in FORM_CASES])
def test_demand_form_refuses_and_writes_nothing(client, session, world, case, over, status,
                                                words):
    login(client, "dhliaison")
    before = _counts(session)
    resp = client.post("/demands/new", data={**GOOD, "action": "draft", **over})
    assert resp.status_code == status, case
    assert words in _chinese(resp)
    assert _counts(session) == before


QUERY_CASES = [
    ("NUL in a search", "/demands/?q=%00", 400),
    ("NUL in an expert search", "/experts?q=%E7%94%B5%00", 400),
    ("an id beyond the column", "/demands/99999999999999", 404),
    ("an expert id beyond the column", "/experts/99999999999999/edit", 404),
    ("an API id beyond the column", "/api/v1/experts/99999999999999", 404),
]


@pytest.mark.parametrize(("case", "url", "status"), QUERY_CASES, ids=[c[0] for c in QUERY_CASES])
def test_queries_answer_4xx_in_chinese(client, session, world, case, url, status):
    login(client, "city")
    resp = client.get(url)
    assert resp.status_code == status, (case, resp.status_code)
    _chinese(resp)


def test_out_of_range_date_filters_are_ignored_not_500(client, world):
    login(client, "city")
    resp = client.get("/demands/?date_from=0001-01-01&start=0001-01-01&end=9999-12-31")
    assert resp.status_code == 200


JSON_CASES = [
    ("a lone surrogate in JSON", b'{"text": "\\ud800 \\u7535\\u6c60"}', 400, "Unicode"),
    ("JSON nested 60 deep", b'{"text": ' + b"[" * 60 + b"]" * 60 + b"}", 400, "嵌套"),
    ("JSON that does not parse", b'{"text": "', 400, "JSON"),
    ("a NUL inside JSON", b'{"text": "\\u0000\\u7535\\u6c60"}', 400, "空字符"),
    ("a ranking text over the cap", json.dumps({"text": "电池" * 2000}).encode(), 422, "3000"),
    ("an id beyond the column in JSON", b'{"text": "\\u7535\\u6c60", "field": 1e30}', 422,
     "之间"),
]


@pytest.mark.parametrize(("case", "body", "status", "words"), JSON_CASES,
                         ids=[c[0] for c in JSON_CASES])
def test_api_json_refuses_hostile_bodies(client, session, case, body, status, words):
    token = api_client(session)
    session.commit()
    resp = client.post("/api/v1/match", data=body, headers={**bearer(token),
                                                            "Content-Type": "application/json"})
    assert resp.status_code == status, (case, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/problem+json"
    assert words in _chinese(resp)


def test_a_one_megabyte_form_field_is_refused_at_once(client, session, world):
    login(client, "dhliaison")
    before = _counts(session)
    resp = client.post("/demands/new", data={**GOOD, "problem": "长" * 350_000})  # ~1 MB
    assert resp.status_code == 413
    assert "过大" in _chinese(resp)
    assert _counts(session) == before
