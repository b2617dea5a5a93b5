"""The permission matrix's data: its identities, the world of records in and out of each
role's scope, who may see which record (asked of the rule's home), and the route table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from app.policy import access, scope
from app.policy.roles import Role, is_city
from app.services import registry_writer, user_accounts, visit_log
from app.views.uploads import allowed_kinds
from models import (
    ApiClient,
    Assessment,
    BackgroundJob,
    Case,
    Demand,
    Enterprise,
    Expert,
    Institution,
    Investor,
    Invitation,
    Liaison,
    Match,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    Park,
    SessionDemand,
    Training,
    User,
    Visit,
)

from .. import factories

USERS = {Role.CITY_ADMIN: "city", Role.DISTRICT_ADMIN: "dhadmin",
         Role.DISTRICT_LIAISON: "dhliaison", Role.CAMPUS_LIAISON: "whuliaison"}
ANONYMOUS = "anonymous"
TOKENS = {"token_read_rank": ("read", "rank"), "token_push": ("push_experts",)}
IDENTITIES = [*USERS.values(), ANONYMOUS, *TOKENS]

#: Routes the matrix does not request, each with the reason.
EXEMPT = {
    "/static/<path:filename>": "static files, public by design",
    "/healthz": "health probe for the load balancer, public by design (tests/views/test_health.py)",
    "/favicon.ico": "the icon, public by design",
    "/login": "the sign-in page itself (tests/views/test_auth.py)",
    "/api/v1/openapi.json": "the OpenAPI document, public by design (tests/views/test_api.py)",
    "/api/v1/docs": "the Swagger UI page of the OpenAPI document, public by design",
    "/api/v1/docs/init.js": "the Swagger UI start script, public by design",
}


# --- the world: records in and out of each role's scope ----------------------------------------
@dataclass
class World:
    """Ids of the records the matrix requests, by kind (each kind: in and out of scope)."""

    records: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sub: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)


def _build(session) -> World:
    """Two districts (东湖高新区 is the signed-in users', 洪山区 not), two universities (武汉大学,
    华中科技大学), and one or more records of every kind on each side."""
    users = {u.username: u for u in user_accounts.ensure_demo_users(session)}
    dh, hs = (factories.district_named(session, name) for name in ("东湖高新区", "洪山区"))
    whu = session.scalar(select(Institution).where(Institution.name == "武汉大学"))
    hust = factories.institution(session, "华中科技大学")
    e_whu = factories.expert(session, "李激光", ["激光熔覆涂层"], inst="武汉大学")
    e_hust = factories.expert(session, "周储能", ["储能电池管理"], inst="华中科技大学")
    d_own = factories.demand(session, "东湖草稿需求", "激光", status="draft", district="东湖高新区")
    d_other = factories.demand(session, "洪山待审需求", "激光", status="submitted",
                               district="洪山区", publishable=False)
    d_public = factories.demand(session, "洪山已发布需求", "储能", status="published",
                                district="洪山区")
    d_sent = factories.demand(session, "洪山已关闭需求", "涂层", status="closed",
                              district="洪山区", publishable=False)
    m_dh = Match(demand=d_own, expert=e_hust, status="proposed")
    m_whu = Match(demand=d_sent, expert=e_whu, status="declined", reason="方向不符")
    m_public = Match(demand=d_public, expert=e_hust, status="signed", contract_amount=80.0)
    session.add_all([m_dh, m_whu, m_public])

    meetings, sub = [], {}
    for district, demand, expert in ((dh, d_own, e_hust), (hs, d_public, e_whu)):
        meeting = MatchmakingMeeting(title=f"{district.name}对接会", district_id=district.id,
                                     status="planned", held_on=date(2026, 6, 1), params={})
        ms = MeetingSession(meeting=meeting, seq=1, title="第一场",
                            starts_at=datetime(2026, 6, 1, 1, tzinfo=UTC),
                            ends_at=datetime(2026, 6, 1, 3, tzinfo=UTC))
        ms.demands = [SessionDemand(demand=demand)]
        invitation = Invitation(kind="expert", expert=expert)
        ms.invitations = [invitation]
        ms.slots = [MeetingSlot(demand=demand, expert=expert, slot=1, table_no=1)]
        session.add(meeting)
        session.flush()
        meetings.append(meeting.id)
        sub[meeting.id] = {"session_id": ms.id, "invitation_id": invitation.id,
                           "demand_id": demand.id, "person_id": expert.id}

    parks = [Park(name=f"{d.name}矩阵园", district=d) for d in (dh, hs)]
    session.add_all(parks)
    enterprises = [session.scalar(select(Enterprise).where(Enterprise.district_id == d.id))
                   for d in (dh, hs)]
    liaisons = [session.get(Liaison, users["dhliaison"].liaison_id),
                Liaison(kind="district", name="洪矩阵", district=hs, start_date=date(2024, 1, 1)),
                session.get(Liaison, users["whuliaison"].liaison_id)]
    session.add_all(liaisons)
    session.flush()
    visit_rows = [Visit(visited_on=date(2026, 1, 5), liaison=li, district_id=li.district_id,
                        people_met="王经理", findings="了解需求") for li in liaisons[:2]]
    visit_rows.append(Visit(visited_on=date(2026, 1, 6), liaison=liaisons[1],
                            district_id=dh.id, people_met="李经理", findings="了解需求"))
    trainings = [Training(district=d, held_on=date(2026, 3, 1), topic="培训") for d in (dh, hs)]
    cases = [Case(district=d, year=2026, title="案例", status="draft") for d in (dh, hs)]
    assessments = [Assessment(liaison=li, year=2025, result="合格", reviewer="市局",
                              assessed_on=date(2026, 1, 10)) for li in liaisons[:2]]
    investor = Investor(name="矩阵创投", contact_phone="13800001111")
    session.add_all([*visit_rows, *trainings, *cases, *assessments, investor])
    job = BackgroundJob(kind=f"import:demands:{users['dhadmin'].id}", status="done")
    export = BackgroundJob(kind=f"export:experts:{users['whuliaison'].id}", status="done",
                           output=b"xlsx")
    session.add_all([job, export])
    session.flush()
    client, _ = user_accounts.create_api_client(session, "矩阵客户端", users["city"])

    world = World(sub={"meeting": sub}, values={"dh": dh.id})
    world.records = {
        "demand": [d_own.id, d_other.id, d_public.id, d_sent.id],
        "match": [m_dh.id, m_whu.id, m_public.id],
        "meeting": meetings,
        "expert": [e_whu.id, e_hust.id],
        "enterprise": [e.id for e in enterprises],
        "park": [p.id for p in parks],
        "investor": [investor.id],
        "institution": [whu.id, hust.id],
        "visit": [v.id for v in visit_rows],
        "training": [t.id for t in trainings],
        "case": [c.id for c in cases],
        "assessment": [a.id for a in assessments],
        "liaison": [li.id for li in liaisons],
        "user": [users["dhliaison"].id, users["hsadmin"].id],
        "api_client": [client.id],
        "job": [job.id],
        "export_job": [export.id],
    }
    for name, scopes in TOKENS.items():
        _, token = user_accounts.create_api_client(session, name, users["city"], scopes=scopes,
                                              institution_ids=[whu.id])
        world.tokens[name] = token
    return world

# --- who may see which record: the rule's home, asked per kind ---------------------------------
def _in_sql(session, model, record_id: int, clause) -> bool:
    stmt = select(model.id).where(model.id == record_id)
    if clause is not None:
        stmt = stmt.where(clause)
    return session.scalar(stmt) is not None


def _district_row(model) -> Callable[[Any, Any, Any], bool]:
    """A row owned by a district: the scope of app/services/registry_writer.py."""
    return lambda s, user, row: _in_sql(s, model, row.id,
                                        registry_writer.district_scope(user, model.district_id))


def _liaison_visible(session, user, li) -> bool:
    """app/views/programme_pages/common.py liaison_or_404: campus liaisons the city only."""
    return is_city(user) if li.kind == "campus" else (
        is_city(user) or access.in_district(user, li.district_id))


def _sent_ids(demand) -> set[int]:
    return {m.expert.institution_id for m in demand.matches}


#: kind -> (model, may `user` see this row); `True` kinds are gated by the route's roles only.
VISIBLE: dict[str, tuple[type, Callable[[Any, Any, Any], bool]]] = {
    "demand": (Demand, lambda s, u, d: access.can_view_demand(u, d, _sent_ids(d))),
    "match": (Match, lambda s, u, m: access.can_view_match(u, m)),
    "meeting": (MatchmakingMeeting,
                lambda s, u, m: _in_sql(s, MatchmakingMeeting, m.id, scope.meeting_scope(u))),
    "expert": (Expert, lambda s, u, e: True),
    "enterprise": (Enterprise, _district_row(Enterprise)),
    "park": (Park, _district_row(Park)),
    "investor": (Investor, lambda s, u, r: True),
    "institution": (Institution, lambda s, u, r: True),
    "visit": (Visit, lambda s, u, v: _in_sql(s, Visit, v.id, visit_log.scope_clause(u))),
    "training": (Training, _district_row(Training)),
    "case": (Case, _district_row(Case)),
    "assessment": (Assessment, lambda s, u, a: _liaison_visible(s, u, a.liaison)),
    "liaison": (Liaison, _liaison_visible),
    "user": (User, lambda s, u, r: True),
    "api_client": (ApiClient, lambda s, u, r: True),
    "job": (BackgroundJob,
            lambda s, u, j: is_city(u) or j.kind.rsplit(":", 1)[-1] == str(u.id)),
    # app/services/expert_export.py owns: an export's progress and file are its owner's only
    "export_job": (BackgroundJob, lambda s, u, j: j.kind == f"export:experts:{u.id}"),
}


# --- the routes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """How the matrix requests one rule of the url_map.

    `kind`: the kind of record the URL names (None: no record); `url`: a template of the URL
    with {id} (the record), the meeting's {session_id}, {invitation_id}, {demand_id},
    {person_id} and the world's values ({dh}, the signed-in district); `ok`: the status of an
    allowed GET; `refuse(session, user, row)`: a further refusal the view makes once the record
    is visible (a status, or None), from the rule's home; `form`: the form a refused write sends,
    complete enough that only the permission can refuse it.
    """

    url: str
    kind: str | None = None
    ok: int = 200
    refuse: Callable[[Any, Any, Any], int | None] | None = None
    form: dict[str, str] = field(default_factory=dict)


def _forbid_unless(rule: Callable[[Any, Any], bool]) -> Callable[[Any, Any, Any], int | None]:
    return lambda s, user, row: None if rule(user, row) else 403


def _nothing(_r=None, _sub=None) -> None:
    return None


def fixed(path: str, **kw: Any) -> Route:
    """A route without a record in its URL."""
    return Route(url=path, **kw)


def of(kind: str, path: str, **kw: Any) -> Route:
    """A route naming a record of `kind` in its URL."""
    return Route(url=path, kind=kind, **kw)


_manage = _forbid_unless(access.can_manage_demand)
_edit_demand = _forbid_unless(
    lambda u, d: access.in_district(u, d.district_id))  # intake.edit: "只能修改本区的需求"
_act_match = _forbid_unless(access.can_act_on_match)
_edit_expert = _forbid_unless(lambda u, e: access.can_edit_expert(u, e.institution_id))


def _imports(kind: str) -> Callable[[Any, Any, Any], int | None]:
    """app/views/uploads.py ROLE_KINDS: which kinds a role imports."""
    return _forbid_unless(lambda u, _: kind in allowed_kinds(u))


def _report(session, user, liaison) -> int | None:
    """A district liaison's monthly report (app/views/visit_pages.py report): as the visits' scope,
    a liaison their own, a district its own, the city all; campus liaisons have none."""
    if liaison.kind != "district":
        return 404
    if user.role == Role.DISTRICT_LIAISON and user.liaison_id != liaison.id:
        return 404
    return None

ROUTES: dict[str, Route] = {
    "/": fixed("/"),
    "/account": fixed("/account"),
    "/account/password": fixed("/account/password"),
    "/logout": fixed("/logout"),
    # 系统管理
    "/admin/users": fixed("/admin/users"),
    "/admin/users/new": fixed("/admin/users/new"),
    "/admin/users/<int:user_id>/edit": of("user", "/admin/users/{id}/edit"),
    "/admin/users/<int:user_id>/password": of("user", "/admin/users/{id}/password"),
    "/admin/users/<int:user_id>/toggle": of("user", "/admin/users/{id}/toggle"),
    "/admin/api-clients": fixed("/admin/api-clients"),
    "/admin/api-clients/<int:client_id>/deactivate":
        of("api_client", "/admin/api-clients/{id}/deactivate"),
    "/admin/audit-log": fixed("/admin/audit-log"),
    "/admin/dictionaries": fixed("/admin/dictionaries"),
    "/admin/login-log": fixed("/admin/login-log"),
    # 需求
    "/demands/": fixed("/demands/"),
    "/demands/new": fixed("/demands/new"),
    "/demands/check": fixed("/demands/check"),
    "/demands/review": fixed("/demands/review"),
    "/demands/<int:demand_id>": of("demand", "/demands/{id}"),
    "/demands/<int:demand_id>/edit": of("demand", "/demands/{id}/edit", refuse=_edit_demand),
    "/demands/<int:demand_id>/experts": of("demand", "/demands/{id}/experts", refuse=_manage),
    "/demands/<int:demand_id>/<any(submit,publish,return,close):action>":
        of("demand", "/demands/{id}/close", refuse=_manage),
    # 专家
    "/experts": fixed("/experts"),
    "/experts/new": fixed("/experts/new"),
    "/experts/import": fixed("/experts/import"),
    "/experts/<int:expert_id>": of("expert", "/experts/{id}"),
    "/experts/<int:expert_id>/edit": of("expert", "/experts/{id}/edit", refuse=_edit_expert),
    "/experts/<int:expert_id>/reveal": of("expert", "/experts/{id}/reveal"),
    "/experts/exports/<int:job_id>": of("export_job", "/experts/exports/{id}"),
    "/experts/exports/<int:job_id>/download":
        of("export_job", "/experts/exports/{id}/download"),
    # 对接
    "/matches": fixed("/matches"),
    "/matches/campus": fixed("/matches/campus"),
    "/matches/<int:match_id>": of("match", "/matches/{id}"),
    "/matches/<int:match_id>/<action>": of("match", "/matches/{id}/close", refuse=_act_match),
    # 导入
    "/imports/<kind>": fixed("/imports/demands", refuse=_imports("demands")),
    "/imports/<kind>/template.xlsx":
        fixed("/imports/demands/template.xlsx", refuse=_imports("demands")),
    "/imports/jobs/<int:job_id>": of("job", "/imports/jobs/{id}"),
    # 对接会
    "/meetings/": fixed("/meetings/"),
    "/meetings/new": fixed("/meetings/new"),
    "/meetings/preview": fixed("/meetings/preview"),
    "/meetings/<int:meeting_id>": of("meeting", "/meetings/{id}"),
    "/meetings/<int:meeting_id>/progress": of("meeting", "/meetings/{id}/progress"),
    "/meetings/<int:meeting_id>/print": of("meeting", "/meetings/{id}/print"),
    "/meetings/<int:meeting_id>/agenda.xlsx": of("meeting", "/meetings/{id}/agenda.xlsx"),
    "/meetings/<int:meeting_id>/invitations.xlsx":
        of("meeting", "/meetings/{id}/invitations.xlsx"),
    "/meetings/<int:meeting_id>/checkin": of("meeting", "/meetings/{id}/checkin"),
    "/meetings/<int:meeting_id>/outcomes": of("meeting", "/meetings/{id}/outcomes"),
    "/meetings/<int:meeting_id>/sessions/<int:session_id>":
        of("meeting", "/meetings/{id}/sessions/{session_id}"),
    "/meetings/<int:meeting_id>/sessions/<int:session_id>.ics":
        of("meeting", "/meetings/{id}/sessions/{session_id}.ics"),
    "/meetings/<int:meeting_id>/people/<kind>/<int:person_id>.ics":
        of("meeting", "/meetings/{id}/people/expert/{person_id}.ics"),
    "/meetings/<int:meeting_id>/replan": of("meeting", "/meetings/{id}/replan"),
    "/meetings/<int:meeting_id>/confirm": of("meeting", "/meetings/{id}/confirm"),
    "/meetings/<int:meeting_id>/held": of("meeting", "/meetings/{id}/held"),
    "/meetings/<int:meeting_id>/delete": of("meeting", "/meetings/{id}/delete"),
    "/meetings/<int:meeting_id>/lock":
        of("meeting", "/meetings/{id}/lock", form={"kind": "session", "id": "1", "locked": "1"}),
    "/meetings/<int:meeting_id>/demands/<int:demand_id>/move":
        of("meeting", "/meetings/{id}/demands/{demand_id}/move"),
    "/meetings/<int:meeting_id>/invitations/<int:invitation_id>/move":
        of("meeting", "/meetings/{id}/invitations/{invitation_id}/move"),
    "/meetings/<int:meeting_id>/invitations/<int:invitation_id>/remove":
        of("meeting", "/meetings/{id}/invitations/{invitation_id}/remove"),
    "/meetings/<int:meeting_id>/sessions/<int:session_id>/experts":
        of("meeting", "/meetings/{id}/sessions/{session_id}/experts",
           form={"expert_id": "1"}),
    "/meetings/<int:meeting_id>/sessions/<int:session_id>/place":
        of("meeting", "/meetings/{id}/sessions/{session_id}/place"),
    "/meetings/<int:meeting_id>/sessions/<int:session_id>/title":
        of("meeting", "/meetings/{id}/sessions/{session_id}/title"),
    # 联络员工作
    "/programme/dashboard": fixed("/programme/dashboard"),
    "/programme/dashboard/drill": fixed("/programme/dashboard/drill?metric=rule_quota"),
    "/programme/dashboard/export/<kind>": fixed("/programme/dashboard/export/summary"),
    "/programme/quota": fixed("/programme/quota"),
    "/programme/roster": fixed("/programme/roster"),
    "/programme/roster/new": fixed("/programme/roster/new?district={dh}"),
    "/programme/roster/<int:liaison_id>/edit": of("liaison", "/programme/roster/{id}/edit"),
    "/programme/roster/<int:liaison_id>/replace":
        of("liaison", "/programme/roster/{id}/replace"),
    "/programme/replacements": fixed("/programme/replacements"),
    "/programme/replacements/<int:liaison_id>/file":
        of("liaison", "/programme/replacements/{id}/file"),
    "/programme/trainings": fixed("/programme/trainings"),
    "/programme/trainings/new": fixed("/programme/trainings/new"),
    "/programme/trainings/<int:training_id>/edit":
        of("training", "/programme/trainings/{id}/edit"),
    "/programme/cases": fixed("/programme/cases"),
    "/programme/cases/new": fixed("/programme/cases/new"),
    "/programme/cases/draft": fixed("/programme/cases/draft"),
    "/programme/cases/<int:case_id>/edit": of("case", "/programme/cases/{id}/edit"),
    "/programme/assessments": fixed("/programme/assessments"),
    "/programme/assessments/new": of("liaison", "/programme/assessments/new?liaison_id={id}"),
    "/programme/assessments/<int:assessment_id>/edit":
        of("assessment", "/programme/assessments/{id}/edit"),
    # 走访
    "/visits": fixed("/visits"),
    "/visits/new": fixed("/visits/new", refuse=_forbid_unless(lambda u,
                                                              _: visit_log.can_record(u))),
    "/visits/coverage": fixed("/visits/coverage"),
    "/visits/report": of("liaison", "/visits/report?liaison={id}", refuse=_report),
    "/visits/<int:visit_id>": of("visit", "/visits/{id}"),
    # 登记库
    "/enterprises": fixed("/enterprises"),
    "/enterprises/lookup": fixed("/enterprises/lookup?q=武汉"),
    "/enterprises/new": fixed("/enterprises/new"),
    "/enterprises/<int:enterprise_id>": of("enterprise", "/enterprises/{id}"),
    "/enterprises/<int:enterprise_id>/edit": of("enterprise", "/enterprises/{id}/edit"),
    "/parks": fixed("/parks"),
    "/parks/new": fixed("/parks/new"),
    "/parks/<int:park_id>": of("park", "/parks/{id}"),
    "/parks/<int:park_id>/edit": of("park", "/parks/{id}/edit"),
    "/investors": fixed("/investors"),
    "/investors/new": fixed("/investors/new"),
    "/investors/<int:investor_id>": of("investor", "/investors/{id}"),
    "/investors/<int:investor_id>/edit": of("investor", "/investors/{id}/edit"),
    "/institutions": fixed("/institutions"),
    "/institutions/new": fixed("/institutions/new"),
    "/institutions/<int:institution_id>": of("institution", "/institutions/{id}"),
    "/institutions/<int:institution_id>/edit": of("institution", "/institutions/{id}/edit"),
    # API
    "/api/v1/demands": fixed("/api/v1/demands"),
    "/api/v1/demands/<int:demand_id>": of("demand", "/api/v1/demands/{id}"),
    "/api/v1/demands/<int:demand_id>/<any(submit,publish,return,close):action>":
        of("demand", "/api/v1/demands/{id}/close", refuse=_manage),
    "/api/v1/demands/<int:demand_id>/matches": of("demand", "/api/v1/demands/{id}/matches"),
    "/api/v1/experts": fixed("/api/v1/experts"),
    "/api/v1/experts/<int:expert_id>": of("expert", "/api/v1/experts/{id}"),
    "/api/v1/match": fixed("/api/v1/match"),
    "/api/v1/matches": fixed("/api/v1/matches"),
    "/api/v1/matches/<int:match_id>": of("match", "/api/v1/matches/{id}"),
    "/api/v1/matches/<int:match_id>/<any(accept,decline,introduce,negotiate,negotiating,sign,"
    "close):action>": of("match", "/api/v1/matches/{id}/close", refuse=_act_match),
}

#: The API contract: the token scope each API request needs (None: signed-in users only, a
#: token is refused with 403). app/views/api/__init__.py: "API clients read published demands
#: only, push experts and rank".
TOKEN_SCOPE: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v1/demands"): "read",
    ("POST", "/api/v1/demands"): None,
    ("GET", "/api/v1/demands/<int:demand_id>"): "read",
    ("PATCH", "/api/v1/demands/<int:demand_id>"): None,
    ("POST", "/api/v1/demands/<int:demand_id>/<any(submit,publish,return,close):action>"): None,
    ("GET", "/api/v1/demands/<int:demand_id>/matches"): "rank",
    ("POST", "/api/v1/demands/<int:demand_id>/matches"): None,
    ("GET", "/api/v1/experts"): "read",
    ("PUT", "/api/v1/experts"): "push_experts",
    ("GET", "/api/v1/experts/<int:expert_id>"): "read",
    ("POST", "/api/v1/match"): "rank",
    ("GET", "/api/v1/matches"): "read",
    ("GET", "/api/v1/matches/<int:match_id>"): None,
    ("POST", "/api/v1/matches/<int:match_id>/<any(accept,decline,introduce,negotiate,"
             "negotiating,sign,close):action>"): None,
}
#: What a token may see of a record it is allowed to ask for (the public platform only).
TOKEN_VISIBLE = {"demand": access.is_public, "expert": lambda e: True}

#: Bodies for the API's refused writes, valid enough to reach the permission check.
API_BODIES = {
    ("POST", "/api/v1/demands"): {"title": "矩阵需求", "enterprise_name": "武汉矩阵科技有限公司"},
    ("PATCH", "/api/v1/demands/<int:demand_id>"): {"title": "改名"},
    ("POST", "/api/v1/demands/<int:demand_id>/matches"): {"expert_ids": [1]},
    ("PUT", "/api/v1/experts"): {"experts": [{"name": "推送专家", "institution": "华中科技大学"}]},
    ("POST", "/api/v1/match"): {"text": "激光熔覆"},
}
