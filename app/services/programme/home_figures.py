"""The home page's figures for the signed-in user, taken from the scoreboard (one rule home)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Demand, Expert, Match

from ... import clock
from ...policy.roles import DISTRICT_ROLES, Role
from ...policy.statuses import ENGAGED_MATCH_STATUSES
from .queries import signed_at
from .rules import DEMANDS_PER_LIAISON, TRAININGS_PER_DISTRICT, in_year
from .scoreboard import scoreboard


@dataclass
class Figure:
    """One number on the home page, optionally against the notice's yearly rule."""

    label: str
    value: int | float | None
    target: int | float | None = None
    unit: str = ""
    note: str = ""
    status: str | None = None  # the rule's standing (rules.MET ...), as on the dashboard

    @property
    def state(self) -> str:
        """Return the standing to show: the rule's, or met / short against the target."""
        if self.status is not None:
            return self.status
        if self.target is None or self.value is None:
            return "none"
        return "met" if self.value >= self.target else "short"


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def _signed_in_year(session: Session, where: Any, year: int) -> list[Match]:
    stmt = select(Match).join(Demand).join(Expert, Expert.id == Match.expert_id).where(
        Match.status == "signed", where)
    return [m for m in session.scalars(stmt) if in_year(signed_at(m), year)]


def figures(session: Session, user: Any, year: int, *, today: date | None = None) -> list[Figure]:
    """Return the user's figures for a year, judged by the same rules as the dashboard."""
    today = today or clock.today()
    lo, hi = clock.year_bounds(year)
    n_demands = select(func.count()).select_from(Demand)
    role = user.role
    if role == Role.DISTRICT_LIAISON:
        mine = (Demand.liaison_id == user.liaison_id) if user.liaison_id else (
            Demand.district_id == user.district_id)
        board = scoreboard(session, year, district_id=user.district_id, today=today)
        me = next((p for d in board.districts for p in d.liaisons
                   if p.liaison.id == user.liaison_id), None)
        published = me.demands_published if me else _count(session, n_demands.where(
            mine, Demand.published_at >= lo, Demand.published_at < hi))
        return [
            Figure("本年登记需求", _count(session, n_demands.where(
                mine, Demand.created_at >= lo, Demand.created_at < hi)), unit="项"),
            Figure("本年发布需求", published, target=me.demand_target if me else None, unit="项",
                   status=me.demands_status if me else None,
                   note=f"通知要求每名联络员每年至少发布 {DEMANDS_PER_LIAISON} 项有效需求"
                        "（年中到任按在岗天数折算）"),
            Figure("本年推荐对接", _count(session, select(func.count()).select_from(Match)
                                       .join(Demand).where(mine, Match.created_at >= lo,
                                                           Match.created_at < hi)), unit="次"),
            Figure("本年签约", len(_signed_in_year(session, mine, year)), unit="项",
                   note="按签约日期计"),
        ]
    if role in DISTRICT_ROLES or role == Role.CITY_ADMIN:
        district_id = user.district_id if role in DISTRICT_ROLES else None
        board = scoreboard(session, year, district_id=district_id, today=today)
        rules = board.districts[0].rules if district_id is not None else board.totals
        signed = sum(d.signed for d in board.districts)
        return [
            Figure("在岗区派联络员", int(rules["quota"].actual), status=rules["quota"].status,
                   target=int(rules["quota"].target) or None, unit="人",
                   note="对照附件1指标分解表"),
            Figure("本年发布需求", int(rules["demands"].actual), status=rules["demands"].status,
                   target=int(rules["demands"].target) or None, unit="项",
                   note=f"每名联络员每年至少 {DEMANDS_PER_LIAISON} 项（按在岗天数折算）"),
            Figure("本年培训会", int(rules["training"].actual), status=rules["training"].status,
                   target=int(rules["training"].target) or None, unit="场",
                   note=f"每区每年至少 {TRAININGS_PER_DISTRICT} 场"),
            Figure("本年典型案例", int(rules["cases"].actual), status=rules["cases"].status,
                   target=int(rules["cases"].target) or None, unit="个",
                   note="已报送案例，不少于联络员人数的 30%"),
            Figure("本年签约对接", signed, unit="项", note="按签约日期计"),
        ]
    if role == Role.CAMPUS_LIAISON:
        inst = Expert.institution_id == user.institution_id
        n_matches = select(func.count()).select_from(Match).join(
            Expert, Expert.id == Match.expert_id)
        this_year = (Match.created_at >= lo, Match.created_at < hi)
        return [
            Figure("本单位专家", _count(session, select(func.count()).select_from(Expert)
                                      .where(inst)), unit="人"),
            Figure("本年收到对接", _count(session, n_matches.where(inst, *this_year)), unit="次"),
            Figure("本年已接受", _count(session, n_matches.where(
                inst, Match.status.in_(ENGAGED_MATCH_STATUSES), *this_year)), unit="次"),
            Figure("本年签约", len(_signed_in_year(session, inst, year)), unit="项",
                   note="按签约日期计"),
        ]
    return []
