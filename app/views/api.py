"""The JSON API under /api/v1 (flask-smorest): demands, experts, matches and ranking.

Authentication: ``Authorization: Bearer <token>`` of an ApiClient (the city's platform and other
systems), or the session of a signed-in user. API clients read published demands only, push
experts and rank; users act with their role and scope through the workflow services. Errors are
``application/problem+json`` (see app/errors.py), validation errors name the failing field.
The OpenAPI document is /api/v1/openapi.json, the browsable page /api/v1/docs (Swagger UI served
from app/static/vendor/swagger-ui, no CDN).
"""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import Flask, Response, g, url_for
from flask_smorest import Api, Blueprint
from marshmallow import fields, validate
from sqlalchemy import and_, func, or_, select
from webargs.flaskparser import FlaskParser

from models import (
    DEMAND_STATUSES,
    MATCH_STATUSES,
    Demand,
    Expert,
    Institution,
    Match,
    TechField,
)

from ..db import get_session
from ..errors import DomainError, Forbidden, NotFound
from ..policy import access
from ..policy.roles import Role
from ..policy.scope import match_scope
from ..security import PUBLIC_STATUSES, api_token_required, demand_filter
from ..services import experts as expert_writer
from ..services import serializers as ser
from ..services import workflow as wf
from ..services.audit import audit
from ..services.fields import MAX_AMOUNT, MAX_ID, MAX_KEYWORD_LEN, MAX_KEYWORDS, MAX_QUERY_TEXT
from ..services.indexing import EXPERTS, bump_version
from ..services.search import rank_text

PREFIX = "/api/v1"
MAX_PUSH = 1000


# --- errors: validation problems in Chinese, naming the field --------------------------------
class ValidationProblem(DomainError):
    """Query or body parameters failed validation (422)."""

    status = 422


def _first_field(messages: Any, path: str = "") -> str | None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "querystring", "form", "view_args"):
                return _first_field(value, path)
            name = f"{path}.{key}" if path else str(key)
            deeper = _first_field(value, name)
            return deeper or name
    return path or None


def _first_message(messages: Any) -> str:
    if isinstance(messages, dict):
        for value in messages.values():
            return _first_message(value)
    if isinstance(messages, list) and messages:
        return _first_message(messages[0])
    return str(messages)


class ChineseParser(FlaskParser):
    """Raise a problem+json 422 naming the first failing field instead of webargs' abort."""

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):  # noqa: ANN001
        field = _first_field(error.messages)
        raise ValidationProblem(f"参数「{field}」有误：{_first_message(error.messages)}",
                                field=field, errors=[error.messages])

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):  # noqa: ANN001
        raise DomainError("请求体不是有效的 JSON。", field="body")


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with the Chinese parser."""

    ARGUMENTS_PARSER = ChineseParser()


PROBLEM_JSON = "application/problem+json"


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


class LocalApi(Api):
    """flask-smorest Api that leaves error handling to app/errors.py and serves a CSP-clean UI."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # app/errors.py already answers problem+json under /api/ and HTML elsewhere.
        return None

    def _register_responses(self) -> None:
        # Document the error responses with the media type app/errors.py sends.
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default

    def _openapi_swagger_ui(self):
        base = self._swagger_ui_url
        html = (
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{self.spec.title}</title>"
            f"<link rel=\"stylesheet\" href=\"{base}swagger-ui.css\"></head><body>"
            "<div id=\"swagger-ui\"></div>"
            f"<script src=\"{base}swagger-ui-bundle.js\"></script>"
            f"<script src=\"{base}swagger-ui-standalone-preset.js\"></script>"
            f"<script src=\"{url_for('api_docs_init')}\"></script>"
            "</body></html>"
        )
        return Response(html, mimetype="text/html")


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
    title = Str(validate=_length(1, 200), metadata={"description": "需求名称"})
    problem = Str(validate=_length(None, 20000), metadata={"description": "技术难题"})
    goals = Str(validate=_length(None, 20000), metadata={"description": "预期目标与指标"})
    investment = Float(allow_none=True, validate=_range(0, MAX_AMOUNT),
                       metadata={"description": "计划投入（万元）"})
    industry_id = Int(allow_none=True)
    tech_field_id = Int(allow_none=True)
    keywords = fields.List(Str(validate=_length(1, MAX_KEYWORD_LEN)), error_messages=_msgs("list"),
                           validate=_length(None, MAX_KEYWORDS))
    cooperation_mode = Str(allow_none=True, validate=_length(None, 20))
    deadline = fields.Date(allow_none=True, error_messages=_msgs("date"))
    publishable = Bool()
    enterprise_id = Int(allow_none=True)
    enterprise_name = Str(validate=_length(1, 120))
    new_enterprise = Bool(metadata={"description": "企业库中没有该企业时按名称新建"})
    contact_person = Str(allow_none=True, validate=_length(None, 40))
    contact_phone = Str(allow_none=True, validate=_length(None, 30))
    contact_email = Str(allow_none=True, validate=_length(None, 120))


class DemandCreateIn(DemandIn):
    title = Str(required=True, validate=_length(1, 200), metadata={"description": "需求名称"})


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
    kind = Str(load_default="project", validate=validate.OneOf(
        ("project", "paper", "patent", "award"), error="取值应为 {choices} 之一。"))
    title = Str(required=True, validate=_length(1, 300))
    text = Str(allow_none=True, validate=_length(None, 20000))
    year = Int(allow_none=True, validate=_range(1900, 2100))


class ExpertIn(BaseSchema):
    institution = Str(required=True, validate=_length(1, 100), metadata={"description": "单位名称"})
    name = Str(required=True, validate=_length(1, 40))
    title = Str(allow_none=True, validate=_length(None, 60))
    research_fields = Str(allow_none=True, validate=_length(None, 20000))
    summary = Str(allow_none=True, validate=_length(None, 20000))
    is_academician = Bool(allow_none=True, metadata={"description": "不给出时保持原值"})
    team = Str(allow_none=True, validate=_length(None, 120))
    tech_field = Str(allow_none=True, metadata={"description": "技术领域名称"})
    phone = Str(allow_none=True, validate=_length(None, 30))
    email = Str(allow_none=True, validate=_length(None, 120))
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


class DemandPage(BaseSchema):
    items = fields.List(fields.Nested(DemandOut))
    page = Int()
    per_page = Int()
    total = Int()


class ExpertSummaryOut(BaseSchema):
    """An expert in a list (no items: a dict's ``items`` is a method, never serialise it)."""

    id = Int()
    name = Str()
    institution = fields.Nested(Ref, allow_none=True)
    title = Str(allow_none=True)
    research_fields = Str(allow_none=True)
    is_academician = Bool()
    team = Str(allow_none=True)
    tech_field = fields.Nested(Ref, allow_none=True)
    phone = Str(metadata={"description": "掩码，如 138****5678"})
    email = Str(metadata={"description": "掩码，如 z***n@whu.edu.cn"})


class ExpertOut(ExpertSummaryOut):
    summary = Str(allow_none=True)
    items = fields.List(fields.Dict())


class ExpertPage(BaseSchema):
    items = fields.List(fields.Nested(ExpertSummaryOut))
    page = Int()
    per_page = Int()
    total = Int()


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


class MatchPage(BaseSchema):
    items = fields.List(fields.Nested(MatchOut))
    page = Int()
    per_page = Int()
    total = Int()


class TermOut(BaseSchema):
    term = Str()
    share = Float()


class HitOut(BaseSchema):
    rank = Int()
    expert_id = Int()
    name = Str()
    institution = fields.Nested(Ref, allow_none=True)
    title = Str(allow_none=True)
    is_academician = Bool()
    tech_field = fields.Nested(Ref, allow_none=True)
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


bp = ApiBlueprint("api", __name__, url_prefix=PREFIX,
                  description="需求、专家、对接与匹配接口（令牌认证）")


# --- helpers ------------------------------------------------------------------------------------
def _user() -> Any:
    """Return the signed-in user of this API call, or None for an API client."""
    return getattr(g, "api_user", None)


def _need_user() -> Any:
    user = _user()
    if user is None:
        raise Forbidden("API 令牌只能读取已发布需求、推送专家和查询匹配；"
                        "该操作需要以用户身份登录。")
    return user


def _page(query, args: dict, session) -> tuple[list, int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(args["per_page"])
                           .offset((args["page"] - 1) * args["per_page"])).unique().all()
    return rows, int(total or 0)


def _check_field(session, field_id: int | None, name: str = "field") -> None:
    if field_id is not None and session.get(TechField, field_id) is None:
        raise ValidationProblem(f"参数「{name}」有误：技术领域 {field_id} 不存在。", field=name)


def _check_institution(session, inst_id: int | None, name: str = "institution") -> None:
    if inst_id is not None and session.get(Institution, inst_id) is None:
        raise ValidationProblem(f"参数「{name}」有误：单位 {inst_id} 不存在。", field=name)


def _public_clause():
    return and_(Demand.publishable.is_(True), Demand.status.in_(PUBLIC_STATUSES))


def _visible_demand(session, demand_id: int) -> Demand:
    user = _user()
    if user is not None:
        return wf.get_demand(session, user, demand_id)
    demand = session.get(Demand, demand_id)
    if demand is None or not ser.is_public(demand):
        raise NotFound("需求不存在，或您无权查看。")
    return demand


def _demand_out(session, demand: Demand) -> dict:
    user = _user()
    contact = ser.demand_contact(session, user, demand) if user is not None else None
    actions = wf.demand_actions(session, user, demand) if user is not None else None
    return ser.demand_dict(demand, contact=contact, actions=actions)


def _hits_out(session, hits, snap, proposed: set[int] = frozenset()) -> dict:
    experts = {e.id: e for e in session.scalars(
        select(Expert).where(Expert.id.in_([h.expert_id for h in hits])))}
    items = []
    for n, h in enumerate(hits, 1):
        if h.expert_id in experts:
            item = ser.hit_dict(h, experts[h.expert_id], n)
            item["proposed"] = h.expert_id in proposed
            items.append(item)
    return {"items": items, "index_version": list(snap.version), "n_experts": snap.n_experts}


# --- docs page script (no inline script: the CSP forbids it) ---------------------------------
def docs_init():
    """Start Swagger UI on the OpenAPI document."""
    spec = json.dumps(url_for("api-docs.openapi_json"))
    body = (
        "window.addEventListener('load', function () {\n"
        f"  window.ui = SwaggerUIBundle({{url: {spec}, dom_id: '#swagger-ui',\n"
        "    presets: [SwaggerUIBundle.presets.apis], deepLinking: true});\n"
        "});\n"
    )
    return Response(body, mimetype="text/javascript")


# --- demands ------------------------------------------------------------------------------------
@bp.route("/demands")
@api_token_required
@bp.arguments(DemandListArgs, location="query")
@bp.response(200, DemandPage)
def list_demands(args: dict):
    """List demands: published ones for API clients, the user's scope for users."""
    require_scope("read")
    session = get_session()
    user = _user()
    where = demand_filter(user, include_published=True) if user is not None else _public_clause()
    query = select(Demand).where(where)
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(or_(Demand.title.ilike(like), Demand.problem.ilike(like),
                                Demand.goals.ilike(like), Demand.code.ilike(like)))
    if args.get("status"):
        query = query.where(Demand.status == args["status"])
    if args.get("district") is not None:
        query = query.where(Demand.district_id == args["district"])
    if args.get("industry") is not None:
        query = query.where(Demand.industry_id == args["industry"])
    if args.get("field") is not None:
        _check_field(session, args["field"])
        query = query.where(Demand.tech_field_id == args["field"])
    query = query.order_by(Demand.updated_at.desc(), Demand.id.desc())
    rows, total = _page(query, args, session)
    return {"items": [ser.demand_dict(d, detail=False) for d in rows], "page": args["page"],
            "per_page": args["per_page"], "total": total}


@bp.route("/demands", methods=["POST"])
@api_token_required
@bp.arguments(DemandCreateIn)
@bp.response(201, DemandOut)
def create_demand(data: dict):
    """Record a draft demand (district liaison)."""
    session = get_session()
    demand = wf.create_demand(session, _need_user(), data)
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>")
@api_token_required
@bp.response(200, DemandOut)
def show_demand(demand_id: int):
    """Show one demand; published demands carry no personal contact data."""
    require_scope("read")
    session = get_session()
    out = _demand_out(session, _visible_demand(session, demand_id))
    return out


@bp.route("/demands/<int:demand_id>", methods=["PATCH"])
@api_token_required
@bp.arguments(DemandIn)
@bp.response(200, DemandOut)
def update_demand(data: dict, demand_id: int):
    """Edit a draft or returned demand (district liaison of its district)."""
    session = get_session()
    user = _need_user()
    demand = wf.update_demand(session, user, wf.get_demand(session, user, demand_id), data)
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>/<any(submit,publish,return,close):action>",
          methods=["POST"])
@api_token_required
@bp.arguments(ReasonIn)
@bp.response(200, DemandOut)
def transition_demand(data: dict, demand_id: int, action: str):
    """Submit, publish, return (reason required) or close a demand."""
    session = get_session()
    user = _need_user()
    demand = wf.get_demand(session, user, demand_id)
    wf.transition_demand(session, user, demand, action, data.get("reason"))
    out = _demand_out(session, demand)
    return out


@bp.route("/demands/<int:demand_id>/matches")
@api_token_required
@bp.arguments(RankArgs, location="query")
@bp.response(200, RankOut)
def rank_for_demand(args: dict, demand_id: int):
    """Rank experts for a demand, with scores and explanations."""
    require_scope("rank")
    session = get_session()
    demand = _visible_demand(session, demand_id)
    _check_field(session, args.get("field"))
    _check_institution(session, args.get("institution"))
    from matching import text as mtext

    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    hits, snap = rank_text(session, demand.text, args["top"], field_id=args.get("field"),
                           institution_id=args.get("institution"),
                           academician_only=args["academician"], tokens=tokens,
                           demand=demand)
    proposed = set(session.scalars(select(Match.expert_id).where(Match.demand_id == demand.id)))
    return _hits_out(session, hits, snap, proposed)


@bp.route("/demands/<int:demand_id>/matches", methods=["POST"])
@api_token_required
@bp.arguments(ProposeIn)
@bp.response(201, MatchPage)
def propose(data: dict, demand_id: int):
    """Send a shortlist of experts for a demand to their campus liaisons."""
    session = get_session()
    user = _need_user()
    demand = wf.get_demand(session, user, demand_id)
    created = wf.propose_matches(session, user, demand, data["expert_ids"], data.get("note"))
    items = [ser.match_dict(m) for m in created]
    return {"items": items, "page": 1, "per_page": len(items), "total": len(items)}


# --- free-text matching -------------------------------------------------------------------------
@bp.route("/match", methods=["POST"])
@api_token_required
@bp.arguments(MatchTextIn)
@bp.response(200, RankOut)
def match_text(data: dict):
    """Rank experts for a free-text demand, with scores and explanations."""
    require_scope("rank")
    session = get_session()
    if not data["text"].strip():
        raise ValidationProblem("参数「text」有误：需求文本不能为空。", field="text")
    _check_field(session, data.get("field"))
    _check_institution(session, data.get("institution"))
    hits, snap = rank_text(session, data["text"], data["top"], field_id=data.get("field"),
                           institution_id=data.get("institution"),
                           academician_only=data["academician"])
    return _hits_out(session, hits, snap)


# --- experts ------------------------------------------------------------------------------------
@bp.route("/experts")
@api_token_required
@bp.arguments(ExpertListArgs, location="query")
@bp.response(200, ExpertPage)
def list_experts(args: dict):
    """List experts (phone and e-mail masked)."""
    require_scope("read")
    session = get_session()
    query = select(Expert)
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(or_(Expert.name.ilike(like), Expert.research_fields.ilike(like)))
    if args.get("institution") is not None:
        query = query.where(Expert.institution_id == args["institution"])
    if args.get("field") is not None:
        _check_field(session, args["field"])
        query = query.where(Expert.tech_field_id == args["field"])
    if args.get("academician") is not None:
        query = query.where(Expert.is_academician.is_(args["academician"]))
    rows, total = _page(query.order_by(Expert.id), args, session)
    user = _user()
    return {"items": [ser.expert_dict(e, user) for e in rows], "page": args["page"],
            "per_page": args["per_page"], "total": total}


@bp.route("/experts/<int:expert_id>")
@api_token_required
@bp.response(200, ExpertOut)
def show_expert(expert_id: int):
    """Show one expert with items (phone and e-mail masked)."""
    require_scope("read")
    expert = get_session().get(Expert, expert_id)
    if expert is None:
        raise NotFound("专家不存在。")
    return ser.expert_dict(expert, _user(), detail=True)


@bp.route("/experts", methods=["PUT"])
@api_token_required
@bp.arguments(ExpertsPutIn)
@bp.response(200, PushOut)
def push_experts(data: dict):
    """Upsert experts with their items by (institution, name); fields not sent are kept."""
    session = get_session()
    user = _user()
    if user is not None and user.role not in (Role.CITY_ADMIN, Role.CAMPUS_LIAISON):
        raise Forbidden("只有市科技局或驻高校院所联络员可以推送专家。")
    require_scope("push_experts")
    fields_by_name = {t.name: t.id for t in session.scalars(select(TechField))}
    changes = []
    for n, row in enumerate(data["experts"]):
        inst = expert_writer.find_institution(session, row["institution"])
        allowed = (access.token_may_push_for(g.api_client, inst.id if inst else None)
                   if user is None else inst is None and user.role == Role.CITY_ADMIN
                   or inst is not None and access.can_edit_expert(user, inst.id))
        if not allowed:
            raise Forbidden(f"第 {n + 1} 条：无权推送「{row['institution'].strip()}」的专家。")
        if inst is None:
            inst = expert_writer.find_institution(session, row["institution"], create=True)
        values = {k: row[k] for k in expert_writer.EXPERT_FIELDS if k in row}
        if row.get("tech_field"):
            if row["tech_field"] not in fields_by_name:
                raise ValidationProblem(
                    f"参数「experts.{n}.tech_field」有误：技术领域「{row['tech_field']}」不存在。",
                    field=f"experts.{n}.tech_field")
            values["tech_field_id"] = fields_by_name[row["tech_field"]]
        if "items" in row:
            values["items"] = row["items"]
        expert = session.scalar(select(Expert).where(Expert.institution_id == inst.id,
                                                     Expert.name == row["name"].strip()))
        change = expert_writer.validate(session, {"name": row["name"], **values},
                                        institution_id=inst.id, expert=expert, partial=True)
        if change.errors:
            key, message = next(iter(change.errors.items()))
            raise ValidationProblem(f"第 {n + 1} 条：{message}", field=f"experts.{n}.{key}")
        changes.append((change, expert))
    created = updated = 0
    ids = []
    for change, expert in changes:
        saved, changed = expert_writer.save(session, change, expert, bump=False)
        created += expert is None
        updated += expert is not None and changed
        session.flush()
        ids.append(saved.id)
    bump_version(session, EXPERTS)
    audit(session, "api_push_experts", "expert", None,
          {"created": created, "updated": updated, "count": len(ids)}, user=user or g.api_client)
    return {"created": created, "updated": updated, "ids": ids}


def require_scope(scope: str) -> None:
    """Refuse an API token without `scope` (signed-in users are judged by their role)."""
    if g.api_client is not None and not access.token_allows(g.api_client, scope):
        label = access.TOKEN_SCOPES[scope]
        raise Forbidden(f"该 API 令牌没有「{label}」权限，请联系市科技局开通。")


# --- matches ------------------------------------------------------------------------------------
@bp.route("/matches")
@api_token_required
@bp.arguments(MatchListArgs, location="query")
@bp.response(200, MatchPage)
def list_matches(args: dict):
    """List matches in the caller's scope (API clients: those of published demands)."""
    session = get_session()
    user = _user()
    query = (select(Match).join(Demand, Demand.id == Match.demand_id)
             .join(Expert, Expert.id == Match.expert_id).where(match_scope(user)))
    if args.get("status"):
        query = query.where(Match.status == args["status"])
    if args.get("demand") is not None:
        query = query.where(Match.demand_id == args["demand"])
    rows, total = _page(query.order_by(Match.updated_at.desc(), Match.id.desc()), args, session)
    return {"items": [ser.match_dict(m) for m in rows], "page": args["page"],
            "per_page": args["per_page"], "total": total}


@bp.route("/matches/<int:match_id>")
@api_token_required
@bp.response(200, MatchOut)
def show_match(match_id: int):
    """Show one match with its history."""
    session = get_session()
    user = _need_user()
    match = wf.get_match(session, user, match_id)
    return ser.match_dict(match, events=True, actions=wf.match_actions(session, user, match))


@bp.route("/matches/<int:match_id>/<any(accept,decline,introduce,negotiate,negotiating,sign,"
          "close):action>", methods=["POST"])
@api_token_required
@bp.arguments(MatchTransitionIn)
@bp.response(200, MatchOut)
def transition_match(data: dict, match_id: int, action: str):
    """Accept, decline (reason), introduce, negotiate, sign (amount > 0) or close (reason)."""
    session = get_session()
    user = _need_user()
    match = wf.get_match(session, user, match_id)
    wf.transition_match(session, user, match, action, reason=data.get("reason"),
                        contract_amount=data.get("contract_amount"))
    out = ser.match_dict(match, events=True, actions=wf.match_actions(session, user, match))
    return out


# --- registration -------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    """Configure flask-smorest, serve the OpenAPI document and the docs page, register `bp`."""
    static = app.static_url_path or "/static"
    defaults = {
        "API_TITLE": "武汉市科技成果转化联络服务 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": f"{static}/vendor/swagger-ui/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "令牌认证：Authorization: Bearer <token>；或已登录浏览器的会话 "
                                    "Cookie，其写操作须在 X-CSRFToken 请求头中带页面的 CSRF 令牌。"
                                    "错误以 application/problem+json 返回。"},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session",
                               "description": "登录后的会话；写操作另需 X-CSRFToken 请求头"}}},
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        },
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)
    api = LocalApi(app)
    api.register_blueprint(bp)
    app.add_url_rule(f"{PREFIX}/docs/init.js", "api_docs_init", docs_init)
    app.extensions["api"] = api
