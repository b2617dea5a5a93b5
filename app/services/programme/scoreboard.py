"""The yearly scoreboard: every rule of the notice per district, liaison and city."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Assessment,
    Case,
    District,
    DistrictQuota,
    Liaison,
    Training,
)

from ... import clock
from ..reference_data import headcount, quota_for
from .queries import (
    district_liaisons,
    districts_of,
    published_in_year,
    signed_matches,
)
from .rules import (
    AT_RISK,
    MET,
    MISSED,
    NA,
    RULE_LABELS,
    RULES,
    STATUS_LABELS,
    TRAININGS_PER_DISTRICT,
    YearWindow,
    assessment_due,
    case_target,
    count_status,
    demand_target,
    service_window,
    worst,
)


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



def scoreboard(session: Session, year: int, *, district_id: int | None = None,
               today: date | None = None) -> Scoreboard:
    """Compute every rule of the notice for the year, per district and per liaison."""
    window = YearWindow(year, today or clock.today())
    districts = districts_of(session, district_id)
    ids = [d.id for d in districts]
    liaisons = district_liaisons(session, ids, year)
    published = published_in_year(session, ids, window)
    trainings = list(session.scalars(
        select(Training).options(selectinload(Training.attendees))
        .where(Training.district_id.in_(ids), Training.held_on >= window.start,
               Training.held_on <= window.end)))
    cases = list(session.scalars(select(Case).where(
        Case.district_id.in_(ids), Case.year == year, Case.status == "reported")))
    assessments = {a.liaison_id: a for a in session.scalars(
        select(Assessment).where(Assessment.year == year,
                                 Assessment.liaison_id.in_([li.id for li in liaisons])))}
    signed = signed_matches(session, ids, window)

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
