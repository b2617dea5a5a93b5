"""Marshmallow schemas of the API (arguments, bodies, payloads, problems) and field helpers.

The Int/Str/Float/Bool helpers give fields Chinese error messages; `_range` and `_length` give
validators Chinese messages.

The schemas of what a writer stores (demands, experts) check shape only: types, required keys,
list sizes. Each field's rule (phone, e-mail, keywords, years, lengths) is decided by the writer's
check (``workflow.DEMAND_FIELD_CHECKS``, ``experts.EXPERT_FIELD_CHECKS``), the one the page's form
calls too, so the API refuses a bad value with the page's message; `_ruled` documents the limit
in the OpenAPI document without checking it a second time.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from matching.quality import KEYWORD_RULE
from models import DEMAND_STATUSES, MATCH_STATUSES

from ...services.fields import (
    MAX_AMOUNT,
    MAX_ID,
    MAX_KEYWORD_LEN,
    MAX_KEYWORDS,
    MAX_QUERY_TEXT,
    MAX_TEXT,
    MIN_YEAR,
)
from ...services.workflow import COOPERATION_MODES

MAX_PUSH = 1000


class ProblemSchema(ma.Schema):
    """An error as app/errors.py sends it under /api/ (RFC 9457 problem details)."""

    class Meta:
        unknown = ma.INCLUDE

    type = fields.String(metadata={"description": "问题类型（about:blank）"})
    title = fields.String(required=True, metadata={"description": "错误标题"})
    status = fields.Integer(required=True, metadata={"description": "HTTP 状态码"})
    detail = fields.String(required=True, metadata={"description": "给用户看的中文说明"})
    field = fields.String(metadata={"description": "出错的字段"})
    errors = fields.Raw(metadata={"description": "逐字段的错误"})


# --- schemas ------------------------------------------------------------------------------------
REQ = {"required": "必填字段。", "null": "不能为空。"}


def _msgs(kind: str) -> dict[str, str]:
    invalid = {"int": "应为整数。", "float": "应为数字。", "str": "应为字符串。",
               "bool": "应为布尔值（true/false）。", "date": "日期格式应为 YYYY-MM-DD。",
               "list": "应为列表。", "nested": "格式不正确。"}[kind]
    return {**REQ, "invalid": invalid, "type": invalid}


def Int(**kw: Any) -> fields.Integer:  # noqa: N802
    """Return an integer field with Chinese messages, within a database column's range."""
    kw.setdefault("validate", _range(-MAX_ID, MAX_ID))
    return fields.Integer(error_messages=_msgs("int"), **kw)


def Float(**kw: Any) -> fields.Float:  # noqa: N802
    """Return a float field with Chinese messages."""
    return fields.Float(error_messages=_msgs("float"), **kw)


def Str(**kw: Any) -> fields.String:  # noqa: N802
    """Return a string field with Chinese messages."""
    return fields.String(error_messages=_msgs("str"), **kw)


def Bool(**kw: Any) -> fields.Boolean:  # noqa: N802
    """Return a boolean field with Chinese messages."""
    return fields.Boolean(error_messages=_msgs("bool"), **kw)


def _range(lo: float, hi: float) -> validate.Range:
    return validate.Range(min=lo, max=hi, error=f"应在 {lo:g} 到 {hi:g} 之间。")


def _length(lo: int | None, hi: int) -> validate.Length:
    if lo:
        return validate.Length(min=lo, max=hi, error=f"长度应在 {lo} 到 {hi} 之间。")
    return validate.Length(max=hi, error=f"长度不能超过 {hi}。")


def _ruled(description: str, **limits: Any) -> dict[str, Any]:
    """Return a field's metadata: its description and the writer's limits, for the document."""
    return {"description": f"{description}（规则与页面相同，由服务端逐字段检查）", **limits}


class BaseSchema(ma.Schema):
    """Schema with Chinese messages for unknown fields and wrong payload types."""

    error_messages = {"unknown": "未知字段。", "type": "数据格式不正确，应为 JSON 对象。"}


class PageArgs(BaseSchema):
    page = Int(load_default=1, validate=_range(1, 100000), metadata={"description": "页码"})
    per_page = Int(load_default=20, validate=_range(1, 100), metadata={"description": "每页条数"})


class DemandListArgs(PageArgs):
    q = Str(validate=_length(None, 100), metadata={"description": "在名称、内容、编号中搜索"})
    status = Str(validate=validate.OneOf(DEMAND_STATUSES, error="取值应为 {choices} 之一。"))
    district = Int(metadata={"description": "区 id"})
    industry = Int(metadata={"description": "行业 id"})
    field = Int(metadata={"description": "技术领域 id"})


class DemandIn(BaseSchema):
    title = Str(metadata=_ruled("需求名称", maxLength=200))
    problem = Str(metadata=_ruled("技术难题", maxLength=MAX_TEXT))
    goals = Str(metadata=_ruled("预期目标与指标", maxLength=MAX_TEXT))
    investment = Float(allow_none=True,
                       metadata=_ruled("计划投入（万元）", minimum=0, maximum=MAX_AMOUNT))
    industry_id = Int(allow_none=True)
    tech_field_id = Int(allow_none=True)
    keywords = fields.List(Str(metadata={"maxLength": MAX_KEYWORD_LEN}),
                           error_messages=_msgs("list"),
                           metadata=_ruled(f"关键词（{KEYWORD_RULE}）", maxItems=MAX_KEYWORDS))
    cooperation_mode = Str(allow_none=True,
                           metadata=_ruled("合作方式", enum=list(COOPERATION_MODES)))
    deadline = fields.Date(allow_none=True, error_messages=_msgs("date"))
    publishable = Bool()
    enterprise_id = Int(allow_none=True)
    enterprise_name = Str(metadata=_ruled("企业名称", maxLength=120))
    new_enterprise = Bool(metadata={"description": "企业库中没有该企业时按名称新建"})
    contact_person = Str(allow_none=True, metadata=_ruled("企业联系人", maxLength=40))
    contact_phone = Str(allow_none=True, metadata=_ruled("联系电话", maxLength=30))
    contact_email = Str(allow_none=True, metadata=_ruled("电子邮箱", maxLength=120))


class DemandCreateIn(DemandIn):
    title = Str(required=True, metadata=_ruled("需求名称", maxLength=200))


class ReasonIn(BaseSchema):
    reason = Str(allow_none=True, validate=_length(None, 2000), metadata={"description": "原因"})


class MatchTransitionIn(ReasonIn):
    contract_amount = Float(allow_none=True, validate=_range(0, MAX_AMOUNT),
                            metadata={"description": "合同金额（万元），签约时必填"})


class ProposeIn(BaseSchema):
    expert_ids = fields.List(Int(), required=True, validate=_length(1, 50),
                             error_messages=_msgs("list"))
    note = Str(allow_none=True, validate=_length(None, 2000))


class RankArgs(BaseSchema):
    top = Int(load_default=10, validate=_range(1, 100), metadata={"description": "返回专家数"})
    field = Int(metadata={"description": "技术领域 id"})
    institution = Int(metadata={"description": "高校院所 id"})
    academician = Bool(load_default=False, metadata={"description": "只看院士"})


class MatchTextIn(BaseSchema):
    text = Str(required=True, validate=_length(1, MAX_QUERY_TEXT),
               metadata={"description": f"需求文本（最多 {MAX_QUERY_TEXT} 字）"})
    top = Int(load_default=10, validate=_range(1, 100))
    field = Int(allow_none=True)
    institution = Int(allow_none=True)
    academician = Bool(load_default=False)


class ExpertListArgs(PageArgs):
    q = Str(validate=_length(None, 100), metadata={"description": "姓名或研究方向"})
    institution = Int()
    field = Int()
    academician = Bool()


class ExpertItemIn(BaseSchema):
    kind = Str(load_default="project", metadata=_ruled(
        "成果类型", enum=["project", "paper", "patent", "award"]))
    title = Str(required=True, metadata=_ruled("成果标题", maxLength=300))
    text = Str(allow_none=True, metadata=_ruled("成果内容", maxLength=MAX_TEXT))
    year = Int(allow_none=True, metadata=_ruled("年份", minimum=MIN_YEAR))


class ExpertIn(BaseSchema):
    institution = Str(required=True, validate=_length(1, 100), metadata={"description": "单位名称"})
    name = Str(required=True, metadata=_ruled("专家姓名", maxLength=40))
    title = Str(allow_none=True, metadata=_ruled("职称/职务", maxLength=60))
    research_fields = Str(allow_none=True, metadata=_ruled("研究方向", maxLength=MAX_TEXT))
    summary = Str(allow_none=True, metadata=_ruled("简介", maxLength=MAX_TEXT))
    is_academician = Bool(allow_none=True, metadata={"description": "不给出时保持原值"})
    team = Str(allow_none=True, metadata=_ruled("团队", maxLength=120))
    tech_field = Str(allow_none=True, metadata={"description": "技术领域名称"})
    phone = Str(allow_none=True, metadata=_ruled("联系电话", maxLength=30))
    email = Str(allow_none=True, metadata=_ruled("电子邮箱", maxLength=120))
    items = fields.List(fields.Nested(ExpertItemIn), error_messages=_msgs("list"),
                        metadata={"description": "给出时整体替换该专家的成果"})


class ExpertsPutIn(BaseSchema):
    experts = fields.List(fields.Nested(ExpertIn), required=True,
                          validate=_length(1, MAX_PUSH), error_messages=_msgs("list"))


class MatchListArgs(PageArgs):
    status = Str(validate=validate.OneOf(MATCH_STATUSES, error="取值应为 {choices} 之一。"))
    demand = Int(metadata={"description": "需求 id"})


# Output schemas document the payloads; nested parts are free-form objects.
class Ref(BaseSchema):
    id = Int()
    name = Str()


class DemandOut(BaseSchema):
    id = Int()
    code = Str(metadata={"example": "XQ2026-000123"})
    title = Str()
    status = Str()
    status_label = Str()
    publishable = Bool()
    district = fields.Nested(Ref, allow_none=True)
    enterprise = fields.Nested(Ref, allow_none=True)
    industry = fields.Nested(Ref, allow_none=True)
    tech_field = fields.Nested(Ref, allow_none=True)
    keywords = fields.List(Str())
    investment = Float(allow_none=True)
    published_at = Str(allow_none=True)
    updated_at = Str(allow_none=True)
    problem = Str()
    goals = Str()
    cooperation_mode = Str(allow_none=True)
    deadline = Str(allow_none=True)
    created_at = Str(allow_none=True)
    submitted_at = Str(allow_none=True)
    contact = fields.Dict(allow_none=True, metadata={
        "description": "企业联系人；已发布需求不含联系方式；无权查看时为掩码"})
    return_reason = Str(allow_none=True)
    actions = fields.List(Str())


class PageOut(BaseSchema):
    """The paging part of a list payload; each list adds its ``items``."""

    page = Int()
    per_page = Int()
    total = Int()


class DemandPage(PageOut):
    items = fields.List(fields.Nested(DemandOut))


class ExpertFacts(BaseSchema):
    """What every expert payload says of the expert: name, unit, title, academician, field."""

    name = Str()
    institution = fields.Nested(Ref, allow_none=True)
    title = Str(allow_none=True)
    is_academician = Bool()
    tech_field = fields.Nested(Ref, allow_none=True)


class ExpertSummaryOut(ExpertFacts):
    """An expert in a list (no items: a dict's ``items`` is a method, never serialise it)."""

    id = Int()
    research_fields = Str(allow_none=True)
    team = Str(allow_none=True)
    phone = Str(metadata={"description": "掩码，如 138****5678"})
    email = Str(metadata={"description": "掩码，如 z***n@whu.edu.cn"})


class ExpertOut(ExpertSummaryOut):
    summary = Str(allow_none=True)
    items = fields.List(fields.Dict())


class ExpertPage(PageOut):
    items = fields.List(fields.Nested(ExpertSummaryOut))


class PushOut(BaseSchema):
    created = Int()
    updated = Int()
    ids = fields.List(Int())


class MatchOut(BaseSchema):
    id = Int()
    status = Str()
    status_label = Str()
    demand = fields.Dict()
    expert = fields.Dict()
    score = Float(allow_none=True)
    explanation = fields.Dict(allow_none=True)
    explanation_text = Str()
    reason = Str(allow_none=True)
    contract_amount = Float(allow_none=True)
    created_at = Str(allow_none=True)
    updated_at = Str(allow_none=True)
    events = fields.List(fields.Dict())
    actions = fields.List(Str())


class MatchPage(PageOut):
    items = fields.List(fields.Nested(MatchOut))


class TermOut(BaseSchema):
    term = Str()
    share = Float()


class HitOut(ExpertFacts):
    rank = Int()
    expert_id = Int()
    score = Float()
    terms = fields.List(fields.Nested(TermOut))
    best_item_title = Str(allow_none=True)
    semantic = Bool()
    semantic_item_title = Str(allow_none=True)
    explanation = Str(metadata={"description": "中文说明：命中关键词、最相关成果"})
    proposed = Bool(metadata={"description": "已推荐给该专家（仅需求匹配）"})


class RankOut(BaseSchema):
    items = fields.List(fields.Nested(HitOut))
    index_version = fields.List(Int())
    n_experts = Int()
