"""The dashboard's figures beyond the scoreboard: funnel, monthly trends, drill-downs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Assessment,
    Case,
    Demand,
    DistrictQuota,
    Liaison,
    Match,
    Training,
)

from ... import clock
from ...errors import DomainError
from ...policy.statuses import status_label
from .queries import (
    districts_of,
    signed_at,
    signed_matches,
)
from .rules import (
    ACCEPTED_OR_LATER,
    FUNNEL_LABELS,
    FUNNEL_STAGES,
    STATUS_LABELS,
    YearWindow,
    in_year,
    local_date,
    period_bounds,
)
from .scoreboard import scoreboard


# --- funnel and trends ---------------------------------------------------------------------
@dataclass
class FunnelStage:
    """One stage of the demand funnel: how many demands reached it, and contract amounts."""

    key: str
    count: int
    amount: float = 0.0

    @property
    def label(self) -> str:
        """Return the stage in Chinese."""
        return FUNNEL_LABELS[self.key]


def _stage_of_match(m: Match) -> set[str]:
    reached = {"matched"}
    seen = {m.status} | {e.to_status for e in m.events}
    if seen & set(ACCEPTED_OR_LATER):
        reached.add("accepted")
    if "signed" in seen:
        reached.add("signed")
    return reached


def _cohort(session: Session, window: YearWindow, district_id: int | None) -> list[Demand]:
    lo, hi = window.bounds()
    stmt = (select(Demand)
            .options(selectinload(Demand.matches).selectinload(Match.events))
            .where(Demand.created_at >= lo, Demand.created_at < hi).order_by(Demand.id))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    return list(session.scalars(stmt))


def demand_stages(d: Demand) -> set[str]:
    """Return the funnel stages a demand reached."""
    out = {"recorded"}
    if d.published_at is not None:
        out.add("published")
    for m in d.matches:
        out |= _stage_of_match(m)
    return out


def _signed_amount(d: Demand) -> float:
    return sum(m.contract_amount or 0.0 for m in d.matches if "signed" in _stage_of_match(m))


def funnel(session: Session, year: int, *, district_id: int | None = None) -> list[FunnelStage]:
    """Return the funnel of the demands recorded in the year: recorded -> ... -> signed."""
    window = YearWindow(year, clock.today())
    stages = {k: FunnelStage(k, 0) for k in FUNNEL_STAGES}
    for d in _cohort(session, window, district_id):
        reached = demand_stages(d)
        for k in reached:
            stages[k].count += 1
        if "signed" in reached:
            stages["signed"].amount += _signed_amount(d)
    stages["signed"].amount = round(stages["signed"].amount, 2)
    return [stages[k] for k in FUNNEL_STAGES]



TREND_SERIES = {"recorded": "登记需求", "published": "发布需求", "signed": "签约项目",
                "amount": "合同金额（万元）", "trainings": "培训会"}


def trends(session: Session, year: int, *, district_id: int | None = None) -> dict[str, Any]:
    """Return twelve monthly figures per series for the year."""
    window = YearWindow(year, clock.today())
    lo, hi = window.bounds()
    series: dict[str, list[float]] = {k: [0] * 12 for k in TREND_SERIES}
    stmt = select(Demand.created_at, Demand.published_at).where(
        ((Demand.created_at >= lo) & (Demand.created_at < hi))
        | ((Demand.published_at >= lo) & (Demand.published_at < hi)))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    for created, published in session.execute(stmt):
        if in_year(created, year):
            series["recorded"][clock.local_time(created).month - 1] += 1
        if in_year(published, year):
            series["published"][clock.local_time(published).month - 1] += 1
    ids = None if district_id is None else [district_id]
    for m in signed_matches(session, ids, window):
        month = signed_at(m).month - 1
        series["signed"][month] += 1
        series["amount"][month] = round(series["amount"][month] + (m.contract_amount or 0), 2)
    tstmt = select(Training.held_on).where(Training.held_on >= window.start,
                                           Training.held_on <= window.end)
    if district_id is not None:
        tstmt = tstmt.where(Training.district_id == district_id)
    for (held,) in session.execute(tstmt):
        series["trainings"][held.month - 1] += 1
    return {"months": [f"{m}月" for m in range(1, 13)], "series": series,
            "labels": TREND_SERIES}


def data_years(session: Session, today: date | None = None) -> list[int]:
    """Return the years the books have data for, newest first, always including this year."""
    today = today or clock.today()
    years = {today.year}
    for col in (Demand.created_at, Demand.published_at):
        for (v,) in session.execute(select(col).where(col.is_not(None)).distinct()):
            years.add(clock.local_time(v).year)
    years |= {v.year for (v,) in session.execute(select(Training.held_on))}
    years |= set(session.scalars(select(Case.year)))
    years |= set(session.scalars(select(Assessment.year)))
    years |= set(session.scalars(select(DistrictQuota.year)))
    return sorted((y for y in years if y <= today.year + 1), reverse=True)


# --- drill-down -----------------------------------------------------------------------------
DRILL_METRICS = {
    **{f"funnel_{k}": f"{v}" for k, v in FUNNEL_LABELS.items()},
    **{f"trend_{k}": v for k, v in TREND_SERIES.items() if k != "amount"},
    "rule_quota": "在岗联络员",
    "rule_demands": "年度发布需求",
    "rule_training": "培训会",
    "rule_cases": "典型案例",
    "rule_assessment": "应考核联络员",
    "liaisons": "联络员达标情况",
}


@dataclass
class DrillTable:
    """The rows behind a figure of the dashboard."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    refs: list[tuple[str, int] | None] = field(default_factory=list)  # (kind, id) per row


def _demand_row(d: Demand) -> list[Any]:
    return [d.code, d.title, d.enterprise.name if d.enterprise else "", d.district.name,
            d.liaison.name if d.liaison else "", status_label("demand", d.status),
            local_date(d.created_at) or "", local_date(d.published_at) or ""]


DEMAND_HEADERS = ["需求编号", "需求名称", "企业", "所属区", "联络员", "状态", "登记日期",
                  "发布日期"]


def drill(session: Session, year: int, metric: str, *, district_id: int | None = None,
          liaison_id: int | None = None, month: int | None = None,
          today: date | None = None) -> DrillTable:
    """Return the rows behind one figure of the dashboard."""
    if metric not in DRILL_METRICS:
        raise DomainError("未知的统计口径。")
    if month is not None and not 1 <= month <= 12:
        raise DomainError("月份应在 1-12 之间。")
    window = YearWindow(year, today or clock.today())
    scope = ""
    if district_id is not None:
        scope = districts_of(session, district_id)[0].name
    title = f"{year}年{scope}{f'{month}月' if month else ''}{DRILL_METRICS[metric]}"

    if metric.startswith("funnel_"):
        stage = metric.removeprefix("funnel_")
        rows = [d for d in _cohort(session, window, district_id) if stage in demand_stages(d)]
        if liaison_id is not None:
            rows = [d for d in rows if d.liaison_id == liaison_id]
        return DrillTable(title, DEMAND_HEADERS + ["合同金额（万元）"],
                          [_demand_row(d) + [_signed_amount(d) or ""] for d in rows],
                          [("demand", d.id) for d in rows])
    if metric in ("trend_recorded", "trend_published", "rule_demands"):
        col = Demand.created_at if metric == "trend_recorded" else Demand.published_at
        lo, hi = period_bounds(year, month)
        stmt = select(Demand).where(col >= lo, col < hi).order_by(col, Demand.id)
        if district_id is not None:
            stmt = stmt.where(Demand.district_id == district_id)
        if liaison_id is not None:
            stmt = stmt.where(Demand.liaison_id == liaison_id)
        rows = list(session.scalars(stmt))
        return DrillTable(title, DEMAND_HEADERS, [_demand_row(d) for d in rows],
                          [("demand", d.id) for d in rows])
    if metric == "trend_signed":
        ids = None if district_id is None else [district_id]
        ms = [m for m in signed_matches(session, ids, window)
              if month is None or signed_at(m).month == month]
        return DrillTable(title, ["需求编号", "需求名称", "所属区", "专家", "签约日期",
                                  "合同金额（万元）"],
                          [[m.demand.code, m.demand.title, m.demand.district.name,
                            m.expert.name, signed_at(m).date(), m.contract_amount or ""]
                           for m in ms], [("match", m.id) for m in ms])
    if metric in ("trend_trainings", "rule_training"):
        stmt = select(Training).where(Training.held_on >= window.start,
                                      Training.held_on <= window.end).order_by(Training.held_on)
        if district_id is not None:
            stmt = stmt.where(Training.district_id == district_id)
        ts = [t for t in session.scalars(stmt) if month is None or t.held_on.month == month]
        return DrillTable(title, ["日期", "所属区", "培训主题", "参训联络员", "参训人数"],
                          [[t.held_on, t.district.name, t.topic, len(t.attendees),
                            t.attendee_count] for t in ts], [("training", t.id) for t in ts])
    if metric == "rule_cases":
        stmt = select(Case).where(Case.year == year, Case.status == "reported").order_by(Case.id)
        if district_id is not None:
            stmt = stmt.where(Case.district_id == district_id)
        cs = list(session.scalars(stmt))
        return DrillTable(title, ["案例标题", "所属区", "联络员", "企业", "专家",
                                  "合同金额（万元）"],
                          [[c.title, c.district.name, c.liaison.name if c.liaison else "",
                            c.enterprise_name or "", c.expert_name or "",
                            c.contract_amount or ""] for c in cs], [("case", c.id) for c in cs])
    if metric == "rule_quota":
        stmt = select(Liaison).where(
            Liaison.kind == "district",
            (Liaison.start_date.is_(None)) | (Liaison.start_date <= window.as_of),
            (Liaison.end_date.is_(None)) | (Liaison.end_date >= window.as_of),
        ).order_by(Liaison.district_id, Liaison.start_date, Liaison.id)
        if district_id is not None:
            stmt = stmt.where(Liaison.district_id == district_id)
        ls = list(session.scalars(stmt))
        return DrillTable(f"{title}（{window.as_of:%Y-%m-%d}）",
                          ["姓名", "所属区", "工作单位及职务", "任职起始"],
                          [[li.name, li.district.name if li.district else "",
                            li.employer_post or "", li.start_date or ""] for li in ls],
                          [("liaison", li.id) for li in ls])
    # rule_assessment and liaisons: per-liaison standing from the scoreboard
    board = scoreboard(session, year, district_id=district_id, today=window.today)
    people = [p for d in board.districts for p in d.liaisons]
    if liaison_id is not None:
        people = [p for p in people if p.liaison.id == liaison_id]
    if metric == "rule_assessment":
        people = [p for p in people if p.assessment_due]
        return DrillTable(title, ["姓名", "所属区", "任职起始", "考核结果", "考核人", "状态"],
                          [[p.liaison.name, p.liaison.district.name, p.liaison.start_date or "",
                            p.assessment.result if p.assessment else "",
                            p.assessment.reviewer if p.assessment else "",
                            STATUS_LABELS[p.assessment_status]] for p in people],
                          [("liaison", p.liaison.id) for p in people])
    return DrillTable(title, ["姓名", "所属区", "年内任职天数", "需求目标", "已发布",
                              "需求状态", "应考核", "考核状态", "参训次数"],
                      [[p.liaison.name, p.liaison.district.name, p.days_served,
                        p.demand_target, p.demands_published, STATUS_LABELS[p.demands_status],
                        "是" if p.assessment_due else "否", STATUS_LABELS[p.assessment_status],
                        p.trainings_attended] for p in people],
                      [("liaison", p.liaison.id) for p in people])
