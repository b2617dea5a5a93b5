"""Matchmaking meetings (需求对接会): the glue between the database and the pure planner.

The planner (:mod:`matching.meetings`) works on plain records; this module loads the published
demands an organiser picks, scores every expert against them with the app's ranker (a sparse
top-K-per-demand matrix), calls the planner's steps and writes the result. Services never
commit: a view commits once, and the planner's :class:`PlanningError` is raised before a single
row is written, so a refused plan leaves the database as it was.

Keys: a saved session is known to the planner as ``K<id>``; new sessions get the planner's own
keys (``S01`` ...) and become rows. Locks map onto the planner's :class:`PlanLocks`: a locked
session keeps its demands, experts, other invitees and timetable; a locked placement pins a
demand to its session; a locked expert seat keeps an expert in a session.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching import text as mtext
from matching.meeting_records import (
    ExpertAssignment,
    ExpertSeat,
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    PlanLocks,
    PlanningError,
    SessionLimits,
    SessionPlan,
)
from matching.meeting_records import Session as PlanSession
from matching.meetings import (
    assign_experts,
    invite_others,
    plan_sessions,
    propose_pairs,
    schedule_meetings,
    session_affinity,
)
from matching.ranker import EmptyQueryError
from models import (
    Demand,
    DemandEvent,
    District,
    Enterprise,
    Expert,
    Industry,
    Institution,
    Investor,
    Invitation,
    Match,
    MatchEvent,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    SessionDemand,
    TechField,
    utcnow,
)

from .. import clock
from ..clock import CST
from ..errors import Conflict, DomainError, Forbidden, NotFound
from ..policy.statuses import MEETING_STATUS_LABELS
from ..security import PUBLIC_STATUSES

ORGANISER_ROLES = ("district_admin", "city_admin")
#: Experts kept per demand in the sparse affinity matrix (the planner's author recommends a few
#: hundred: the rest count as 0, the mean of the ranker's z-scored scores).
TOP_K = 200
#: Candidates offered per session for 添加专家.
N_CANDIDATES = 12
KIND_LABELS = {"expert": "专家", "enterprise": "相关企业", "investor": "创投机构",
               "institution": "高校院所"}
OUTCOME_LABELS = {"interested": "有意向", "not_interested": "无意向"}
EDITABLE = ("draft", "planned")

# Which form field a planner error belongs to (PlanningError.code -> field).
ERROR_FIELDS = {
    "no_demands": "demands", "one_demand": "demands", "duplicate": "demands",
    "empty_text": "demands", "limits": "min_demands", "too_many_sessions": "n_sessions",
    "too_few_sessions": "n_sessions", "no_experts": "seats", "seats": "seats",
    "slots": "tables", "locks": "_form", "affinity": "_form", "input": "_form",
}


# --- input --------------------------------------------------------------------------------------
@dataclass
class PlanInput:
    """What the organiser asks for on the plan form."""

    title: str
    held_on: date | None = None
    venue: str = ""
    district_id: int | None = None
    period_from: date | None = None
    period_to: date | None = None
    industry_ids: tuple[int, ...] = ()
    field_ids: tuple[int, ...] = ()
    min_demands: int = 3
    max_demands: int = 8
    n_sessions: int | None = None
    seats: int = 3
    max_sessions_per_expert: int = 1
    slot_minutes: int = 20
    tables: int = 4
    start_time: time = time(9, 0)
    intro_minutes: int = 30
    parallel: bool = True
    pairs_per_demand: int = 2
    demand_ids: tuple[int, ...] | None = None  # an explicit pick overrides the filters

    def params(self) -> dict[str, Any]:
        """Return the JSON-able parameters stored with the meeting."""
        return {
            "period_from": self.period_from.isoformat() if self.period_from else None,
            "period_to": self.period_to.isoformat() if self.period_to else None,
            "industry_ids": list(self.industry_ids), "field_ids": list(self.field_ids),
            "min_demands": self.min_demands, "max_demands": self.max_demands,
            "n_sessions": self.n_sessions, "seats": self.seats,
            "max_sessions_per_expert": self.max_sessions_per_expert,
            "slot_minutes": self.slot_minutes, "tables": self.tables,
            "start_time": self.start_time.strftime("%H:%M"), "intro_minutes": self.intro_minutes,
            "parallel": self.parallel, "pairs_per_demand": self.pairs_per_demand,
        }


def _int_field(data: Mapping[str, Any], name: str, label: str, default: int | None, *,
               lo: int, hi: int, optional: bool = False) -> int | None:
    raw = data.get(name)
    raw = raw.strip() if isinstance(raw, str) else raw
    if raw in (None, ""):
        if optional:
            return None
        if default is None:
            raise DomainError(f"请填写{label}。", field=name)
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise DomainError(f"{label}应为整数。", field=name) from None
    if not lo <= value <= hi:
        raise DomainError(f"{label}应在 {lo}–{hi} 之间。", field=name)
    return value


def _date_field(data: Mapping[str, Any], name: str, label: str) -> date | None:
    raw = (data.get(name) or "").strip() if isinstance(data.get(name), str) else data.get(name)
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise DomainError(f"{label}格式应为 YYYY-MM-DD。", field=name) from None


def _ids(values: Any) -> tuple[int, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [v for v in values.replace("，", ",").split(",")]
    out = []
    for v in values:
        v = str(v).strip()
        if v.isdigit():
            out.append(int(v))
    return tuple(dict.fromkeys(out))


def parse_plan_form(data: Mapping[str, Any], user: Any,
                    multi: Mapping[str, Sequence[Any]] | None = None) -> PlanInput:
    """Validate the plan form; raise DomainError naming the field (message in Chinese).

    ``multi`` gives the multi-valued fields (industry_ids, field_ids, demand_ids) when ``data``
    is a flat dict.
    """
    multi = multi or {}
    title = (data.get("title") or "").strip()
    if not title:
        raise DomainError("请填写对接会名称。", field="title")
    if len(title) > 200:
        raise DomainError("对接会名称不能超过 200 字。", field="title")
    venue = (data.get("venue") or "").strip()
    if len(venue) > 200:
        raise DomainError("会议地点不能超过 200 字。", field="venue")
    held_on = _date_field(data, "held_on", "会议日期")
    district_id = _int_field(data, "district_id", "所属区", None, lo=1, hi=10**9, optional=True)
    if getattr(user, "role", None) == "district_admin":
        if district_id not in (None, user.district_id):
            raise Forbidden("区局管理员只能组织本区的对接会。")
        district_id = user.district_id
    period_from = _date_field(data, "period_from", "发布起始日期")
    period_to = _date_field(data, "period_to", "发布截止日期")
    if period_from and period_to and period_from > period_to:
        raise DomainError("发布起始日期晚于截止日期：请调整时间范围。", field="period_to")
    lo = _int_field(data, "min_demands", "每场最少需求数", 3, lo=1, hi=100)
    hi = _int_field(data, "max_demands", "每场最多需求数", 8, lo=1, hi=100)
    assert lo is not None and hi is not None
    if lo > hi:
        raise DomainError(f"每场最少需求数（{lo}）大于最多需求数（{hi}）：请把最多需求数调到至少 "
                          f"{lo}，或把最少需求数调到至多 {hi}。", field="max_demands")
    n_sessions = _int_field(data, "n_sessions", "场次数", None, lo=1, hi=200, optional=True)
    seats = _int_field(data, "seats", "每场专家席位", 3, lo=1, hi=50)
    per_expert = _int_field(data, "max_sessions_per_expert", "每位专家场次上限", 1, lo=1, hi=20)
    slot_minutes = _int_field(data, "slot_minutes", "一对一洽谈时长（分钟）", 20, lo=5, hi=240)
    tables = _int_field(data, "tables", "洽谈桌数", 4, lo=1, hi=100)
    intro = _int_field(data, "intro_minutes", "需求发布环节（分钟）", 30, lo=0, hi=480)
    pairs = _int_field(data, "pairs_per_demand", "每项需求洽谈专家数", 2, lo=1, hi=10)
    raw_time = (data.get("start_time") or "09:00").strip()
    try:
        start = time.fromisoformat(raw_time)
    except ValueError:
        raise DomainError("开始时间格式应为 HH:MM。", field="start_time") from None
    parallel = (data.get("arrangement") or "parallel") != "sequential"
    assert per_expert is not None
    if parallel and per_expert > 1:
        raise DomainError("各分场同时进行时，每位专家只能参加 1 场：请把每位专家场次上限改为 1，"
                          "或把场次安排改为“依次进行”。", field="max_sessions_per_expert")
    return PlanInput(
        title=title, held_on=held_on, venue=venue, district_id=district_id,
        period_from=period_from, period_to=period_to,
        industry_ids=_ids(multi.get("industry_ids", data.get("industry_ids"))),
        field_ids=_ids(multi.get("field_ids", data.get("field_ids"))),
        min_demands=lo, max_demands=hi, n_sessions=n_sessions, seats=seats or 3,
        max_sessions_per_expert=per_expert, slot_minutes=slot_minutes or 20,
        tables=tables or 4, start_time=start, intro_minutes=intro if intro is not None else 30,
        parallel=parallel, pairs_per_demand=pairs or 2,
        demand_ids=_ids(multi["demand_ids"]) if multi.get("demand_ids") else None,
    )


# --- scope --------------------------------------------------------------------------------------
def _check_organiser(user: Any) -> None:
    if getattr(user, "role", None) not in ORGANISER_ROLES:
        raise Forbidden("只有区局管理员和市科技局管理员可以组织对接会。")


def meeting_filter(user: Any):
    """Return the WHERE clause of the meetings `user` may see."""
    if getattr(user, "role", None) == "city_admin":
        return MatchmakingMeeting.id.is_not(None)
    if getattr(user, "role", None) == "district_admin" and user.district_id is not None:
        return MatchmakingMeeting.district_id == user.district_id
    return MatchmakingMeeting.id.is_(None)


def get_meeting(session: Session, user: Any, meeting_id: int) -> MatchmakingMeeting:
    """Return a meeting the user organises, else raise NotFound / Forbidden."""
    _check_organiser(user)
    meeting = session.get(MatchmakingMeeting, meeting_id)
    if meeting is None:
        raise NotFound("对接会不存在。")
    if user.role != "city_admin" and meeting.district_id != user.district_id:
        raise NotFound("对接会不存在，或您无权查看。")
    return meeting


def _editable(meeting: MatchmakingMeeting) -> None:
    if meeting.status not in EDITABLE:
        label = MEETING_STATUS_LABELS.get(meeting.status, meeting.status)
        raise Conflict(f"对接会当前状态为「{label}」，不能再调整方案。", field="status")


# --- demands --------------------------------------------------------------------------------------
def find_demands(session: Session, user: Any, inp: PlanInput) -> list[Demand]:
    """Return the published demands of the district, period, industries and fields, by id."""
    _check_organiser(user)
    stmt = select(Demand).where(Demand.publishable.is_(True),
                                Demand.status.in_(PUBLIC_STATUSES))
    district_id = inp.district_id
    if getattr(user, "role", None) == "district_admin":
        district_id = user.district_id
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    if inp.demand_ids is not None:
        stmt = stmt.where(Demand.id.in_(inp.demand_ids))
    else:
        if inp.period_from:
            stmt = stmt.where(Demand.published_at >= clock.day_start(inp.period_from))
        if inp.period_to:
            stmt = stmt.where(Demand.published_at
                              < clock.day_start(inp.period_to + timedelta(days=1)))
        if inp.industry_ids:
            stmt = stmt.where(Demand.industry_id.in_(inp.industry_ids))
        if inp.field_ids:
            stmt = stmt.where(Demand.tech_field_id.in_(inp.field_ids))
    return list(session.scalars(stmt.order_by(Demand.id)))


def _record(d: Demand) -> MeetingDemand:
    return MeetingDemand(id=d.id, text=d.text, tokens=tuple(mtext.split_tokens(d.tokens)),
                         industry=d.industry_id, field=d.tech_field_id,
                         planned_investment=d.investment, enterprise_id=d.enterprise_id)


# --- affinity -------------------------------------------------------------------------------------
@dataclass
class Affinity:
    """Experts x demands scores: a sparse top-K-per-demand matrix and its row/column ids."""

    matrix: sp.csc_matrix
    expert_ids: list[int]
    demand_ids: list[int]

    def sub(self, expert_ids: Sequence[int], demand_ids: Sequence[int]) -> np.ndarray:
        """Return the dense block of the given experts and demands (missing = 0)."""
        e_index = {e: i for i, e in enumerate(self.expert_ids)}
        d_index = {d: j for j, d in enumerate(self.demand_ids)}
        rows = [e_index[e] for e in expert_ids if e in e_index]
        cols = [d_index[d] for d in demand_ids if d in d_index]
        out = np.zeros((len(expert_ids), len(demand_ids)))
        if rows and cols:
            block = self.matrix[rows][:, cols].toarray()
            r_pos = [i for i, e in enumerate(expert_ids) if e in e_index]
            c_pos = [j for j, d in enumerate(demand_ids) if d in d_index]
            out[np.ix_(r_pos, c_pos)] = block
        return out


def compute_affinity(session: Session, demands: Sequence[Demand], *, top_k: int = TOP_K,
                     snapshot: Any = None) -> Affinity:
    """Score every indexed expert for each demand with the ranker; keep each demand's top K.

    Experts deleted since the index was built are left out. A demand with no usable words
    gets an empty column (every expert counts as average).
    """
    if snapshot is None:
        from .search import expert_snapshot

        snapshot = expert_snapshot(session)
    all_ids = [int(i) for i in snapshot.expert_ids]
    existing = set(session.scalars(select(Expert.id)))
    keep = np.array([i in existing for i in all_ids], dtype=bool)
    expert_ids = [i for i, k in zip(all_ids, keep, strict=True) if k]
    rows_of = np.flatnonzero(keep)
    data, rows, cols = [], [], []
    n = len(expert_ids)
    for j, d in enumerate(demands):
        tokens = mtext.split_tokens(d.tokens) or mtext.analyze(d.text)
        if not tokens or n == 0:
            continue
        try:
            scores = np.asarray(snapshot.ranker.scores(tokens), dtype=float)[rows_of]
        except EmptyQueryError:
            continue
        scores = np.where(np.isnan(scores), -np.inf, scores)
        k = min(top_k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        data.extend(scores[top].tolist())
        rows.extend(top.tolist())
        cols.extend([j] * len(top))
    matrix = sp.csc_matrix((np.asarray(data, dtype=float), (rows, cols)),
                           shape=(n, len(demands)))
    return Affinity(matrix, expert_ids, [d.id for d in demands])


# --- saved state -> planner records ---------------------------------------------------------------
def key_of(ms: MeetingSession) -> str:
    """Return the planner key of a saved session."""
    return f"K{ms.id}"


def _plan_session(ms: MeetingSession) -> PlanSession:
    ids = tuple(sd.demand_id for sd in ms.demands)
    return PlanSession(key=key_of(ms), demand_ids=ids, theme_words=tuple(ms.theme_words or ()),
                       industry=ms.industry_id,
                       industries=(ms.industry_id,) if ms.industry_id else (), locked=ms.locked)


def _experts_of(ms: MeetingSession) -> list[Invitation]:
    return [i for i in ms.invitations if i.kind == "expert"]


@dataclass
class _Context:
    """Everything a plan or a refresh needs, loaded once."""

    meeting: MatchmakingMeeting
    demands: list[Demand]
    records: list[MeetingDemand]
    affinity: Affinity
    params: dict[str, Any]
    enterprises: list[MeetingEnterprise] = field(default_factory=list)
    investors: list[MeetingInvestor] = field(default_factory=list)
    expert_institutions: dict[int, int] = field(default_factory=dict)

    @property
    def owners(self) -> dict[int, int | None]:
        """Return demand id -> owning enterprise id."""
        return {d.id: d.enterprise_id for d in self.demands}


def _load_others(session: Session, ctx: _Context) -> None:
    stmt = select(Enterprise.id, Enterprise.name, Enterprise.industry_id)
    if ctx.meeting.district_id is not None:
        stmt = stmt.where(Enterprise.district_id == ctx.meeting.district_id)
    ctx.enterprises = [MeetingEnterprise(id=r.id, name=r.name, industry=r.industry_id, text=r.name)
                       for r in session.execute(stmt.order_by(Enterprise.id))]
    ctx.investors = [
        MeetingInvestor(id=i.id, name=i.name, industries=tuple(x.id for x in i.industries),
                        stages=tuple(i.stages or ()), ticket_min=i.ticket_min,
                        ticket_max=i.ticket_max)
        for i in session.scalars(select(Investor).order_by(Investor.id))
    ]
    ctx.expert_institutions = dict(session.execute(select(Expert.id, Expert.institution_id)).all())


def _context(session: Session, meeting: MatchmakingMeeting, demands: list[Demand],
             params: dict[str, Any]) -> _Context:
    ctx = _Context(meeting=meeting, demands=demands, records=[_record(d) for d in demands],
                   affinity=compute_affinity(session, demands), params=params)
    _load_others(session, ctx)
    return ctx


# --- writing ------------------------------------------------------------------------------
def _session_title(session: Session, plan_s: PlanSession, seq: int) -> str:
    name = None
    if plan_s.industry is not None:
        ind = session.get(Industry, plan_s.industry)
        name = ind.name if ind else None
    words = "、".join(plan_s.theme_words[:2])
    if name and words:
        return f"{name}专场：{words}"[:200]
    if name:
        return f"{name}专场"[:200]
    return f"第{seq}分场：{words}"[:200] if words else f"第{seq}分场"


def _set_times(meeting: MatchmakingMeeting, params: Mapping[str, Any]) -> None:
    """Give each session its start and end: parallel rooms, or one after another."""
    start_t = time.fromisoformat(params.get("start_time") or "09:00")
    slot = int(params.get("slot_minutes") or 20)
    intro = int(params.get("intro_minutes") or 0)
    start = None
    if meeting.held_on is not None:
        start = clock.at_local(meeting.held_on, start_t)
    for ms in meeting.sessions:
        if start is None:
            ms.starts_at = ms.ends_at = None
            continue
        n_slots = max((s.slot for s in ms.slots), default=-1) + 1
        ms.starts_at = start
        ms.ends_at = start + timedelta(minutes=intro + n_slots * slot)
        if not params.get("parallel", True):
            start = ms.ends_at + timedelta(minutes=10)


def _timetable(ctx: _Context, plan_s: PlanSession, expert_ids: list[int]):
    """Propose each demand's best invited experts and schedule the pairs."""
    if not expert_ids or not plan_s.demand_ids:
        return None
    assignment = ExpertAssignment(
        seats=tuple(ExpertSeat(plan_s.key, e, 0.0) for e in expert_ids), total_affinity=0.0)
    block = ctx.affinity.sub(expert_ids, list(plan_s.demand_ids))
    # Experts without text (-inf) never get a 1:1 meeting.
    block = np.where(np.isfinite(block), block, -1e9)
    pairs = propose_pairs(plan_s, assignment, block, expert_ids, list(plan_s.demand_ids),
                          per_demand=int(ctx.params.get("pairs_per_demand") or 2),
                          min_affinity=-1e8)
    return schedule_meetings(pairs, ctx.records, session_key=plan_s.key,
                             n_tables=int(ctx.params.get("tables") or 4))


def _write_others(ms: MeetingSession, invitees: Any, owners: Mapping[int, Any]) -> None:
    keep_locked = {(i.kind, i.enterprise_id, i.investor_id, i.institution_id)
                   for i in ms.invitations if i.kind != "expert" and i.locked}
    for inv in [i for i in ms.invitations if i.kind != "expert" and not i.locked]:
        ms.invitations.remove(inv)
    for eid in invitees.enterprise_ids:
        if ("enterprise", eid, None, None) not in keep_locked:
            ms.invitations.append(Invitation(kind="enterprise", enterprise_id=eid))
    for iid in invitees.investor_ids:
        if ("investor", None, iid, None) not in keep_locked:
            ms.invitations.append(Invitation(kind="investor", investor_id=iid))
    for inst in invitees.institution_ids:
        if ("institution", None, None, inst) not in keep_locked:
            ms.invitations.append(Invitation(kind="institution", institution_id=inst))
    # The demand owners come too: invited (and checked in) as enterprises of the session.
    related = set(invitees.enterprise_ids)
    for ent_id in dict.fromkeys(owners.get(sd.demand_id) for sd in ms.demands):
        if ent_id is not None and ent_id not in related and (
                ("enterprise", ent_id, None, None) not in keep_locked):
            ms.invitations.append(Invitation(kind="enterprise", enterprise_id=ent_id))


def owner_ids(ms: MeetingSession) -> set[int]:
    """Return the enterprises that own a demand of the session."""
    return {sd.demand.enterprise_id for sd in ms.demands if sd.demand is not None}


def _write_slots(ms: MeetingSession, table: Any) -> None:
    ms.slots.clear()
    if table is None:
        return
    for m in sorted(table.meetings, key=lambda m: (m.slot, m.table)):
        ms.slots.append(MeetingSlot(demand_id=m.demand_id, expert_id=m.expert_id, slot=m.slot,
                                    table_no=m.table))


def _refresh(session: Session, ctx: _Context, sessions: Iterable[MeetingSession]) -> None:
    """Recompute the other invitees and the 1:1 timetable of edited sessions."""
    sessions = [ms for ms in sessions if ms is not None]
    if not sessions:
        return
    session.flush()
    plan = SessionPlan(sessions=tuple(_plan_session(ms) for ms in sessions))
    seats = tuple(ExpertSeat(key_of(ms), i.expert_id, i.affinity or 0.0)
                  for ms in sessions for i in _experts_of(ms))
    invitees = invite_others(plan, ctx.records, assignment=ExpertAssignment(seats, 0.0),
                             expert_institutions=ctx.expert_institutions,
                             enterprises=ctx.enterprises, investors=ctx.investors)
    for ms, plan_s, inv in zip(sessions, plan.sessions, invitees, strict=True):
        _write_others(ms, inv, ctx.owners)
        _write_slots(ms, _timetable(ctx, plan_s, [i.expert_id for i in _experts_of(ms)]))
    _set_times(ctx.meeting, ctx.params)
    session.flush()


def _candidates(ctx: _Context, plan: SessionPlan, assignment: ExpertAssignment,
                rows: Mapping[str, MeetingSession]) -> dict[str, list[list[float]]]:
    """Return, per session id, the best experts not invited (for 添加专家)."""
    aff = ctx.affinity
    if not aff.expert_ids:
        return {}
    scores = session_affinity(plan, aff.matrix, aff.demand_ids)
    out: dict[str, list[list[float]]] = {}
    for s, ps in enumerate(plan.sessions):
        invited = set(assignment.experts_of(ps.key))
        col = scores[:, s]
        n = min(len(col), N_CANDIDATES + len(invited))
        top = np.argpartition(-col, n - 1)[:n] if n < len(col) else np.arange(len(col))
        top = sorted(top, key=lambda i: -col[i])
        picked = [[aff.expert_ids[i], round(float(col[i]), 4)] for i in top
                  if aff.expert_ids[i] not in invited and np.isfinite(col[i])]
        out[str(rows[ps.key].id)] = picked[:N_CANDIDATES]
    return out


def _apply_plan(session: Session, ctx: _Context, plan: SessionPlan,
                assignment: ExpertAssignment) -> None:
    """Write a computed plan onto the meeting, keeping locked sessions, placements and seats."""
    meeting = ctx.meeting
    existing = {key_of(ms): ms for ms in meeting.sessions}
    plan_keys = {ps.key for ps in plan.sessions}
    for key, ms in existing.items():
        if key not in plan_keys:
            meeting.sessions.remove(ms)
    rows: dict[str, MeetingSession] = {}
    # Sessions that survive keep their place; new ones follow in the planner's order.
    order = sorted(range(len(plan.sessions)), key=lambda i: (
        existing[plan.sessions[i].key].seq if plan.sessions[i].key in existing else 10**6, i))
    plan = SessionPlan(sessions=tuple(plan.sessions[i] for i in order),
                       inferred_industries=plan.inferred_industries)
    for seq, ps in enumerate(plan.sessions, 1):
        ms = existing.get(ps.key)
        if ms is None:
            ms = MeetingSession(seq=seq, locked=False)
            meeting.sessions.append(ms)
        rows[ps.key] = ms
        ms.seq = seq
        if ms.locked:
            continue
        ms.theme_words = list(ps.theme_words)
        ms.industry_id = ps.industry
        ms.title = _session_title(session, ps, seq)
    session.flush()
    # Demands: a locked session keeps its rows; elsewhere pinned rows stay, the rest is rewritten.
    for ps in plan.sessions:
        ms = rows[ps.key]
        if ms.locked:
            continue
        have = {sd.demand_id: sd for sd in ms.demands}
        for sd in list(ms.demands):
            if sd.demand_id not in ps.demand_ids:
                ms.demands.remove(sd)
        for did in ps.demand_ids:
            if did not in have:
                ms.demands.append(SessionDemand(demand_id=did, locked=False))
    session.flush()
    # Experts
    for ps in plan.sessions:
        ms = rows[ps.key]
        if ms.locked:
            continue
        seats = {s.expert_id: s for s in assignment.seats if s.session_key == ps.key}
        for inv in _experts_of(ms):
            if inv.expert_id not in seats:
                ms.invitations.remove(inv)
        have = {i.expert_id: i for i in _experts_of(ms)}
        for eid, seat in seats.items():
            if eid in have:
                have[eid].affinity = round(seat.affinity, 4)
            else:
                ms.invitations.append(Invitation(kind="expert", expert_id=eid,
                                                 affinity=round(seat.affinity, 4),
                                                 locked=False))
    session.flush()
    # Other invitees and the 1:1 timetables of every session that is not locked.
    open_plan = SessionPlan(sessions=tuple(ps for ps in plan.sessions if not rows[ps.key].locked))
    invitees = invite_others(open_plan, ctx.records, assignment=assignment,
                             expert_institutions=ctx.expert_institutions,
                             enterprises=ctx.enterprises, investors=ctx.investors)
    tables = {}
    for ps, inv in zip(open_plan.sessions, invitees, strict=True):
        tables[ps.key] = _timetable(ctx, ps, list(assignment.experts_of(ps.key)))
        _write_others(rows[ps.key], inv, ctx.owners)
    for ps in open_plan.sessions:
        _write_slots(rows[ps.key], tables[ps.key])
    params = dict(ctx.params)
    params["candidates"] = _candidates(ctx, plan, assignment, rows)
    params["inferred"] = {str(d): i for d, i in plan.inferred_industries}
    # Keep only conflicts of sessions that still exist.
    live = {str(ms.id) for ms in rows.values()}
    params["removed"] = [p for p in params.get("removed", []) if str(p[1]) in live]
    ctx.params = params
    meeting.params = params
    _set_times(meeting, params)
    session.flush()


def _solve(ctx: _Context, locks: PlanLocks, conflicts: Sequence[tuple[int, str]],
           seats_by_key: Mapping[str, int] | None = None) -> tuple[SessionPlan, ExpertAssignment]:
    p = ctx.params
    limits = SessionLimits(min_demands=int(p["min_demands"]), max_demands=int(p["max_demands"]),
                           n_sessions=p.get("n_sessions"))
    plan = plan_sessions(ctx.records, limits, locks=locks, analyzer=mtext.analyze)
    seats: int | dict[str, int] = int(p["seats"])
    if seats_by_key:
        seats = {ps.key: max(int(p["seats"]), seats_by_key.get(ps.key, 0))
                 for ps in plan.sessions}
    keys = {ps.key for ps in plan.sessions}
    assignment = assign_experts(
        plan, ctx.affinity.matrix, ctx.affinity.expert_ids, ctx.affinity.demand_ids,
        seats=seats, max_sessions_per_expert=int(p["max_sessions_per_expert"]),
        conflicts=[(e, k) for e, k in conflicts if k in keys and e in set(ctx.affinity.expert_ids)],
        locks=PlanLocks(expert_seats=tuple((e, k) for e, k in locks.expert_seats if k in keys)),
    )
    return plan, assignment


def _planning_error(exc: PlanningError,
                    meeting: MatchmakingMeeting | None = None) -> DomainError:
    field = ERROR_FIELDS.get(exc.code, "_form")
    message = exc.message
    if meeting is not None:  # the planner names saved sessions by key: say 第N场 instead
        for ms in meeting.sessions:
            message = re.sub(rf"(?<![A-Za-z0-9]){key_of(ms)}(?![0-9])", f"第{ms.seq}场", message)
        exc = PlanningError(message, exc.code)
    if exc.code == "limits" and "请把场次数" in exc.message:
        field = "n_sessions"  # "10 项需求分成 2 场无法满足…：请把场次数调到 4–5 之间"
    elif exc.code == "limits" and "专家" in exc.message:
        field = "max_sessions_per_expert"
    return DomainError(exc.message, field=field)


# --- use cases ----------------------------------------------------------------------------------
def plan_meeting(session: Session, user: Any, inp: PlanInput) -> MatchmakingMeeting:
    """Create a meeting and its proposed plan; raise DomainError (nothing written) if refused."""
    _check_organiser(user)
    if inp.district_id is not None and session.get(District, inp.district_id) is None:
        raise DomainError("所属区不存在。", field="district_id")
    for ind in inp.industry_ids:
        if session.get(Industry, ind) is None:
            raise DomainError("所选行业不存在。", field="industry_ids")
    for f in inp.field_ids:
        if session.get(TechField, f) is None:
            raise DomainError("所选技术领域不存在。", field="field_ids")
    demands = find_demands(session, user, inp)
    if not demands:
        raise DomainError("没有找到符合条件的已发布需求：请放宽区、发布时间、行业或技术领域的"
                          "筛选条件。", field="demands")
    if inp.n_sessions is not None and inp.n_sessions > len(demands):
        raise DomainError(f"场次数（{inp.n_sessions}）多于符合条件的需求数（{len(demands)}）：请把"
                          f"场次数减到至多 {len(demands)}，或留空由系统自动确定。",
                          field="n_sessions")
    meeting = MatchmakingMeeting(title=inp.title, district_id=inp.district_id,
                                 held_on=inp.held_on, venue=inp.venue or None, status="draft",
                                 created_by_id=getattr(user, "id", None))
    params = inp.params() | {"demand_ids": [d.id for d in demands], "removed": []}
    ctx = _context(session, meeting, demands, params)
    try:
        plan, assignment = _solve(ctx, PlanLocks(), ())
    except PlanningError as exc:
        raise _planning_error(exc) from None
    # Only now, with a complete plan in hand, do rows get written.
    session.add(meeting)
    _apply_plan(session, ctx, plan, assignment)
    meeting.status = "planned"
    session.flush()
    return meeting


def _meeting_demands(session: Session, meeting: MatchmakingMeeting) -> list[Demand]:
    ids = list(meeting.params.get("demand_ids") or [])
    placed = [sd.demand_id for ms in meeting.sessions for sd in ms.demands]
    ids = list(dict.fromkeys(ids + placed))
    if not ids:
        return []
    return list(session.scalars(select(Demand).where(Demand.id.in_(ids)).order_by(Demand.id)))


def context_for(session: Session, meeting: MatchmakingMeeting) -> _Context:
    """Load the planning context of a saved meeting (demands, affinity, other invitees)."""
    return _context(session, meeting, _meeting_demands(session, meeting), dict(meeting.params))


def replan(session: Session, user: Any, meeting: MatchmakingMeeting) -> list[str]:
    """Re-plan everything that is not locked; return notes for the organiser.

    Locked sessions stay whole (demands, experts, other invitees, timetable); locked
    placements keep their demand in their session; locked expert seats stay when their
    session survives (a seat in a session that has neither a session lock nor a pinned demand
    cannot, and is reported).
    """
    _check_organiser(user)
    _editable(meeting)
    ctx = context_for(session, meeting)
    notes: list[str] = []
    locked_sessions = [ms for ms in meeting.sessions if ms.locked]
    pinned = [(sd.demand_id, key_of(ms)) for ms in meeting.sessions if not ms.locked
              for sd in ms.demands if sd.locked]
    surviving = {key_of(ms) for ms in locked_sessions} | {k for _, k in pinned}
    seat_locks = []
    seats_by_key: dict[str, int] = {}
    for ms in meeting.sessions:
        for inv in _experts_of(ms):
            if ms.locked or inv.locked:
                if key_of(ms) in surviving:
                    seat_locks.append((inv.expert_id, key_of(ms)))
                    seats_by_key[key_of(ms)] = seats_by_key.get(key_of(ms), 0) + 1
                else:
                    notes.append(f"专家{inv.expert.name}锁定在「{ms.title}」，但该分场既未锁定也没有"
                                 "锁定的需求，重新分场后无法保留，已解除该锁定。")
    locks = PlanLocks(sessions=tuple(_plan_session(ms) for ms in locked_sessions),
                      placements=tuple(pinned), expert_seats=tuple(seat_locks))
    conflicts = [(int(e), f"K{s}") for e, s in ctx.params.get("removed", [])]
    try:
        plan, assignment = _solve(ctx, locks, conflicts, seats_by_key)
    except PlanningError as exc:
        raise _planning_error(exc, meeting) from None
    # Seats inside a locked session are kept by the solver (as locks) and by _apply_plan.
    _apply_plan(session, ctx, plan, assignment)
    meeting.status = "planned"
    session.flush()
    return notes


def _session_of(meeting: MatchmakingMeeting, session_id: int) -> MeetingSession:
    for ms in meeting.sessions:
        if ms.id == session_id:
            return ms
    raise NotFound("分场不存在。")


def _pin(ms: MeetingSession) -> None:
    """Lock the placements of a session edited by hand, so that a re-plan keeps its demands.

    Without this, a re-plan would rebuild the session around the one moved demand (the
    planner seeds a session with its pinned demands and regroups the rest by topic), which
    would look as if the organiser's edit had been undone.
    """
    for sd in ms.demands:
        sd.locked = True


def _unlocked(ms: MeetingSession) -> None:
    if ms.locked:
        raise Conflict(f"分场「{ms.title}」已锁定：请先解锁再调整。", field="session")


def move_demand(session: Session, user: Any, meeting: MatchmakingMeeting, demand_id: int,
                to_session_id: int) -> SessionDemand:
    """Move a demand to another session; the placement is locked so that a re-plan keeps it."""
    _check_organiser(user)
    _editable(meeting)
    target = _session_of(meeting, to_session_id)
    row = next((sd for ms in meeting.sessions for sd in ms.demands if sd.demand_id == demand_id),
               None)
    if row is None:
        raise NotFound("该需求不在本次对接会中。")
    source = row.session
    if source.id == target.id:
        raise DomainError("需求已在该分场中。", field="to_session_id")
    _unlocked(source)
    _unlocked(target)
    source.demands.remove(row)
    moved = SessionDemand(demand_id=demand_id, locked=True)
    target.demands.append(moved)
    _pin(source)
    _pin(target)
    session.flush()
    _refresh(session, context_for(session, meeting), [source, target])
    return moved


def _invitation(meeting: MatchmakingMeeting, invitation_id: int) -> Invitation:
    for ms in meeting.sessions:
        for inv in ms.invitations:
            if inv.id == invitation_id:
                return inv
    raise NotFound("邀请记录不存在。")


def _per_expert_limit(meeting: MatchmakingMeeting, expert_id: int, adding_to: MeetingSession,
                      ) -> None:
    limit = int(meeting.params.get("max_sessions_per_expert") or 1)
    sessions = {ms.id for ms in meeting.sessions for i in _experts_of(ms)
                if i.expert_id == expert_id}
    if adding_to.id in sessions:
        raise DomainError("该专家已在此分场中。", field="expert_id")
    if len(sessions) >= limit:
        raise DomainError(f"该专家已受邀 {len(sessions)} 场，达到每位专家场次上限 {limit}："
                          "请先从其他分场移出该专家。", field="expert_id")


def move_expert(session: Session, user: Any, meeting: MatchmakingMeeting, invitation_id: int,
                to_session_id: int) -> Invitation:
    """Move an invited expert to another session; the seat is locked there."""
    _check_organiser(user)
    _editable(meeting)
    inv = _invitation(meeting, invitation_id)
    if inv.kind != "expert":
        raise DomainError("只能移动专家。", field="invitation_id")
    source, target = inv.session, _session_of(meeting, to_session_id)
    if source.id == target.id:
        raise DomainError("专家已在该分场中。", field="to_session_id")
    _unlocked(source)
    _unlocked(target)
    source.invitations.remove(inv)
    session.flush()
    _per_expert_limit(meeting, inv.expert_id, target)
    moved = Invitation(kind="expert", expert_id=inv.expert_id, affinity=inv.affinity, locked=True)
    target.invitations.append(moved)
    _pin(target)
    session.flush()
    _refresh(session, context_for(session, meeting), [source, target])
    return moved


def remove_expert(session: Session, user: Any, meeting: MatchmakingMeeting,
                  invitation_id: int) -> None:
    """Remove an invited expert; a re-plan will not invite them to that session again."""
    _check_organiser(user)
    _editable(meeting)
    inv = _invitation(meeting, invitation_id)
    if inv.kind != "expert":
        raise DomainError("只能移出专家。", field="invitation_id")
    ms = inv.session
    _unlocked(ms)
    params = dict(meeting.params)
    params["removed"] = [*params.get("removed", []), [inv.expert_id, ms.id]]
    meeting.params = params
    ms.invitations.remove(inv)
    session.flush()
    _refresh(session, context_for(session, meeting), [ms])


def add_expert(session: Session, user: Any, meeting: MatchmakingMeeting, session_id: int,
               expert_id: int) -> Invitation:
    """Invite an expert to a session by hand; the seat is locked."""
    _check_organiser(user)
    _editable(meeting)
    ms = _session_of(meeting, session_id)
    _unlocked(ms)
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise DomainError("专家不存在。", field="expert_id")
    _per_expert_limit(meeting, expert_id, ms)
    params = dict(meeting.params)
    params["removed"] = [p for p in params.get("removed", [])
                         if not (p[0] == expert_id and p[1] == ms.id)]
    cand = dict((int(e), a) for e, a in params.get("candidates", {}).get(str(ms.id), []))
    meeting.params = params
    inv = Invitation(kind="expert", expert_id=expert_id, affinity=cand.get(expert_id),
                     locked=True)
    ms.invitations.append(inv)
    _pin(ms)
    session.flush()
    _refresh(session, context_for(session, meeting), [ms])
    return inv


def set_lock(session: Session, user: Any, meeting: MatchmakingMeeting, kind: str, item_id: int,
             locked: bool) -> str:
    """Lock or unlock a session, a placement (session demand) or an expert seat; return a label."""
    _check_organiser(user)
    _editable(meeting)
    if kind == "session":
        ms = _session_of(meeting, item_id)
        ms.locked = locked
        label = ms.title
    elif kind == "placement":
        row = next((sd for ms in meeting.sessions for sd in ms.demands if sd.id == item_id), None)
        if row is None:
            raise NotFound("该需求不在本次对接会中。")
        row.locked = locked
        label = row.demand.title
    elif kind == "seat":
        inv = _invitation(meeting, item_id)
        if inv.kind != "expert":
            raise DomainError("只能锁定专家席位。", field="kind")
        inv.locked = locked
        label = inv.expert.name if inv.expert else str(inv.expert_id)
    else:
        raise DomainError("未知的锁定对象。", field="kind")
    session.flush()
    return label


def rename_session(session: Session, user: Any, meeting: MatchmakingMeeting, session_id: int,
                   title: str) -> MeetingSession:
    """Rename a session."""
    _check_organiser(user)
    _editable(meeting)
    ms = _session_of(meeting, session_id)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise DomainError("分场名称须为 1–200 字。", field="title")
    ms.title = title
    session.flush()
    return ms


def confirm(session: Session, user: Any, meeting: MatchmakingMeeting) -> MatchmakingMeeting:
    """Confirm the plan: no more planning or edits; exports go out."""
    _check_organiser(user)
    if meeting.status != "planned":
        raise Conflict("只有已排期的对接会可以确认。", field="status")
    if not meeting.sessions:
        raise Conflict("对接会还没有分场，不能确认。", field="status")
    meeting.status = "confirmed"
    session.flush()
    return meeting


def mark_held(session: Session, user: Any, meeting: MatchmakingMeeting) -> MatchmakingMeeting:
    """Mark a confirmed meeting as held."""
    _check_organiser(user)
    if meeting.status != "confirmed":
        raise Conflict("只有已确认的对接会可以标记为已召开。", field="status")
    meeting.status = "held"
    session.flush()
    return meeting


def delete_meeting(session: Session, user: Any, meeting: MatchmakingMeeting) -> None:
    """Delete a meeting that is not confirmed yet."""
    _check_organiser(user)
    _editable(meeting)
    session.delete(meeting)
    session.flush()


# --- after the meeting ----------------------------------------------------------------------
def _after(meeting: MatchmakingMeeting) -> None:
    if meeting.status not in ("confirmed", "held"):
        raise Conflict("对接会确认后才能登记签到和洽谈结果。", field="status")


def check_in(session: Session, user: Any, meeting: MatchmakingMeeting,
             attended_ids: Iterable[int]) -> int:
    """Record who attended: invitations in `attended_ids` True, every other False."""
    _check_organiser(user)
    _after(meeting)
    chosen = {int(i) for i in attended_ids}
    n = 0
    for ms in meeting.sessions:
        for inv in ms.invitations:
            inv.attended = inv.id in chosen
            n += inv.attended
    session.flush()
    return n


def _slot(meeting: MatchmakingMeeting, slot_id: int) -> MeetingSlot:
    for ms in meeting.sessions:
        for s in ms.slots:
            if s.id == slot_id:
                return s
    raise NotFound("洽谈记录不存在。")


def _user_id(user: Any) -> int | None:
    return getattr(user, "id", None) if hasattr(user, "username") else None


def _match_to(session: Session, user: Any, meeting: MatchmakingMeeting, slot: MeetingSlot,
              target: str, reason: str, amount: float | None = None) -> Match:
    """Create or move the Match of a 1:1 pair to `target`, with an event naming the meeting."""
    match = session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                               Match.expert_id == slot.expert_id))
    now = utcnow()
    if match is None:
        match = Match(demand_id=slot.demand_id, expert_id=slot.expert_id, status=target,
                      proposed_by_id=_user_id(user), created_at=now, updated_at=now,
                      explanation={"source": "meeting", "meeting_id": meeting.id})
        session.add(match)
        old = None
        demand = session.get(Demand, slot.demand_id)
        if demand is not None and demand.status == "published":
            session.add(DemandEvent(demand=demand, user_id=_user_id(user), at=now,
                                    from_status="published", to_status="matched",
                                    reason=f"需求对接会「{meeting.title}」"))
            demand.status = "matched"
            demand.updated_at = now
    else:
        old = match.status
        if old == target and (amount is None or match.contract_amount == amount):
            return match
    match.status = target
    match.updated_at = now
    if target == "signed":
        match.contract_amount = amount
    if target == "closed":
        match.reason = reason
    session.add(MatchEvent(match=match, user_id=_user_id(user), at=now, from_status=old,
                           to_status=target, reason=reason,
                           contract_amount=amount if target == "signed" else None))
    session.flush()
    return match


#: Match statuses that the meeting's immediate outcome may move forward to "introduced".
_BEFORE_INTRODUCED = ("proposed", "accepted")


def record_outcome(session: Session, user: Any, meeting: MatchmakingMeeting, slot_id: int,
                   outcome: str | None) -> MeetingSlot:
    """Record a 1:1 pair's immediate outcome; 有意向 marks the pair's match as introduced."""
    _check_organiser(user)
    _after(meeting)
    slot = _slot(meeting, slot_id)
    if outcome in ("", None):
        slot.outcome = None
        session.flush()
        return slot
    if outcome not in OUTCOME_LABELS:
        raise DomainError("洽谈结果只能是“有意向”或“无意向”。", field="outcome")
    slot.outcome = outcome
    if outcome == "interested":
        match = session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                                   Match.expert_id == slot.expert_id))
        if match is None or match.status in _BEFORE_INTRODUCED:
            _match_to(session, user, meeting, slot, "introduced",
                      f"需求对接会「{meeting.title}」一对一洽谈，双方有合作意向")
    session.flush()
    return slot


def record_followup(session: Session, user: Any, meeting: MatchmakingMeeting, slot_id: int, *,
                    agreement: bool | None, amount: Any = None, on: date | None = None,
                    note: str = "") -> Match | None:
    """Record the follow-up of a pair (about six months later) and carry it to the match.

    Agreement with a contract amount signs the match (then a typical case can be drafted from
    it); no agreement closes it with the note as reason.
    """
    _check_organiser(user)
    _after(meeting)
    slot = _slot(meeting, slot_id)
    note = (note or "").strip()
    if len(note) > 2000:
        raise DomainError("跟踪记录不能超过 2000 字。", field="followup")
    value: float | None = None
    if amount not in (None, ""):
        try:
            value = float(amount)
        except (TypeError, ValueError):
            raise DomainError("合同金额应为数字（万元）。", field="followup_amount") from None
        if not value > 0:
            raise DomainError("合同金额应大于 0（万元）。", field="followup_amount")
    if agreement and value is None:
        raise DomainError("达成合作须填写合同金额（万元）。", field="followup_amount")
    if agreement is False and value is not None:
        raise DomainError("未达成合作时不应填写合同金额。", field="followup_amount")
    slot.followup = note or None
    slot.followup_agreement = agreement
    slot.followup_amount = value if agreement else None
    slot.followup_on = on or clock.today()
    session.flush()
    if agreement is None:
        return None
    if agreement:
        return _match_to(session, user, meeting, slot, "signed",
                         f"需求对接会「{meeting.title}」后续跟踪：达成合作" + (f"。{note}" if note
                                                                               else ""), value)
    match = session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                               Match.expert_id == slot.expert_id))
    if match is not None and match.status in ("signed", "closed"):
        return match
    return _match_to(session, user, meeting, slot, "closed",
                     f"需求对接会「{meeting.title}」后续跟踪：未达成合作" + (f"。{note}" if note
                                                                             else ""))


def match_of(session: Session, slot: MeetingSlot) -> Match | None:
    """Return the match of a 1:1 pair, if any."""
    return session.scalar(select(Match).where(Match.demand_id == slot.demand_id,
                                              Match.expert_id == slot.expert_id))


# --- reading for pages and exports ---------------------------------------------------------------
def local(dt: datetime | None) -> datetime | None:
    """Return a stored timestamp in Wuhan time (SQLite hands back naive local values)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=CST) if dt.tzinfo is None else dt.astimezone(CST)


def slot_time(meeting: MatchmakingMeeting, ms: MeetingSession, slot: int) -> datetime | None:
    """Return when 1:1 slot `slot` (from 0) of a session starts."""
    start = local(ms.starts_at)
    if start is None:
        return None
    p = meeting.params or {}
    return start + timedelta(minutes=int(p.get("intro_minutes") or 0)
                             + slot * int(p.get("slot_minutes") or 20))


@dataclass
class Names:
    """Display names of everything a meeting page shows, loaded in a few queries."""

    demands: dict[int, Demand]
    experts: dict[int, Expert]
    enterprises: dict[int, Enterprise]
    investors: dict[int, Investor]
    institutions: dict[int, Institution]
    industries: dict[int, str]


def names(session: Session, meeting: MatchmakingMeeting) -> Names:
    """Load the rows behind the ids of a meeting's sessions."""
    d_ids, e_ids, ent_ids, inv_ids, inst_ids = set(), set(), set(), set(), set()
    for ms in meeting.sessions:
        d_ids.update(sd.demand_id for sd in ms.demands)
        for i in ms.invitations:
            if i.expert_id:
                e_ids.add(i.expert_id)
            if i.enterprise_id:
                ent_ids.add(i.enterprise_id)
            if i.investor_id:
                inv_ids.add(i.investor_id)
            if i.institution_id:
                inst_ids.add(i.institution_id)
        e_ids.update(s.expert_id for s in ms.slots)
    for e in (meeting.params or {}).get("candidates", {}).values():
        e_ids.update(int(x[0]) for x in e)

    def load(model, ids):
        if not ids:
            return {}
        return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}

    demands = load(Demand, d_ids)
    ent_ids.update(d.enterprise_id for d in demands.values())
    return Names(demands=demands, experts=load(Expert, e_ids),
                 enterprises=load(Enterprise, ent_ids),
                 investors=load(Investor, inv_ids), institutions=load(Institution, inst_ids),
                 industries=dict(session.execute(select(Industry.id, Industry.name)).all()))


def invitee_name(inv: Invitation, n: Names) -> str:
    """Return the display name of an invitee."""
    if inv.kind == "expert" and inv.expert_id in n.experts:
        return n.experts[inv.expert_id].name
    if inv.kind == "enterprise" and inv.enterprise_id in n.enterprises:
        return n.enterprises[inv.enterprise_id].name
    if inv.kind == "investor" and inv.investor_id in n.investors:
        return n.investors[inv.investor_id].name
    if inv.kind == "institution" and inv.institution_id in n.institutions:
        return n.institutions[inv.institution_id].name
    return "—"


def grid(ms: MeetingSession) -> tuple[int, int, dict[tuple[int, int], MeetingSlot]]:
    """Return (slots, tables, {(slot, table): MeetingSlot}) of a session's 1:1 timetable."""
    cells = {(s.slot, s.table_no): s for s in ms.slots}
    n_slots = max((s.slot for s in ms.slots), default=-1) + 1
    n_tables = max((s.table_no for s in ms.slots), default=-1) + 1
    return n_slots, n_tables, cells


def counts(session: Session) -> dict[str, int]:
    """Return row counts of every meeting table (tests check that a refused plan wrote nothing)."""
    from sqlalchemy import func

    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (MatchmakingMeeting, MeetingSession, SessionDemand, Invitation, MeetingSlot)}
