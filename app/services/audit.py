"""The operation log (操作日志): one row per business action or admin change, with who, when,
which object, from what to what, and why; reads of full contact data are logged too.

Call ``record(session, user, action, entity, entity_id, before=..., after=..., reason=...)``
from the view or service that performs the action. Actions are dotted codes (``demand.publish``)
whose Chinese names live in ACTION_LABELS; an unknown code is shown as written. Within one
request, an identical row is written once (a page that reads a contact in a loop logs one read).
Takes a session, never commits, imports no Flask: the web layer tells it the request's client
with ``bind_request``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy.orm import Session

from models import AuditEvent

from ..policy.roles import role_label

#: Chinese names of the actions. Codes are "<entity>.<verb>"; the legacy short codes written by
#: audit() before 2026-12 are kept so old rows read in Chinese too.
ACTION_LABELS: dict[str, str] = {
    # demands and matches (the lead's workflow)
    "demand.create": "登记需求", "demand.update": "修改需求", "demand.submit": "提交审核",
    "demand.publish": "审核发布", "demand.return": "退回需求", "demand.close": "关闭需求",
    "demand.import": "导入需求",
    "match.propose": "推荐专家", "match.accept": "接受对接", "match.decline": "婉拒对接",
    "match.introduce": "引荐对接", "match.negotiate": "进入洽谈", "match.sign": "签约",
    "match.close": "结束对接",
    "expert.create": "新增专家", "expert.update": "修改专家", "expert.import": "导入专家",
    # meetings
    "meeting.plan": "编排对接会", "meeting.replan": "重新编排", "meeting.confirm": "确认对接会",
    "meeting.held": "标记已召开", "meeting.delete": "删除对接会", "meeting.outcome": "登记对接结果",
    # the books
    "liaison.create": "新增联络员", "liaison.update": "修改联络员", "liaison.replace": "更换联络员",
    "liaison.file": "登记更换备案", "quota.update": "修改指标分解表",
    "training.create": "登记培训会", "training.update": "修改培训会",
    "case.create": "新增典型案例", "case.update": "修改典型案例", "case.report": "报送典型案例",
    "case.draft": "生成案例草稿", "assessment.create": "登记考核", "assessment.update": "修改考核",
    "visit.create": "登记走访", "enterprise.create": "新增企业", "enterprise.update": "修改企业",
    "enterprise.import": "导入企业", "park.create": "新增园区孵化器",
    "park.update": "修改园区孵化器", "park.import": "导入园区孵化器",
    "investor.create": "新增创投机构", "investor.update": "修改创投机构",
    "investor.import": "导入创投机构",
    "institution.create": "新增高校院所", "institution.update": "修改高校院所",
    "institution.import": "导入高校院所", "roster.import": "导入联络员名册",
    # accounts and system
    "user.create": "新增用户", "user.update": "修改用户", "user.enable": "启用用户",
    "user.disable": "停用用户", "user.reset_password": "重置密码",
    "user.change_password": "修改密码", "user.logout": "退出登录",
    "api_client.create": "新增 API 客户端", "api_client.deactivate": "停用 API 客户端",
    "dictionary.create": "新增字典项",
    # reads and exports
    "contact.view": "查看联系方式", "export": "导出数据", "import": "导入数据",
    # legacy short codes
    "create": "新增", "update": "修改", "delete": "删除", "enable": "启用", "disable": "停用",
    "reset_password": "重置密码", "deactivate": "停用", "logout": "退出登录",
    "view_contact": "查看联系方式", "export_contacts": "导出联系方式",
    "api_push_experts": "API 推送专家", "plan": "编排对接会", "replan": "重新编排",
    "confirm": "确认对接会",
}

#: Chinese names of the objects, and the page that shows one (endpoint, its id argument).
ENTITY_LABELS: dict[str, str] = {
    "demand": "需求", "match": "对接", "expert": "专家", "meeting": "对接会", "liaison": "联络员",
    "roster": "联络员名册", "quota": "指标分解表", "training": "培训会", "case": "典型案例",
    "assessment": "考核", "visit": "走访记录", "enterprise": "企业", "park": "园区/孵化器",
    "investor": "创投机构", "institution": "高校院所", "user": "用户", "api_client": "API 客户端",
    "domain_term": "领域词", "industry": "行业", "tech_field": "技术领域", "experts": "专家",
    "demands": "需求", "enterprises": "企业",
}
ENTITY_PAGES: dict[str, tuple[str, str]] = {
    "demand": ("demands.detail", "demand_id"),
    "match": ("matches.detail", "match_id"),
    "expert": ("experts.detail", "expert_id"),
    "meeting": ("meetings.detail", "meeting_id"),
    "visit": ("visits.show", "visit_id"),
    "enterprise": ("registries.enterprise", "enterprise_id"),
    "park": ("registries.park", "park_id"),
    "investor": ("registries.investor", "investor_id"),
    "institution": ("registries.institution", "institution_id"),
    "liaison": ("programme.edit_liaison", "liaison_id"),
    "training": ("programme.edit_training", "training_id"),
    "case": ("programme.edit_case", "case_id"),
    "assessment": ("programme.edit_assessment", "assessment_id"),
    "user": ("admin.edit_user", "user_id"),
}
#: Keys of the detail that the log shows in their own columns.
DETAIL_KEYS = ("before", "after", "reason")

_request: ContextVar[Callable[[], tuple[Any, str | None]] | None] = ContextVar(
    "audit_request", default=None)


def bind_request(resolve: Callable[[], tuple[Any, str | None]]) -> None:
    """Tell the log how to find the signed-in user (or API client) and IP of this request."""
    _request.set(resolve)


def action_label(action: str) -> str:
    """Return the Chinese name of an action code."""
    return ACTION_LABELS.get(action, action)


def entity_label(entity: str) -> str:
    """Return the Chinese name of an object kind."""
    return ENTITY_LABELS.get(entity, entity)


def _actor(user: Any) -> str:
    if user is None:
        return "系统"
    if hasattr(user, "username"):
        return f"{user.display_name}({user.username})"[:80]
    if hasattr(user, "token_prefix"):  # an ApiClient
        return f"API:{user.name}"[:80]
    return str(user)[:80]


def _context() -> tuple[Any, str | None]:
    resolve = _request.get()
    return resolve() if resolve is not None else (None, None)


def _add(session: Session, user: Any, action: str, entity: str, entity_id: int | None,
         detail: dict | None, ip: str | None) -> AuditEvent:
    ctx_user, ctx_ip = _context()
    user = user if user is not None else ctx_user
    ip = (ip or ctx_ip or None) and (ip or ctx_ip)[:45]
    user_id = getattr(user, "id", None) if hasattr(user, "username") else None
    for pending in session.new:  # one row per action: the same read twice in a request is one
        if (isinstance(pending, AuditEvent) and pending.user_id == user_id
                and pending.action == action[:40] and pending.entity == entity[:40]
                and pending.entity_id == entity_id and pending.detail == detail):
            return pending
    event = AuditEvent(user_id=user_id, actor=_actor(user), action=action[:40],
                       entity=entity[:40], entity_id=entity_id, detail=detail, ip=ip)
    session.add(event)
    return event


def record(session: Session, user: Any, action: str, entity: str, entity_id: int | None, *,
           before: Any = None, after: Any = None, reason: str | None = None,
           ip: str | None = None) -> AuditEvent:
    """Log one business action or admin change: who, what object, from and to, and why.

    `before` / `after` are small JSON-able values (a status, or {字段: 值} of what changed);
    write them in Chinese where a user reads them. `ip` is for work done outside a request
    (a background import); a request's own is found by itself. Never commits.
    """
    detail = {k: v for k, v in (("before", before), ("after", after), ("reason", reason))
              if v not in (None, "", {}, [])}
    return _add(session, user, action, entity, entity_id, detail or None, ip)


def audit(session: Session, action: str, entity: str, entity_id: int | None = None,
          detail: dict | None = None, *, user: Any = None, ip: str | None = None) -> AuditEvent:
    """Log an action with a free-form detail (the older form; prefer `record`)."""
    return _add(session, user, action, entity, entity_id, detail, ip)


def describe(detail: dict | None) -> dict[str, str]:
    """Return the detail as text for the log's 从 / 到 / 原因 / 其他 columns."""
    if not detail:
        return {"before": "", "after": "", "reason": "", "other": ""}
    other = {k: v for k, v in detail.items() if k not in DETAIL_KEYS}
    return {"before": _text(detail.get("before")), "after": _text(detail.get("after")),
            "reason": _text(detail.get("reason")), "other": _text(other) if other else ""}


_KEY_LABELS = {"rows": "行数", "contact": "含联系方式", "district_id": "区编号", "role": "角色",
               "name": "名称", "sessions": "场次", "what": "内容", "kind": "类型",
               "status": "状态", "username": "用户名"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "；".join(f"{_KEY_LABELS.get(str(k), k)}："
                        f"{role_label(v) if k == 'role' else _text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "、".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)
