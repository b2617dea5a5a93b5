"""工作台: the role menu of every page, the inbox (what waits for me) and my figures this year."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, g, render_template, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Case, Demand, District, Expert, Liaison, Match, Training

from .. import clock
from ..db import get_session
from ..security import DISTRICT_ROLES, login_required, safe_url

log = logging.getLogger(__name__)
bp = Blueprint("home", __name__)

ALL = ("district_liaison", "district_admin", "campus_liaison", "city_admin")
ADMINS = ("district_admin", "city_admin")


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
        MenuItem("登记需求", "demands.new", ("district_liaison",)),
        MenuItem("需求审核", "demands.review_queue", ("district_admin",)),
    ]),
    MenuItem("专家库", "", ALL, "bi-mortarboard", [
        MenuItem("专家列表", "experts.index", ALL),
        MenuItem("专家导入", "experts.import_page", ("campus_liaison", "city_admin")),
    ]),
    MenuItem("对接管理", "", ALL, "bi-link-45deg", [
        MenuItem("对接列表", "matches.index", ALL),
        MenuItem("待审对接", "matches.campus_queue", ("campus_liaison",)),
    ]),
    MenuItem("对接会", "", ADMINS, "bi-people", [
        MenuItem("对接会列表", "meetings.index", ADMINS),
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
    MenuItem("系统管理", "", ("city_admin",), "bi-gear", [
        MenuItem("用户管理", "admin.users", ("city_admin",)),
        MenuItem("API 客户端", "admin.api_clients", ("city_admin",)),
        MenuItem("数据字典", "admin.dictionaries", ("city_admin",)),
        MenuItem("操作日志", "admin.audit_log", ("city_admin",)),
        MenuItem("登录日志", "admin.login_log", ("city_admin",)),
        MenuItem("接口文档", "/api/v1/docs", ("city_admin",)),
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

    @app.context_processor
    def _shell() -> dict[str, Any]:
        if not current_user.is_authenticated:
            return {"menu": [], "inbox_total": 0}
        total = inbox_total()
        return {"menu": build_menu(current_user.role, total), "inbox_total": total}


# --- inbox ----------------------------------------------------------------------------------------
@dataclass
class InboxItem:
    """One kind of thing waiting for the user, with how many and where to go."""

    label: str
    count: int | None
    url: str
    hint: str = ""
    level: str = "primary"


def _count(session: Session, stmt) -> int | None:
    """Run a count query; None (shown as '—') when the area's tables are not usable."""
    try:
        return int(session.scalar(stmt) or 0)
    except Exception:  # degrade: one broken box must not break the home page
        log.warning("home count failed", exc_info=True)
        if not (session.new or session.dirty or session.deleted):
            session.rollback()  # PostgreSQL refuses further queries in a failed transaction
        return None


def _n(model) -> Any:
    return select(func.count()).select_from(model)


def inbox(session: Session, user: Any) -> list[InboxItem]:
    """Return what waits for `user`, per role, computed with simple count queries."""
    role = user.role
    items: list[InboxItem] = []
    if role == "district_admin":
        items.append(InboxItem(
            "待审核需求", _count(session, _n(Demand).where(
                Demand.district_id == user.district_id, Demand.status == "submitted")),
            safe_url("demands.review_queue"), "联络员已提交，等待发布或退回", "warning"))
        items.append(InboxItem(
            "待备案的更换人员", _count(session, _n(Liaison).where(
                Liaison.district_id == user.district_id, Liaison.replaces_id.is_not(None),
                Liaison.filed_on.is_(None))),
            safe_url("programme.replacements"), "更换的联络员需报市科技局备案", "info"))
    elif role == "campus_liaison":
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
    elif role == "district_liaison":
        mine = Demand.liaison_id == user.liaison_id if user.liaison_id else (
            Demand.district_id == user.district_id)
        items.append(InboxItem(
            "被退回的需求", _count(session, _n(Demand).where(mine, Demand.status == "returned")),
            safe_url("demands.index", status="returned"), "按退回原因修改后重新提交", "danger"))
        items.append(InboxItem(
            "草稿", _count(session, _n(Demand).where(mine, Demand.status == "draft")),
            safe_url("demands.index", status="draft"), "尚未提交审核", "secondary"))
        week = datetime.now(UTC) - timedelta(days=7)
        items.append(InboxItem(
            "近 7 天对接进展", _count(session, _n(Match).join(Demand, Demand.id == Match.demand_id)
                                     .where(mine, Match.updated_at >= week,
                                            Match.status != "proposed")),
            safe_url("matches.index"), "专家所在单位联络员已答复或有新进展", "info"))
    elif role == "city_admin":
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


# --- my figures this year ----------------------------------------------------------------
@dataclass
class Figure:
    """One number on the home page, optionally against the notice's yearly rule."""

    label: str
    value: int | float | None
    target: int | float | None = None
    unit: str = ""
    note: str = ""

    @property
    def state(self) -> str:
        """Return met / short / none against the target."""
        if self.target is None or self.value is None:
            return "none"
        return "met" if self.value >= self.target else "short"


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def figures(session: Session, user: Any, year: int) -> list[Figure]:
    """Return the user's figures for a year (rules: ≥2 published demands per liaison, etc.)."""
    start, end = _year_bounds(year)
    published = (Demand.published_at >= start, Demand.published_at < end)
    role = user.role
    out: list[Figure] = []
    if role == "district_liaison":
        mine = Demand.liaison_id == user.liaison_id if user.liaison_id else (
            Demand.district_id == user.district_id)
        out.append(Figure("本年登记需求", _count(session, _n(Demand).where(
            mine, Demand.created_at >= start, Demand.created_at < end)), unit="项"))
        out.append(Figure("本年发布需求", _count(session, _n(Demand).where(mine, *published)),
                          target=2, unit="项", note="通知要求每名联络员每年至少发布 2 项有效需求"))
        out.append(Figure("本年推荐对接", _count(session, _n(Match).join(Demand).where(
            mine, Match.created_at >= start, Match.created_at < end)), unit="次"))
        out.append(Figure("本年签约", _count(session, _n(Match).join(Demand).where(
            mine, Match.status == "signed", Match.updated_at >= start, Match.updated_at < end)),
            unit="项"))
    elif role in DISTRICT_ROLES or role == "city_admin":
        scope = (Demand.district_id == user.district_id,) if role in DISTRICT_ROLES else ()
        t_scope = (Training.district_id == user.district_id,) if role in DISTRICT_ROLES else ()
        c_scope = (Case.district_id == user.district_id,) if role in DISTRICT_ROLES else ()
        l_scope = (Liaison.district_id == user.district_id,) if role in DISTRICT_ROLES else ()
        today = clock.today()
        headcount = _count(session, _n(Liaison).where(
            Liaison.kind == "district", *l_scope,
            (Liaison.start_date.is_(None)) | (Liaison.start_date <= today),
            (Liaison.end_date.is_(None)) | (Liaison.end_date >= today)))
        if role in DISTRICT_ROLES:
            quota = _count(session, select(District.quota_total).where(
                District.id == user.district_id))
            districts = 1
        else:
            quota = _count(session, select(func.sum(District.quota_total)))
            districts = _count(session, _n(District)) or 0
        out.append(Figure("在岗区派联络员", headcount, target=quota, unit="人",
                          note="对照附件1指标分解表"))
        out.append(Figure("本年发布需求", _count(session, _n(Demand).where(*scope, *published)),
                          target=(headcount or 0) * 2 or None, unit="项",
                          note="每名联络员每年至少 2 项"))
        out.append(Figure("本年培训会", _count(session, _n(Training).where(
            *t_scope, Training.held_on >= date(year, 1, 1),
            Training.held_on <= date(year, 12, 31))),
            target=districts or None, unit="场", note="每区每年至少 1 场"))
        case_target = -(-(headcount or 0) * 3 // 10) if headcount else None  # ceil(30%)
        out.append(Figure("本年典型案例",
                          _count(session, _n(Case).where(*c_scope, Case.year == year)),
                          target=case_target, unit="个", note="不少于联络员人数的 30%"))
        out.append(Figure("本年签约对接", _count(session, _n(Match).join(Demand).where(
            *scope, Match.status == "signed", Match.updated_at >= start, Match.updated_at < end)),
            unit="项"))
    elif role == "campus_liaison":
        inst = Expert.institution_id == user.institution_id
        out.append(Figure("本单位专家", _count(session, _n(Expert).where(inst)), unit="人"))
        out.append(Figure("本年收到对接", _count(session, _n(Match).join(Expert).where(
            inst, Match.created_at >= start, Match.created_at < end)), unit="次"))
        out.append(Figure("本年已接受", _count(session, _n(Match).join(Expert).where(
            inst, Match.status.in_(("accepted", "introduced", "negotiating", "signed")),
            Match.created_at >= start, Match.created_at < end)), unit="次"))
        out.append(Figure("本年签约", _count(session, _n(Match).join(Expert).where(
            inst, Match.status == "signed", Match.updated_at >= start, Match.updated_at < end)),
            unit="项"))
    return out


@bp.get("/")
@login_required
def index():
    """Show the inbox and this year's figures."""
    session = get_session()
    year = clock.this_year()
    items = inbox(session, current_user)
    figs = figures(session, current_user, year)
    return render_template("home/index.html", items=items, figures=figs, year=year)
