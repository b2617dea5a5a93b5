"""Load what planning needs: the picked demands, the experts x demands affinity, invitees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.policy.roles import Role
from app.policy.statuses import PUBLIC_DEMAND_STATUSES
from app.services.indexing import demand_tokens
from app.services.meetings.inputs import (
    PlanInput,
)
from app.services.meetings.organiser_checks import (
    check_organiser,
)
from matching import text as mtext
from matching.planning.plan_records import (
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
)
from matching.planning.plan_records import Session as PlanSession
from matching.ranker import EmptyQueryError
from models import (
    Demand,
    District,
    Enterprise,
    Expert,
    Industry,
    Investor,
    Invitation,
    MatchmakingMeeting,
    MeetingSession,
    TechField,
)

#: Experts kept per demand in the sparse affinity matrix (the planner's author recommends a few
#: hundred: the rest count as 0, the mean of the ranker's z-scored scores).
TOP_K = 200


def find_demands(session: Session, user: Any, inp: PlanInput) -> list[Demand]:
    """Return the published demands of the district, period, industries and fields, by id."""
    check_organiser(user)
    stmt = select(Demand).where(Demand.publishable.is_(True),
                                Demand.status.in_(PUBLIC_DEMAND_STATUSES))
    district_id = inp.district_id
    if getattr(user, "role", None) == Role.DISTRICT_ADMIN:
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


def demand_record(d: Demand) -> MeetingDemand:
    return MeetingDemand(id=d.id, text=d.text, tokens=tuple(mtext.split_tokens(d.tokens)),
                         industry=d.industry_id, field=d.tech_field_id,
                         planned_investment=d.investment, enterprise_id=d.enterprise_id)


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
        from app.services.search import expert_snapshot

        snapshot = expert_snapshot(session)
    all_ids = [int(i) for i in snapshot.expert_ids]
    existing = set(session.scalars(select(Expert.id)))
    keep = np.array([i in existing for i in all_ids], dtype=bool)
    expert_ids = [i for i, k in zip(all_ids, keep, strict=True) if k]
    rows_of = np.flatnonzero(keep)
    data, rows, cols = [], [], []
    n = len(expert_ids)
    for j, d in enumerate(demands):
        tokens = mtext.split_tokens(d.tokens) or demand_tokens(d.text)
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


def key_of(ms: MeetingSession) -> str:
    """Return the planner key of a saved session."""
    return f"K{ms.id}"


def plan_session_of(ms: MeetingSession) -> PlanSession:
    ids = tuple(sd.demand_id for sd in ms.demands)
    return PlanSession(key=key_of(ms), demand_ids=ids, theme_words=tuple(ms.theme_words or ()),
                       industry=ms.industry_id,
                       industries=(ms.industry_id,) if ms.industry_id else (), locked=ms.locked)


def experts_of(ms: MeetingSession) -> list[Invitation]:
    return [i for i in ms.invitations if i.kind == "expert"]


@dataclass
class PlanContext:
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


def _load_others(session: Session, ctx: PlanContext) -> None:
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


def build_context(session: Session, meeting: MatchmakingMeeting, demands: list[Demand],
                  params: dict[str, Any], *, snapshot: Any = None) -> PlanContext:
    """Load what planning needs; ``snapshot`` is the search index (loaded when ``None``)."""
    ctx = PlanContext(meeting=meeting, demands=demands,
                      records=[demand_record(d) for d in demands],
                      affinity=compute_affinity(session, demands, snapshot=snapshot),
                      params=params)
    _load_others(session, ctx)
    return ctx


def plan_form_options(session: Session, user: Any) -> dict[str, list[tuple[int, str]]]:
    """Return the plan form's choices: the user's districts, and the industries and fields
    that published demands in the user's scope use (with their counts)."""
    districts = [(d.id, d.name) for d in session.scalars(select(District).order_by(District.seq))]
    if getattr(user, "role", None) != Role.CITY_ADMIN:
        districts = [(i, n) for i, n in districts if i == user.district_id]
    scope = [Demand.publishable.is_(True), Demand.status.in_(PUBLIC_DEMAND_STATUSES)]
    if getattr(user, "role", None) != Role.CITY_ADMIN:
        scope.append(Demand.district_id == user.district_id)

    def used(model: Any, column: Any) -> list[tuple[int, str]]:
        rows = session.execute(
            select(model.id, model.name, func.count(Demand.id)).join(Demand, column == model.id)
            .where(*scope).group_by(model.id, model.name, model.code).order_by(model.code))
        return [(i, f"{name}（{n}）") for i, name, n in rows]

    return {"districts": districts, "industries": used(Industry, Demand.industry_id),
            "fields": used(TechField, Demand.tech_field_id)}
