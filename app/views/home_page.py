"""工作台: the role menu of every page, the inbox (what waits for me) and my figures this year."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, g, has_request_context, render_template, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Demand, Expert, Liaison, Match

from .. import clock
from ..auth.decorators import login_required
from ..db import get_session
from ..policy.roles import Role
from ..security import safe_url
from ..services import audit as audit_log
from ..services.programme import home_figures

log = logging.getLogger(__name__)
bp = Blueprint("home", __name__)

ALL = tuple(Role)
ADMINS = (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
LIAISON = (Role.DISTRICT_LIAISON,)
CAMPUS = (Role.CAMPUS_LIAISON,)
CITY = (Role.CITY_ADMIN,)


@dataclass
class MenuItem:
    """One entry of the left menu; `endpoint` may name a page that does not exist yet."""

    label: str
    endpoint: str
    roles: tuple[str, ...] = ALL
    icon: str = "bi-circle"
    children: list[MenuItem] = field(default_factory=list)


# The left menu (PAGES.md). To add an entry, append a MenuItem here with its endpoint and roles.
MENU: list[MenuItem] = [
    MenuItem("工作台", "home.index", ALL, "bi-speedometer2"),
    MenuItem("需求管理", "", ALL, "bi-clipboard-data", [
        MenuItem("需求列表", "demands.index", ALL),
        MenuItem("登记需求", "demands.new", LIAISON),
        MenuItem("需求审核", "demands.review_queue", (Role.DISTRICT_ADMIN,)),
    ]),
    MenuItem("专家库", "", ALL, "bi-mortarboard", [
        MenuItem("专家列表", "experts.index", ALL),
        MenuItem("专家导入", "experts.import_page", (Role.CAMPUS_LIAISON, Role.CITY_ADMIN)),
    ]),
    MenuItem("对接管理", "", ALL, "bi-link-45deg", [
        MenuItem("对接列表", "matches.index", ALL),
        MenuItem("待审对接", "matches.campus_queue", CAMPUS),
    ]),
    MenuItem("对接会", "", ADMINS, "bi-people", [
        MenuItem("对接会列表", "meetings.index", ADMINS),
    ]),
    MenuItem("企业库", "", (Role.DISTRICT_LIAISON, *ADMINS), "bi-buildings", [
        MenuItem("企业库", "registries.enterprises", (Role.DISTRICT_LIAISON, *ADMINS)),
        MenuItem("园区/孵化器", "registries.parks", ADMINS),
        MenuItem("创投机构", "registries.investors", ADMINS),
        MenuItem("高校院所", "registries.institutions", ADMINS),
    ]),
    MenuItem("走访记录", "", (Role.DISTRICT_LIAISON, *ADMINS), "bi-geo-alt", [
        MenuItem("走访记录", "visits.index", (Role.DISTRICT_LIAISON, *ADMINS)),
        MenuItem("登记走访", "visits.new", (Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN)),
        MenuItem("走访覆盖", "visits.coverage", (Role.DISTRICT_LIAISON, *ADMINS)),
    ]),
    MenuItem("联络员", "", ADMINS, "bi-person-badge", [
        MenuItem("联络员名册", "programme.roster", ADMINS),
        MenuItem("指标分解表", "programme.quota", ADMINS),
        MenuItem("更换备案", "programme.replacements", ADMINS),
    ]),
    MenuItem("工作台账", "", ADMINS, "bi-journal-text", [
        MenuItem("培训会", "programme.trainings", ADMINS),
        MenuItem("典型案例", "programme.cases", ADMINS),
        MenuItem("考核评价", "programme.assessments", ADMINS),
    ]),
    MenuItem("统计分析", "", ADMINS, "bi-bar-chart-line", [
        MenuItem("指标看板", "programme.dashboard", ADMINS),
    ]),
    MenuItem("系统管理", "", CITY, "bi-gear", [
        MenuItem("用户管理", "admin.users", CITY),
        MenuItem("API 客户端", "admin.api_clients", CITY),
        MenuItem("数据字典", "admin.dictionaries", CITY),
        MenuItem("操作日志", "admin.audit_log", CITY),
        MenuItem("登录日志", "admin.login_log", CITY),
        MenuItem("接口文档", "/api/v1/docs", CITY),
    ]),
]


def _active(endpoint: str) -> bool:
    if not endpoint or endpoint.startswith("/"):
        return bool(endpoint) and request.path.startswith(endpoint)
    current = request.endpoint or ""
    if current == endpoint:
        return True
    # a detail/edit page highlights its list: demands.show -> demands.index
    return endpoint.endswith(".index") and current.split(".")[0] == endpoint.split(".")[0] \
        and not any(current == c.endpoint for grp in MENU for c in grp.children)


def build_menu(role: str | None, badge: int = 0) -> list[dict[str, Any]]:
    """Return the menu entries a role sees, with URLs ('#' for pages not built yet)."""
    out = []
    for item in MENU:
        if role not in item.roles:
            continue
        if item.children:
            children = [
                {"label": c.label, "url": safe_url(c.endpoint), "active": _active(c.endpoint)}
                for c in item.children if role in c.roles
            ]
            if not children:
                continue
            out.append({"label": item.label, "icon": item.icon, "children": children,
                        "open": any(c["active"] for c in children)})
        else:
            out.append({"label": item.label, "icon": item.icon, "url": safe_url(item.endpoint),
                        "active": _active(item.endpoint), "children": [],
                        "badge": badge if item.endpoint == "home.index" else 0})
    return out


def init_app(app: Flask) -> None:
    """Register the blueprint and the menu / inbox variables every page uses."""
    app.register_blueprint(bp)

    @app.before_request
    def _bind_audit() -> None:
        audit_log.bind_request(_request_actor)

    @app.context_processor
    def _shell() -> dict[str, Any]:
        if not current_user.is_authenticated:
            return {"menu": [], "inbox_total": 0}
        total = inbox_total()
        return {"menu": build_menu(current_user.role, total), "inbox_total": total}


def _request_actor() -> tuple[Any, str | None]:
    """Return the signed-in user (or the API client) and the client's IP, for the log."""
    if not has_request_context():
        return None, None
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is None:
        user = getattr(g, "api_client", None)
    return user, request.remote_addr


# --- inbox ----------------------------------------------------------------------------------------
@dataclass
class InboxItem:
    """One kind of thing waiting for the user, with how many and where to go."""

    label: str
    count: int | None
    url: str
    hint: str = ""
    level: str = "primary"


def _count(session: Session, stmt) -> int:
    """Run a count query."""
    return int(session.scalar(stmt) or 0)


def _n(model) -> Any:
    return select(func.count()).select_from(model)


def inbox(session: Session, user: Any) -> list[InboxItem]:
    """Return what waits for `user`, per role, computed with simple count queries."""
    role = user.role
    items: list[InboxItem] = []
    if role == Role.DISTRICT_ADMIN:
        items.append(InboxItem(
            "待审核需求", _count(session, _n(Demand).where(
                Demand.district_id == user.district_id, Demand.status == "submitted")),
            safe_url("demands.review_queue"), "联络员已提交，等待发布或退回", "warning"))
        items.append(InboxItem(
            "待备案的更换人员", _count(session, _n(Liaison).where(
                Liaison.district_id == user.district_id, Liaison.replaces_id.is_not(None),
                Liaison.filed_on.is_(None))),
            safe_url("programme.replacements"), "更换的联络员需报市科技局备案", "info"))
    elif role == Role.CAMPUS_LIAISON:
        items.append(InboxItem(
            "待确认的对接", _count(session, _n(Match).join(Expert, Expert.id == Match.expert_id)
                                   .where(Expert.institution_id == user.institution_id,
                                          Match.status == "proposed")),
            safe_url("matches.campus_queue"), "推荐给本单位专家的需求，请接受或婉拒", "warning"))
        items.append(InboxItem(
            "待记录进展的对接", _count(session, _n(Match).join(Expert, Expert.id == Match.expert_id)
                                      .where(Expert.institution_id == user.institution_id,
                                             Match.status.in_(("accepted", "introduced")))),
            safe_url("matches.index", status="accepted"), "已接受的对接，请记录引荐和结果", "info"))
    elif role == Role.DISTRICT_LIAISON:
        mine = Demand.liaison_id == user.liaison_id if user.liaison_id else (
            Demand.district_id == user.district_id)
        items.append(InboxItem(
            "被退回的需求", _count(session, _n(Demand).where(mine, Demand.status == "returned")),
            safe_url("demands.index", status="returned"), "按退回原因修改后重新提交", "danger"))
        items.append(InboxItem(
            "草稿", _count(session, _n(Demand).where(mine, Demand.status == "draft")),
            safe_url("demands.index", status="draft"), "尚未提交审核", "secondary"))
        week = clock.days_ago(7)
        items.append(InboxItem(
            "近 7 天对接进展", _count(session, _n(Match).join(Demand, Demand.id == Match.demand_id)
                                     .where(mine, Match.updated_at >= week,
                                            Match.status != "proposed")),
            safe_url("matches.index"), "专家所在单位联络员已答复或有新进展", "info"))
    elif role == Role.CITY_ADMIN:
        items.append(InboxItem(
            "待备案的更换人员", _count(session, _n(Liaison).where(
                Liaison.replaces_id.is_not(None), Liaison.filed_on.is_(None))),
            safe_url("programme.replacements"), "各区报来的联络员更换", "warning"))
        items.append(InboxItem(
            "各区待审核需求", _count(session, _n(Demand).where(Demand.status == "submitted")),
            safe_url("demands.index", status="submitted"), "各区局尚未处理的需求", "info"))
    return items


def inbox_total() -> int:
    """Return the number of waiting items for the signed-in user (cached per request)."""
    if "inbox_total" not in g:
        try:
            items = inbox(get_session(), current_user)
            g.inbox_total = sum(i.count or 0 for i in items if i.level in ("warning", "danger"))
        except Exception:  # the badge is never worth an error page
            log.warning("inbox total failed", exc_info=True)
            g.inbox_total = 0
    return g.inbox_total


@bp.get("/")
@login_required
def index():
    """Show the inbox and this year's figures."""
    session = get_session()
    year = clock.this_year()
    items = inbox(session, current_user)
    figs = home_figures.figures(session, current_user, year)
    return render_template("home/index.html", items=items, figures=figs, year=year)
