"""The plan form: what the organiser asks for, validated with Chinese messages naming the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from app.errors import DomainError, Forbidden
from app.policy.roles import Role


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
    if getattr(user, "role", None) == Role.DISTRICT_ADMIN:
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
