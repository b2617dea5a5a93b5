"""The rules of the notice: targets, the year's phase and how a count is judged.

Statuses (see docs/programme.md):

- ``met`` 达标: the target of the year is reached.
- ``on_track`` 进度正常: current year, not reached yet, but not behind the pro-rata pace.
- ``at_risk`` 有风险: current year, behind the pro-rata pace (or a quota vacancy today).
- ``missed`` 未达标: the year (or the liaison's service in it) is over and the target is not met.
- ``na`` 不适用: the rule does not apply (no liaisons, target 0, not due for assessment).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from models import Liaison

from ... import clock
from ...policy.statuses import ENGAGED_MATCH_STATUSES

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
# Match statuses that mean the campus side accepted (or went further): the policy's group.
ACCEPTED_OR_LATER = ENGAGED_MATCH_STATUSES
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
    """Return [start, end) of a Beijing-time year (or one of its months) as UTC instants."""
    return clock.year_bounds(year) if month is None else clock.month_bounds(year, month)


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


def in_year(value: datetime | None, year: int) -> bool:
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




def case_target(headcount_: int) -> int:
    """Return the typical-case target: at least 30% of the liaison headcount, rounded up."""
    return math.ceil(round(CASE_SHARE * headcount_, 6))
