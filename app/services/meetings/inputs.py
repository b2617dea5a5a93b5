"""The plan form: what the organiser asks for, validated with Chinese messages naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from app import clock
from app.errors import DomainError, Forbidden
from app.policy.roles import Role

#: The agenda the form starts from: four slots a day, four rooms.
DEFAULT_SLOTS = "09:00-10:30, 10:45-12:15, 14:00-15:30, 15:45-17:15"
DEFAULT_ROOMS = "1号厅:80, 2号厅:60, 3号厅:60, 4号厅:40"
_SPLIT = re.compile(r"[,，、;；\n]+")


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
    intro_minutes: int = 30
    pairs_per_demand: int = 2
    demand_ids: tuple[int, ...] | None = None  # an explicit pick overrides the filters
    n_days: int = 1
    slot_times: tuple[tuple[str, str], ...] = ()
    rooms: tuple[tuple[str, int], ...] = ()
    people: tuple[dict[str, Any], ...] = ()

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
            "intro_minutes": self.intro_minutes, "pairs_per_demand": self.pairs_per_demand,
            "n_days": self.n_days, "slot_times": [list(s) for s in self.slot_times],
            "rooms": [list(r) for r in self.rooms], "people": [dict(p) for p in self.people],
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
    n_days = _int_field(data, "n_days", "会议天数", 1, lo=1, hi=7)
    if held_on is not None and held_on < clock.today():
        raise DomainError(f"会议日期 {held_on.isoformat()} 早于今天"
                          f"（{clock.today().isoformat()}）：新的对接会不能安排在过去。",
                          field="held_on")
    slot_times = parse_slot_times(data.get("slot_times"))
    rooms = parse_rooms(data.get("rooms"))
    people = parse_people(data.get("people"), len(slot_times) * (n_days or 1))
    return PlanInput(
        title=title, held_on=held_on, venue=venue, district_id=district_id,
        period_from=period_from, period_to=period_to,
        industry_ids=_ids(multi.get("industry_ids", data.get("industry_ids"))),
        field_ids=_ids(multi.get("field_ids", data.get("field_ids"))),
        min_demands=lo, max_demands=hi, n_sessions=n_sessions, seats=seats or 3,
        max_sessions_per_expert=per_expert, slot_minutes=slot_minutes or 20,
        tables=tables or 4, intro_minutes=intro if intro is not None else 30,
        pairs_per_demand=pairs or 2,
        demand_ids=_ids(multi["demand_ids"]) if multi.get("demand_ids") else None,
        n_days=n_days or 1, slot_times=slot_times, rooms=rooms, people=people,
    )


def _text(raw: Any, default: str) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    return text or default


def parse_slot_times(raw: Any) -> tuple[tuple[str, str], ...]:
    """Parse "09:00-10:30, 10:45-12:15" into the day's slots; raise DomainError on a bad one."""
    out: list[tuple[time, time]] = []
    for part in [p.strip() for p in _SPLIT.split(_text(raw, DEFAULT_SLOTS)) if p.strip()]:
        bits = re.split(r"\s*[-–~—至到]\s*", part)
        try:
            start, end = (time.fromisoformat(b.strip()) for b in bits)
        except ValueError:
            raise DomainError(f"时段“{part}”格式应为 HH:MM-HH:MM（如 09:00-10:30）。",
                              field="slot_times") from None
        if end <= start:
            raise DomainError(f"时段“{part}”的结束时间不晚于开始时间。", field="slot_times")
        if out and start < out[-1][1]:
            raise DomainError(f"时段“{part}”与前一个时段重叠或先后颠倒："
                              "请按时间顺序填写不重叠的时段。", field="slot_times")
        out.append((start, end))
    if len(out) > 12:
        raise DomainError(f"每天最多 12 个时段，现有 {len(out)} 个。", field="slot_times")
    return tuple((s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in out)


def parse_rooms(raw: Any) -> tuple[tuple[str, int], ...]:
    """Parse "1号厅:80, 2号厅:60" into rooms with capacities; raise DomainError on a bad one."""
    out: list[tuple[str, int]] = []
    for part in [p.strip() for p in _SPLIT.split(_text(raw, DEFAULT_ROOMS)) if p.strip()]:
        name, sep, cap = part.replace("：", ":").rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise DomainError(f"会议室“{part}”应写成“名称:容纳人数”（如 1号厅:80）。",
                              field="rooms")
        if not cap.strip().isdigit() or int(cap) < 1:
            raise DomainError(f"会议室“{name}”的容纳人数应为正整数，而不是“{cap.strip()}”。",
                              field="rooms")
        if len(name) > 100:
            raise DomainError(f"会议室名称“{name[:20]}…”超过 100 字。", field="rooms")
        if name in {n for n, _ in out}:
            raise DomainError(f"会议室“{name}”填写了两次。", field="rooms")
        out.append((name, int(cap)))
    if len(out) > 50:
        raise DomainError(f"最多 50 间会议室，现有 {len(out)} 间。", field="rooms")
    return tuple(out)


def parse_people(raw: Any, n_slots: int) -> tuple[dict[str, Any], ...]:
    """Parse per-person limits, one a line: "专家 张三 | 1,2,5 | 上限 2 | 至少 1".

    The first cell names an expert (专家) or investor (创投) by name or id; then the slots
    they can attend (numbers over all days, empty for any), their cap of sessions and their
    minimum load (experts only). Names are resolved against the database when planning.
    """
    out: list[dict[str, Any]] = []
    text = raw.strip() if isinstance(raw, str) else ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in re.split(r"[|｜]", line)]
        head = cells[0].split(None, 1)
        if len(head) != 2 or head[0] not in ("专家", "创投"):
            raise DomainError(f"人员限制第 {number} 行应以“专家 姓名”或“创投 机构名”开头。",
                              field="people")
        entry: dict[str, Any] = {"kind": "expert" if head[0] == "专家" else "investor",
                                 "ref": head[1].strip(), "line": number}
        for cell in cells[1:]:
            if not cell:
                continue
            label = re.match(r"^(上限|至少)\s*(.*)$", cell)
            if label:
                key = "cap" if label.group(1) == "上限" else "min"
                if not label.group(2).isdigit():
                    raise DomainError(f"人员限制第 {number} 行的“{label.group(1)}”应为整数。",
                                      field="people")
                if key == "min" and entry["kind"] != "expert":
                    raise DomainError(f"人员限制第 {number} 行：最少场次只适用于专家。",
                                      field="people")
                entry[key] = int(label.group(2))
                continue
            slots = [s for s in _SPLIT.split(cell.replace(" ", ",")) if s]
            if not all(s.isdigit() and 1 <= int(s) <= n_slots for s in slots):
                raise DomainError(f"人员限制第 {number} 行的时段“{cell}”应为 1–{n_slots} 之间的"
                                  "时段序号（按天依次编号）。", field="people")
            entry["slots"] = sorted({int(s) for s in slots})
        out.append(entry)
    return tuple(out)
