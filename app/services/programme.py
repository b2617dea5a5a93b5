"""The programme's books and the rules of the notice: quotas, roster, replacements, trainings,
typical cases, assessments, and the yearly scoreboard, funnel, trends and drill-downs.

Statuses (see docs/programme.md):

- ``met`` 达标: the target of the year is reached.
- ``on_track`` 进度正常: current year, not reached yet, but not behind the pro-rata pace.
- ``at_risk`` 有风险: current year, behind the pro-rata pace (or a quota vacancy today).
- ``missed`` 未达标: the year (or the liaison's service in it) is over and the target is not met.
- ``na`` 不适用: the rule does not apply (no liaisons, target 0, not due for assessment).

Services take a session and never commit.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Assessment,
    Case,
    Demand,
    District,
    DistrictQuota,
    Enterprise,
    Expert,
    Liaison,
    Match,
    MatchmakingMeeting,
    MeetingSession,
    MeetingSlot,
    Park,
    SessionDemand,
    Training,
)

from .. import clock
from ..errors import Conflict, DomainError, NotFound
from .reference import headcount, quota_for

DEMANDS_PER_LIAISON = 2
TRAININGS_PER_DISTRICT = 1
CASE_SHARE = 0.30
ASSESSMENT_RESULTS = ("优秀", "良好", "合格", "基本合格", "不合格")

MET, ON_TRACK, AT_RISK, MISSED, NA = "met", "on_track", "at_risk", "missed", "na"
STATUS_LABELS = {MET: "达标", ON_TRACK: "进度正常", AT_RISK: "有风险", MISSED: "未达标",
                 NA: "不适用"}
# Worst first: the overall status of a district or liaison is its worst rule.
SEVERITY = {MISSED: 4, AT_RISK: 3, ON_TRACK: 2, MET: 1, NA: 0}

RULES = ("quota", "demands", "training", "cases", "assessment")
RULE_LABELS = {
    "quota": "联络员指标到位",
    "demands": "人均发布需求≥2项",
    "training": "年度培训会≥1场",
    "cases": "典型案例≥人数30%",
    "assessment": "满1年联络员考核",
}

FUNNEL_STAGES = ("recorded", "published", "matched", "accepted", "signed")
FUNNEL_LABELS = {"recorded": "登记需求", "published": "公开发布", "matched": "推荐专家",
                 "accepted": "高校接受", "signed": "签约"}
# Match statuses that mean the campus side accepted (or went further).
ACCEPTED_OR_LATER = ("accepted", "introduced", "negotiating", "signed")
FINISHED_MATCH = ("signed",)
# Years and months are Beijing time (app/clock.py): a demand published on 1 January 00:30
# there (31 December 16:30 UTC) counts for the new year.


# --- the year and its phase -----------------------------------------------------------------
@dataclass(frozen=True)
class YearWindow:
    """A programme year seen from `today`: past, current or future, and how much has elapsed."""

    year: int
    today: date

    @property
    def start(self) -> date:
        """Return 1 January."""
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        """Return 31 December."""
        return date(self.year, 12, 31)

    @property
    def days(self) -> int:
        """Return the number of days in the year."""
        return 366 if calendar.isleap(self.year) else 365

    @property
    def phase(self) -> str:
        """Return 'past', 'current' or 'future'."""
        if self.today > self.end:
            return "past"
        if self.today < self.start:
            return "future"
        return "current"

    @property
    def as_of(self) -> date:
        """Return the day the year is judged on: year end, today, or 1 January (future)."""
        return {"past": self.end, "current": self.today, "future": self.start}[self.phase]

    @property
    def elapsed(self) -> float:
        """Return the share of the year elapsed (1.0 for a past year, 0.0 for a future one)."""
        if self.phase == "past":
            return 1.0
        if self.phase == "future":
            return 0.0
        return ((self.today - self.start).days + 1) / self.days

    def bounds(self) -> tuple[datetime, datetime]:
        """Return [1 Jan 00:00, next 1 Jan 00:00) Beijing time as UTC datetimes for filters."""
        return period_bounds(self.year)


def period_bounds(year: int, month: int | None = None) -> tuple[datetime, datetime]:
    """Return [start, end) of a year (or one of its months) in Beijing time, as UTC datetimes.

    The bounds are converted to UTC in Python so that the same comparison works on PostgreSQL
    (timezone-aware columns) and SQLite (naive UTC text, which ignores the offset of a bound).
    """
    if month is None:
        lo, hi = datetime(year, 1, 1, tzinfo=clock.CST), datetime(year + 1, 1, 1, tzinfo=clock.CST)
    else:
        lo = datetime(year, month, 1, tzinfo=clock.CST)
        hi = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=clock.CST)
    return lo.astimezone(UTC), hi.astimezone(UTC)


def round_half_up(x: float) -> int:
    """Round to the nearest whole number, halves up (Python's round() rounds halves to even)."""
    return int(math.floor(x + 0.5 + 1e-9))


def count_status(actual: float, target: float, window: YearWindow, pace: float | None = None,
                 *, ended: bool = False) -> str:
    """Judge a count rule: met, or (not met) missed / at risk / on track by the pro-rata pace.

    `pace` is the elapsed share of the period the target covers (the year by default);
    `ended` says the period is over even though the year is not (a liaison who left).
    """
    if target <= 0:
        return MET if actual > 0 else NA
    if actual >= target:
        return MET
    if window.phase == "past" or ended:
        return MISSED
    share = window.elapsed if pace is None else pace
    return AT_RISK if actual < round_half_up(target * share) else ON_TRACK


def worst(statuses: Iterable[str]) -> str:
    """Return the most severe status of a collection (NA when empty)."""
    out = NA
    for s in statuses:
        if SEVERITY[s] > SEVERITY[out]:
            out = s
    return out


def local_date(value: datetime | None) -> date | None:
    """Return the Beijing-time calendar day of a stored timestamp."""
    value = clock.local_time(value)
    return None if value is None else value.date()


def _in_year(value: datetime | None, year: int) -> bool:
    value = clock.local_time(value)
    return value is not None and value.year == year


# --- service of a liaison inside a year ---------------------------------------------------------
def service_window(liaison: Liaison, year: int) -> tuple[date, date] | None:
    """Return the first and last day the liaison served in `year`, or None."""
    start = max(liaison.start_date or date(year, 1, 1), date(year, 1, 1))
    end = min(liaison.end_date or date(year, 12, 31), date(year, 12, 31))
    return (start, end) if start <= end else None


def demand_target(liaison: Liaison, year: int) -> int:
    """Return the liaison's published-demand target for the year, pro-rated by days served.

    2 x (days served / days in year), rounded half up: a full year owes 2, at least ~3 months
    owe 1, and a liaison who served under a quarter of the year (joined in November) owes 0.
    """
    win = service_window(liaison, year)
    if win is None:
        return 0
    days = (win[1] - win[0]).days + 1
    total = 366 if calendar.isleap(year) else 365
    return round_half_up(DEMANDS_PER_LIAISON * days / total)


def assessment_due(liaison: Liaison, year: int) -> bool:
    """Return whether the liaison must be assessed for `year`.

    Due when the liaison still serves on 31 December and has served at least one year by then
    (started on or before 1 January of that year; an unknown start counts as long-serving).
    """
    if liaison.kind != "district":
        return False
    end = date(year, 12, 31)
    if liaison.end_date is not None and liaison.end_date < end:
        return False
    return liaison.start_date is None or liaison.start_date <= date(year, 1, 1)


# --- scoreboard -----------------------------------------------------------------------------
@dataclass
class RuleResult:
    """One rule of the notice for one district (or the city, or a liaison)."""

    rule: str
    target: float
    actual: float
    status: str
    note: str = ""

    @property
    def label(self) -> str:
        """Return the rule's Chinese name."""
        return RULE_LABELS[self.rule]

    @property
    def status_label(self) -> str:
        """Return the status in Chinese."""
        return STATUS_LABELS[self.status]


@dataclass
class LiaisonStatus:
    """A liaison's standing for the year: demands against the pro-rated target, assessment."""

    liaison: Liaison
    days_served: int
    demand_target: int
    demands_published: int
    demands_status: str
    assessment_due: bool
    assessment: Assessment | None
    assessment_status: str
    trainings_attended: int

    @property
    def status(self) -> str:
        """Return the worst of the liaison's rules."""
        return worst((self.demands_status, self.assessment_status))


@dataclass
class DistrictStatus:
    """A district's standing for the year: every rule, and its liaisons."""

    district: District
    quota: DistrictQuota | None
    headcount: int
    rules: dict[str, RuleResult]
    liaisons: list[LiaisonStatus]
    signed: int = 0
    contract_amount: float = 0.0

    @property
    def status(self) -> str:
        """Return the worst of the district's rules."""
        return worst(r.status for r in self.rules.values())

    @property
    def assessment_due_list(self) -> list[LiaisonStatus]:
        """Return the liaisons due for assessment that have none for the year."""
        return [s for s in self.liaisons if s.assessment_due and s.assessment is None]


@dataclass
class Scoreboard:
    """Every rule of the notice for every district of a year, and the city totals."""

    window: YearWindow
    districts: list[DistrictStatus]
    totals: dict[str, RuleResult] = field(default_factory=dict)

    @property
    def year(self) -> int:
        """Return the year."""
        return self.window.year

    def counts(self, rule: str) -> dict[str, int]:
        """Return how many districts are in each status for a rule."""
        out = dict.fromkeys(STATUS_LABELS, 0)
        for d in self.districts:
            out[d.rules[rule].status] += 1
        return out


def _district_liaisons(session: Session, district_ids: Sequence[int], year: int) -> list[Liaison]:
    start, end = date(year, 1, 1), date(year, 12, 31)
    return list(session.scalars(
        select(Liaison)
        .where(Liaison.kind == "district", Liaison.district_id.in_(district_ids),
               (Liaison.start_date.is_(None)) | (Liaison.start_date <= end),
               (Liaison.end_date.is_(None)) | (Liaison.end_date >= start))
        .order_by(Liaison.district_id, Liaison.start_date, Liaison.id)
    ))


def _published_in_year(session: Session, district_ids: Sequence[int],
                       window: YearWindow) -> list[Demand]:
    lo, hi = window.bounds()
    return list(session.scalars(
        select(Demand).where(Demand.district_id.in_(district_ids),
                             Demand.published_at.is_not(None),
                             Demand.published_at >= lo, Demand.published_at < hi)
    ))


def _districts(session: Session, district_id: int | None) -> list[District]:
    stmt = select(District).order_by(District.seq)
    if district_id is not None:
        stmt = stmt.where(District.id == district_id)
    rows = list(session.scalars(stmt))
    if district_id is not None and not rows:
        raise NotFound("区不存在。")
    return rows


def scoreboard(session: Session, year: int, *, district_id: int | None = None,
               today: date | None = None) -> Scoreboard:
    """Compute every rule of the notice for the year, per district and per liaison."""
    window = YearWindow(year, today or clock.today())
    districts = _districts(session, district_id)
    ids = [d.id for d in districts]
    liaisons = _district_liaisons(session, ids, year)
    published = _published_in_year(session, ids, window)
    trainings = list(session.scalars(
        select(Training).options(selectinload(Training.attendees))
        .where(Training.district_id.in_(ids), Training.held_on >= window.start,
               Training.held_on <= window.end)))
    cases = list(session.scalars(select(Case).where(
        Case.district_id.in_(ids), Case.year == year, Case.status == "reported")))
    assessments = {a.liaison_id: a for a in session.scalars(
        select(Assessment).where(Assessment.year == year,
                                 Assessment.liaison_id.in_([li.id for li in liaisons])))}
    signed = _signed_matches(session, ids, window)

    by_district: dict[int, list[Liaison]] = defaultdict(list)
    for li in liaisons:
        by_district[li.district_id].append(li)
    pub_by_liaison: dict[int, int] = defaultdict(int)
    pub_by_district: dict[int, int] = defaultdict(int)
    for d in published:
        pub_by_district[d.district_id] += 1
        if d.liaison_id is not None:
            pub_by_liaison[d.liaison_id] += 1
    attended: dict[int, int] = defaultdict(int)
    trainings_by_district: dict[int, int] = defaultdict(int)
    for t in trainings:
        trainings_by_district[t.district_id] += 1
        for a in t.attendees:
            attended[a.id] += 1
    cases_by_district: dict[int, int] = defaultdict(int)
    for c in cases:
        cases_by_district[c.district_id] += 1

    out: list[DistrictStatus] = []
    for district in districts:
        people = [_liaison_status(li, window, pub_by_liaison[li.id], assessments.get(li.id),
                                  attended[li.id]) for li in by_district[district.id]]
        quota = quota_for(session, district, year)
        count = headcount(session, district.id, window.as_of)
        rules = {
            "quota": _quota_rule(quota, count, window),
            "demands": _demands_rule(people, pub_by_district[district.id], window),
            "training": _training_rule(bool(people), trainings_by_district[district.id], window),
            "cases": _cases_rule(count, cases_by_district[district.id], window),
            "assessment": _assessment_rule(people, window),
        }
        amounts = [m.contract_amount or 0.0 for m in signed if m.demand.district_id == district.id]
        out.append(DistrictStatus(district=district, quota=quota, headcount=count, rules=rules,
                                  liaisons=people, signed=len(amounts),
                                  contract_amount=round(sum(amounts), 2)))
    board = Scoreboard(window=window, districts=out)
    board.totals = _totals(out, window)
    return board


def _liaison_status(li: Liaison, window: YearWindow, published: int,
                    assessment: Assessment | None, attended: int) -> LiaisonStatus:
    win = service_window(li, window.year)
    assert win is not None  # the query only returns liaisons who served in the year
    days = (win[1] - win[0]).days + 1
    target = demand_target(li, window.year)
    ended = win[1] < window.as_of if window.phase == "current" else False
    pace = None
    if window.phase == "current":
        served_so_far = (min(window.today, win[1]) - win[0]).days + 1
        pace = max(0.0, served_so_far / days)
    d_status = count_status(published, target, window, pace, ended=ended)
    due = assessment_due(li, window.year)
    if not due:
        a_status = MET if assessment is not None else NA
    else:
        a_status = count_status(1 if assessment else 0, 1, window)
    return LiaisonStatus(liaison=li, days_served=days, demand_target=target,
                         demands_published=published, demands_status=d_status,
                         assessment_due=due, assessment=assessment, assessment_status=a_status,
                         trainings_attended=attended)


def _quota_rule(quota: DistrictQuota | None, count: int, window: YearWindow) -> RuleResult:
    if quota is None or quota.total <= 0:
        return RuleResult("quota", 0, count, NA, "本年度未下达指标")
    if count >= quota.total:
        return RuleResult("quota", quota.total, count, MET)
    gap = quota.total - count
    status = MISSED if window.phase == "past" else AT_RISK
    return RuleResult("quota", quota.total, count, status, f"缺额{gap}人")


def _demands_rule(people: list[LiaisonStatus], published: int, window: YearWindow) -> RuleResult:
    target = sum(p.demand_target for p in people)
    if not people:
        return RuleResult("demands", 0, published, NA, "本年度无联络员")
    pace = None
    if window.phase == "current" and target:
        # The district's pace is the target-weighted pace of its liaisons.
        expected = 0.0
        for p in people:
            win = service_window(p.liaison, window.year)
            assert win is not None
            days = (win[1] - win[0]).days + 1
            so_far = max(0, (min(window.today, win[1]) - win[0]).days + 1)
            expected += p.demand_target * so_far / days
        pace = expected / target
    status = count_status(published, target, window, pace)
    short = [p for p in people if p.demands_status in (MISSED, AT_RISK)]
    note = f"{len(short)}名联络员未完成" if short else ""
    return RuleResult("demands", target, published, status, note)


def _training_rule(has_liaisons: bool, held: int, window: YearWindow) -> RuleResult:
    if not has_liaisons:
        return RuleResult("training", 0, held, MET if held else NA, "本年度无联络员")
    return RuleResult("training", TRAININGS_PER_DISTRICT, held,
                      count_status(held, TRAININGS_PER_DISTRICT, window))


def case_target(headcount_: int) -> int:
    """Return the typical-case target: at least 30% of the liaison headcount, rounded up."""
    return math.ceil(round(CASE_SHARE * headcount_, 6))


def _cases_rule(count: int, reported: int, window: YearWindow) -> RuleResult:
    target = case_target(count)
    if target == 0:
        return RuleResult("cases", 0, reported, MET if reported else NA, "无在岗联络员")
    return RuleResult("cases", target, reported, count_status(reported, target, window))


def _assessment_rule(people: list[LiaisonStatus], window: YearWindow) -> RuleResult:
    due = [p for p in people if p.assessment_due]
    done = sum(1 for p in due if p.assessment is not None)
    if not due:
        return RuleResult("assessment", 0, 0, NA, "无满1年的联络员")
    missing = len(due) - done
    return RuleResult("assessment", len(due), done, count_status(done, len(due), window),
                      f"待考核{missing}人" if missing else "")


def _totals(districts: list[DistrictStatus], window: YearWindow) -> dict[str, RuleResult]:
    """Sum the city: targets and actuals add up; the status is the worst district's."""
    out = {}
    for rule in RULES:
        rs = [d.rules[rule] for d in districts]
        met = sum(1 for r in rs if r.status == MET)
        applicable = sum(1 for r in rs if r.status != NA)
        out[rule] = RuleResult(rule, sum(r.target for r in rs), sum(r.actual for r in rs),
                               worst(r.status for r in rs),
                               f"{met}/{applicable}个区达标" if applicable else "")
    return out


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


def _signed_at(m: Match) -> datetime | None:
    """Return when the match was signed, in Beijing time (its year and month count)."""
    for e in m.events:
        if e.to_status == "signed":
            return clock.local_time(e.at)
    return clock.local_time(m.updated_at) if m.status == "signed" else None


def _signed_matches(session: Session, district_ids: Sequence[int] | None,
                    window: YearWindow) -> list[Match]:
    """Return the matches signed during the year (by their signing event)."""
    stmt = (select(Match).join(Demand)
            .options(selectinload(Match.events), selectinload(Match.demand))
            .where(Match.status == "signed"))
    if district_ids is not None:
        stmt = stmt.where(Demand.district_id.in_(district_ids))
    return [m for m in session.scalars(stmt) if _in_year(_signed_at(m), window.year)]


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
        if _in_year(created, year):
            series["recorded"][clock.local_time(created).month - 1] += 1
        if _in_year(published, year):
            series["published"][clock.local_time(published).month - 1] += 1
    ids = None if district_id is None else [district_id]
    for m in _signed_matches(session, ids, window):
        month = _signed_at(m).month - 1
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
            d.liaison.name if d.liaison else "", d.status,
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
        scope = _districts(session, district_id)[0].name
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
        ms = [m for m in _signed_matches(session, ids, window)
              if month is None or _signed_at(m).month == month]
        return DrillTable(title, ["需求编号", "需求名称", "所属区", "专家", "签约日期",
                                  "合同金额（万元）"],
                          [[m.demand.code, m.demand.title, m.demand.district.name,
                            m.expert.name, _signed_at(m).date(), m.contract_amount or ""]
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


# --- quota table ----------------------------------------------------------------------------
@dataclass
class QuotaRow:
    """One district of the quota table, with the headcount actually serving on a day."""

    district: District
    existing: int
    new: int
    total: int
    actual: int
    source_year: int | None  # the year whose quota row applies (None: no quota yet)

    @property
    def gap(self) -> int:
        """Return how many liaisons are missing against the total (0 when filled)."""
        return max(0, self.total - self.actual)


@dataclass
class QuotaTable:
    """Attachment 1 for a year: rows, totals and the day the headcount was taken."""

    year: int
    on: date
    rows: list[QuotaRow]

    def total(self, attr: str) -> int:
        """Return the sum of a column (existing, new, total, actual, gap)."""
        return sum(getattr(r, attr) for r in self.rows)

    @property
    def inherited(self) -> bool:
        """Return whether some rows come from an earlier year (no row of this year yet)."""
        return any(r.source_year != self.year for r in self.rows)


def quota_table(session: Session, year: int, *, on: date | None = None) -> QuotaTable:
    """Return the quota table of a year and each district's headcount on `on`."""
    if on is None:
        today = clock.today()
        on = today if today.year == year else date(year, 12, 31) if year < today.year \
            else date(year, 1, 1)
    rows = []
    for d in _districts(session, None):
        q = quota_for(session, d, year)
        rows.append(QuotaRow(d, q.existing if q else 0, q.new if q else 0, q.total if q else 0,
                             headcount(session, d.id, on), q.year if q else None))
    return QuotaTable(year, on, rows)


def save_quota(session: Session, year: int,
               values: dict[int, tuple[int, int]]) -> list[DistrictQuota]:
    """Write the quota rows of a year: {district_id: (existing, new)}; total = existing + new."""
    if not 2000 <= year <= 2100:
        raise DomainError("年份不正确。", field="year")
    districts = {d.id: d for d in _districts(session, None)}
    errors = []
    for did, (existing, new) in values.items():
        if did not in districts:
            raise NotFound("区不存在。")
        if existing < 0 or new < 0:
            errors.append({"row": districts[did].seq, "column": districts[did].name,
                           "message": "人数不能为负数"})
    if errors:
        raise DomainError("指标人数不能为负数。", errors=errors)
    current = {q.district_id: q for q in session.scalars(
        select(DistrictQuota).where(DistrictQuota.year == year))}
    out = []
    for did, (existing, new) in values.items():
        q = current.get(did)
        if q is None:
            q = DistrictQuota(district_id=did, year=year)
            session.add(q)
        q.existing, q.new, q.total = existing, new, existing + new
        q.updated_at = datetime.now(UTC)
        out.append(q)
    session.flush()
    return out


# --- roster and replacements -----------------------------------------------------------------
def roster(session: Session, district_id: int, *, on: date | None = None,
           include_ended: bool = False) -> list[Liaison]:
    """Return a district's liaisons serving on `on` (or all of them, ended ones included)."""
    on = on or clock.today()
    stmt = (select(Liaison).options(selectinload(Liaison.parks), selectinload(Liaison.enterprises))
            .where(Liaison.kind == "district", Liaison.district_id == district_id)
            .order_by(Liaison.start_date, Liaison.id))
    if not include_ended:
        stmt = stmt.where((Liaison.start_date.is_(None)) | (Liaison.start_date <= on),
                          (Liaison.end_date.is_(None)) | (Liaison.end_date >= on))
    return list(session.scalars(stmt))


def campus_roster(session: Session, *, include_ended: bool = False) -> list[Liaison]:
    """Return the campus liaisons ordered by institution."""
    stmt = (select(Liaison).options(selectinload(Liaison.institution))
            .where(Liaison.kind == "campus").order_by(Liaison.institution_id, Liaison.id))
    if not include_ended:
        stmt = stmt.where(Liaison.end_date.is_(None) | (Liaison.end_date >= clock.today()))
    return list(session.scalars(stmt))


@dataclass
class LiaisonInput:
    """The roster fields of attachment 2 (plus the dates the rules need)."""

    name: str
    employer_post: str = ""
    phone: str = ""
    email: str = ""
    start_date: date | None = None
    park_ids: Sequence[int] = ()
    enterprise_ids: Sequence[int] = ()
    institution_id: int | None = None


def _check_input(data: LiaisonInput) -> None:
    errors = {}
    if not data.name.strip():
        errors["name"] = "请填写姓名"
    elif len(data.name.strip()) > 40:
        errors["name"] = "姓名过长"
    phone = data.phone.strip()
    if phone and not all(ch.isdigit() or ch in "-+ " for ch in phone):
        errors["phone"] = "联系电话只能包含数字和-"
    if data.start_date is None:
        errors["start_date"] = "请填写任职起始日期"
    if errors:
        first = next(iter(errors))
        raise DomainError(errors[first], field=first,
                          errors=[{"field": k, "message": v} for k, v in errors.items()])


def _assign(session: Session, li: Liaison, data: LiaisonInput) -> None:
    parks = list(session.scalars(select(Park).where(Park.id.in_(list(data.park_ids)))))
    ents = list(session.scalars(select(Enterprise).where(
        Enterprise.id.in_(list(data.enterprise_ids)))))
    if li.kind == "district":
        if any(p.district_id != li.district_id for p in parks):
            raise DomainError("只能分配本区的产业园区、孵化器。", field="park_ids")
        if any(e.district_id != li.district_id for e in ents):
            raise DomainError("只能分配本区的重点企业。", field="enterprise_ids")
    li.parks = parks
    li.enterprises = ents


def save_liaison(session: Session, data: LiaisonInput, *, liaison: Liaison | None = None,
                 kind: str = "district", district_id: int | None = None) -> Liaison:
    """Create or update a liaison with the roster fields and assignments."""
    _check_input(data)
    if liaison is None:
        if kind == "district" and district_id is None:
            raise DomainError("请选择所属区。", field="district_id")
        if kind == "campus" and data.institution_id is None:
            raise DomainError("请选择所驻高校院所。", field="institution_id")
        liaison = Liaison(kind=kind, district_id=district_id if kind == "district" else None)
        session.add(liaison)
    liaison.name = data.name.strip()
    liaison.employer_post = data.employer_post.strip() or None
    liaison.phone = data.phone.strip() or None
    liaison.email = data.email.strip() or None
    liaison.start_date = data.start_date
    if liaison.kind == "campus":
        liaison.institution_id = data.institution_id
    _assign(session, liaison, data)
    session.flush()
    return liaison


def replace_liaison(session: Session, old: Liaison, *, end_date: date, end_reason: str,
                    new: LiaisonInput, filed_on: date | None = None,
                    keep_assignments: bool = True) -> Liaison:
    """End a liaison's service and appoint the successor; the filing date may come later."""
    if old.end_date is not None:
        raise Conflict(f"{old.name}已于{old.end_date:%Y-%m-%d}离任，不能重复替换。")
    if not end_reason.strip():
        raise DomainError("请填写离任原因。", field="end_reason")
    if old.start_date and end_date < old.start_date:
        raise DomainError("离任日期不能早于任职起始日期。", field="end_date")
    if new.start_date is None:
        new.start_date = end_date + timedelta(days=1)
    if new.start_date < end_date:
        raise DomainError("接替人员的任职日期不能早于原联络员离任日期。", field="start_date")
    if filed_on is not None and filed_on < end_date:
        raise DomainError("备案日期不能早于离任日期。", field="filed_on")
    if keep_assignments and not new.park_ids and not new.enterprise_ids:
        new.park_ids = [p.id for p in old.parks]
        new.enterprise_ids = [e.id for e in old.enterprises]
    successor = save_liaison(session, new, kind=old.kind, district_id=old.district_id)
    if old.kind == "campus":
        successor.institution_id = old.institution_id
    successor.replaces = old
    successor.filed_on = filed_on
    old.end_date = end_date
    old.end_reason = end_reason.strip()
    session.flush()
    return successor


def file_replacement(session: Session, successor: Liaison, filed_on: date) -> Liaison:
    """Record the day a replacement was filed with the city bureau."""
    if successor.replaces_id is None:
        raise Conflict("该联络员不是接替人员，无需备案。")
    ended = successor.replaces.end_date if successor.replaces else None
    if ended and filed_on < ended:
        raise DomainError("备案日期不能早于离任日期。", field="filed_on")
    successor.filed_on = filed_on
    session.flush()
    return successor


def replacements(session: Session, district_id: int | None = None) -> list[Liaison]:
    """Return the successors (with `.replaces`), newest first; filter by district."""
    stmt = (select(Liaison).options(selectinload(Liaison.replaces), selectinload(Liaison.district))
            .where(Liaison.replaces_id.is_not(None))
            .order_by(Liaison.start_date.desc(), Liaison.id.desc()))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    return list(session.scalars(stmt))


# --- trainings, cases, assessments ----------------------------------------------------------
def save_training(session: Session, *, district_id: int, held_on: date | None, topic: str,
                  attendee_ids: Sequence[int] = (), attendee_count: int | None = None,
                  notes: str = "", training: Training | None = None) -> Training:
    """Create or update a training; attendees must be the district's liaisons."""
    if held_on is None:
        raise DomainError("请填写培训日期。", field="held_on")
    if not topic.strip():
        raise DomainError("请填写培训主题。", field="topic")
    people = list(session.scalars(select(Liaison).where(Liaison.id.in_(list(attendee_ids)))))
    if any(p.district_id != district_id for p in people):
        raise DomainError("参训人员只能选择本区联络员。", field="attendee_ids")
    if training is None:
        training = Training(district_id=district_id)
        session.add(training)
    training.held_on = held_on
    training.topic = topic.strip()
    training.attendees = people
    count = attendee_count if attendee_count is not None else 0
    if count < 0:
        raise DomainError("参训人数不能为负数。", field="attendee_count")
    training.attendee_count = max(count, len(people))
    training.notes = notes.strip() or None
    session.flush()
    return training


def save_case(session: Session, *, district_id: int, year: int, title: str, summary: str = "",
              liaison_id: int | None = None, enterprise_name: str = "", expert_name: str = "",
              contract_amount: float | None = None, status: str = "draft",
              case: Case | None = None) -> Case:
    """Create or update a typical case (draft or reported)."""
    if not title.strip():
        raise DomainError("请填写案例标题。", field="title")
    if status not in ("draft", "reported"):
        raise DomainError("案例状态不正确。", field="status")
    if contract_amount is not None and contract_amount < 0:
        raise DomainError("合同金额不能为负数。", field="contract_amount")
    if liaison_id is not None:
        li = session.get(Liaison, liaison_id)
        if li is None or li.district_id != district_id:
            raise DomainError("联络员须为本区联络员。", field="liaison_id")
    if case is None:
        case = Case(district_id=district_id)
        session.add(case)
    case.year, case.title, case.summary = year, title.strip(), summary.strip()
    case.liaison_id = liaison_id
    case.enterprise_name = enterprise_name.strip() or None
    case.expert_name = expert_name.strip() or None
    case.contract_amount = contract_amount
    case.status = status
    session.flush()
    return case


def _meeting_for(session: Session, demand_id: int, expert_id: int) -> MatchmakingMeeting | None:
    """Return the meeting where the pair met (a 1:1 slot), or one where the demand was placed."""
    slot = session.scalar(
        select(MatchmakingMeeting).join(MeetingSession).join(MeetingSlot)
        .where(MeetingSlot.demand_id == demand_id, MeetingSlot.expert_id == expert_id)
        .order_by(MatchmakingMeeting.held_on))
    if slot is not None:
        return slot
    return session.scalar(
        select(MatchmakingMeeting).join(MeetingSession).join(SessionDemand)
        .where(SessionDemand.demand_id == demand_id).order_by(MatchmakingMeeting.held_on))


def draft_case_from_match(session: Session, match_id: int, *,
                          today: date | None = None) -> Case:
    """Assemble enterprise, demand, expert, meeting and contract into an editable draft case."""
    match = session.get(Match, match_id)
    if match is None:
        raise NotFound("对接记录不存在。")
    if match.status not in FINISHED_MATCH:
        raise Conflict("只有已签约的对接才能生成典型案例草稿。")
    existing = session.scalar(select(Case).where(Case.match_id == match.id))
    if existing is not None:
        return existing
    demand: Demand = match.demand
    expert: Expert = match.expert
    ent = demand.enterprise
    liaison = demand.liaison
    meeting = _meeting_for(session, demand.id, expert.id)
    signed = _signed_at(match)
    year = signed.year if signed else (today or clock.today()).year
    inst = expert.institution.name if expert.institution else ""
    expert_label = f"{inst}{expert.name}{expert.title or ''}团队"
    parts = []
    if liaison is not None:
        parts.append(f"联络员{liaison.name}走访{ent.name}，了解到企业在“{demand.title}”方面的"
                     "技术需求，协助企业凝练需求")
    else:
        parts.append(f"{ent.name}提出“{demand.title}”技术需求")
    if demand.published_at:
        parts.append(f"于{clock.local_time(demand.published_at):%Y年%m月%d日}在武汉科技成果转化平台公开发布")
    if demand.problem:
        parts.append(f"企业面临的技术难题：{demand.problem.splitlines()[0][:120]}")
    if meeting is not None:
        when = f"{meeting.held_on:%Y年%m月%d日}" if meeting.held_on else ""
        parts.append(f"经{when}“{meeting.title}”对接推荐，企业与{expert_label}建立联系")
    else:
        parts.append(f"经平台推荐，企业与{expert_label}建立联系")
    outcome = "双方签订技术合同"
    if match.contract_amount:
        outcome += f"，合同金额{match.contract_amount:g}万元"
    if signed:
        outcome = f"{signed:%Y年%m月}，" + outcome
    parts.append(outcome)
    title = f"联络员助力{ent.name}对接{inst}{expert.name}团队解决{demand.title}"
    if liaison is not None:
        title = f"联络员{liaison.name}助力{ent.name}对接{inst}{expert.name}团队"
    case = Case(district_id=demand.district_id, year=year, title=title[:200],
                liaison_id=demand.liaison_id, demand_id=demand.id, match_id=match.id,
                meeting_id=meeting.id if meeting else None, enterprise_name=ent.name,
                expert_name=f"{inst} {expert.name}".strip(), contract_amount=match.contract_amount,
                summary="；".join(parts) + "。", status="draft")
    session.add(case)
    session.flush()
    return case


def finished_matches(session: Session, district_id: int | None = None,
                     limit: int = 200) -> list[Match]:
    """Return signed matches without a case yet, newest first (candidates for a draft)."""
    taken = select(Case.match_id).where(Case.match_id.is_not(None))
    stmt = (select(Match).join(Demand).where(Match.status.in_(FINISHED_MATCH),
                                             Match.id.not_in(taken))
            .order_by(Match.updated_at.desc()).limit(limit))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    return list(session.scalars(stmt))


def save_assessment(session: Session, *, liaison_id: int, year: int, result: str,
                    reviewer: str, assessed_on: date | None, score: float | None = None,
                    comment: str = "", assessment: Assessment | None = None) -> Assessment:
    """Create or update the yearly assessment of a liaison (one per liaison and year)."""
    if result not in ASSESSMENT_RESULTS:
        raise DomainError("请选择考核结果。", field="result")
    if not reviewer.strip():
        raise DomainError("请填写考核人。", field="reviewer")
    if assessed_on is None:
        raise DomainError("请填写考核日期。", field="assessed_on")
    if score is not None and not 0 <= score <= 100:
        raise DomainError("考核分数应在 0-100 之间。", field="score")
    li = session.get(Liaison, liaison_id)
    if li is None:
        raise NotFound("联络员不存在。")
    if assessment is None:
        dup = session.scalar(select(Assessment).where(Assessment.liaison_id == liaison_id,
                                                      Assessment.year == year))
        if dup is not None:
            raise Conflict(f"{li.name}的{year}年度考核已登记。")
        assessment = Assessment(liaison_id=liaison_id, year=year)
        session.add(assessment)
    assessment.result = result
    assessment.reviewer = reviewer.strip()
    assessment.assessed_on = assessed_on
    assessment.score = score
    assessment.comment = comment.strip() or None
    session.flush()
    return assessment


def due_for_assessment(session: Session, year: int,
                       district_id: int | None = None) -> list[Liaison]:
    """Return the liaisons due for assessment in `year` who have no assessment row for it."""
    ids = [d.id for d in _districts(session, district_id)]
    done = set(session.scalars(select(Assessment.liaison_id).where(Assessment.year == year)))
    return [li for li in _district_liaisons(session, ids, year)
            if assessment_due(li, year) and li.id not in done]
