"""Place the sessions of a meeting in its time slots and rooms.

Nobody (expert, demand owner, investor) is in two sessions of one slot, every room seats its
session, a person with stated availability only gets slots they can attend, and pinned
sessions stay where the organiser put them. A greedy pass (most constrained session first,
into the slot that blocks the fewest other sessions and the smallest room that fits) places
most instances; when it leaves sessions out and the instance is small enough, an exact
integer program (scipy's HiGHS ``milp``) maximises the number of placed sessions. Sessions that
still cannot be placed are listed with the reason, and the advice says what to change: add a
slot or a room (the smallest number that works, found by re-solving), split an oversized
session, free a person who is booked more often than they have slots, or drop named sessions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from matching.planning.records import (
    Agenda,
    Placement,
    PlanningError,
    Room,
    SessionNeeds,
    TimeSlot,
)

__all__ = ["check_grid", "place_sessions", "solve_exact"]

#: Above this many (session, slot, room) variables the exact program is not tried.
EXACT_LIMIT = 60_000


@dataclass
class _Problem:
    sessions: list[SessionNeeds]
    slots: list[TimeSlot]
    rooms: list[Room]  # by capacity, smallest first
    allowed: list[list[int]]  # slot indices each session may use
    fits: list[list[int]]  # room indices that seat each session
    people: list[frozenset[Hashable]]
    pins: dict[int, tuple[int, int]]
    labels: Mapping[Hashable, str]

    def label(self, s: int) -> str:
        return self.sessions[s].label or self.sessions[s].key

    def who(self, person: Hashable) -> str:
        return self.labels.get(person) or str(person)


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral | float):
        raise PlanningError(f"{what}应为正整数，而不是“{value}”", "input")
    if isinstance(value, float) and not value.is_integer():
        raise PlanningError(f"{what}应为正整数，而不是 {value}", "input")
    if int(value) < 1:
        raise PlanningError(f"{what}应至少为 1，而不是 {int(value)}", "input")
    return int(value)


def check_grid(slots: Sequence[TimeSlot], rooms: Sequence[Room]) -> None:
    """Check the meeting's slots and rooms; raise PlanningError naming the bad entry."""
    if not slots:
        raise PlanningError("会议没有时段：请至少设置 1 个时段", "agenda")
    if not rooms:
        raise PlanningError("会议没有会议室：请至少设置 1 间会议室", "agenda")
    for kind, items in (("时段", slots), ("会议室", rooms)):
        seen: set[str] = set()
        for item in items:
            if item.key in seen:
                raise PlanningError(
                    f"{kind}“{item.key}”出现了两次：每个{kind}只能设置一次", "agenda"
                )
            seen.add(item.key)
    for room in rooms:
        _positive_int(room.capacity, f"会议室“{room.name or room.key}”的容量")
    for slot in slots:
        if slot.rounds is not None and (isinstance(slot.rounds, bool) or int(slot.rounds) < 0):
            raise PlanningError(f"时段“{slot.label or slot.key}”的洽谈轮数不能为负数", "agenda")


def _problem(
    sessions: Sequence[SessionNeeds],
    slots: Sequence[TimeSlot],
    rooms: Sequence[Room],
    availability: Mapping[Hashable, Iterable[str]] | None,
    labels: Mapping[Hashable, str] | None,
) -> _Problem:
    check_grid(slots, rooms)
    keys = [s.key for s in sessions]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise PlanningError(f"分场 {dup} 出现了两次", "input")
    slot_index = {t.key: i for i, t in enumerate(slots)}
    ordered_rooms = sorted(rooms, key=lambda r: (int(r.capacity), r.key))
    room_index = {r.key: i for i, r in enumerate(ordered_rooms)}
    avail: dict[Hashable, set[int]] = {}
    for person, keys_of in (availability or {}).items():
        chosen = set()
        for k in keys_of:
            if k not in slot_index:
                name = (labels or {}).get(person) or str(person)
                raise PlanningError(f"{name} 的可参加时段“{k}”不是本次会议的时段", "availability")
            chosen.add(slot_index[k])
        avail[person] = chosen
    allowed, fits, people, pins = [], [], [], {}
    for s, need in enumerate(sessions):
        size = need.size
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 0:
            raise PlanningError(f"分场 {need.label or need.key} 的人数应为非负整数", "input")
        group = frozenset(need.people)
        ok = set(range(len(slots)))
        for p in group:
            if p in avail:
                ok &= avail[p]
        allowed.append(sorted(ok))
        fits.append([i for i, r in enumerate(ordered_rooms) if int(r.capacity) >= size])
        people.append(group)
        if need.pin is not None:
            slot_key, room_key = need.pin
            if slot_key not in slot_index:
                raise PlanningError(
                    f"分场 {need.label or need.key} 被固定在时段“{slot_key}”，但本次会议没有该时段",
                    "pin",
                )
            if room_key not in room_index:
                raise PlanningError(
                    f"分场 {need.label or need.key} 被固定在会议室“{room_key}”，"
                    "但本次会议没有该会议室",
                    "pin",
                )
            pins[s] = (slot_index[slot_key], room_index[room_key])
    problem = _Problem(
        list(sessions), list(slots), ordered_rooms, allowed, fits, people, pins, labels or {}
    )
    _check_pins(problem)
    return problem


def _check_pins(pb: _Problem) -> None:
    cells: dict[tuple[int, int], int] = {}
    busy: dict[tuple[Hashable, int], int] = {}
    for s, (t, r) in pb.pins.items():
        room, slot = pb.rooms[r], pb.slots[t]
        if (t, r) in cells:
            raise PlanningError(
                f"{pb.label(cells[(t, r)])} 与 {pb.label(s)} 被固定在同一时段的同一会议室"
                f"（{slot.label or slot.key}，{room.name or room.key}）：请解除其中一个的固定",
                "pin",
            )
        cells[(t, r)] = s
        if r not in pb.fits[s]:
            raise PlanningError(
                f"{pb.label(s)} 预计 {pb.sessions[s].size} 人，"
                f"固定的会议室“{room.name or room.key}”"
                f"只能容纳 {room.capacity} 人：请换一间会议室或解除固定",
                "pin",
            )
        if t not in pb.allowed[s]:
            raise PlanningError(
                f"{pb.label(s)} 被固定在“{slot.label or slot.key}”，"
                "但该场有人员在这个时段不能参加："
                "请调整固定时段或人员的可参加时段",
                "pin",
            )
        for p in pb.people[s]:
            if (p, t) in busy:
                raise PlanningError(
                    f"{pb.who(p)} 同时出现在固定于同一时段的 {pb.label(busy[(p, t)])} 和 "
                    f"{pb.label(s)}：请把其中一场固定到别的时段",
                    "pin",
                )
            busy[(p, t)] = s


def _greedy(pb: _Problem) -> dict[int, tuple[int, int]]:
    """Place pinned sessions, then the most constrained session first; return s -> (t, r)."""
    n_slots = len(pb.slots)
    busy: list[set[Hashable]] = [set() for _ in range(n_slots)]
    free_rooms: list[set[int]] = [set(range(len(pb.rooms))) for _ in range(n_slots)]
    placed: dict[int, tuple[int, int]] = {}
    for s, (t, r) in pb.pins.items():
        placed[s] = (t, r)
        busy[t] |= pb.people[s]
        free_rooms[t].discard(r)
    neighbours: dict[int, set[int]] = defaultdict(set)
    by_person: dict[Hashable, list[int]] = defaultdict(list)
    for s, group in enumerate(pb.people):
        for p in group:
            by_person[p].append(s)
    for members in by_person.values():
        for s in members:
            neighbours[s].update(m for m in members if m != s)
    fit_sets = [set(f) for f in pb.fits]

    def options(s: int) -> list[int]:
        return [
            t for t in pb.allowed[s] if not (busy[t] & pb.people[s]) and free_rooms[t] & fit_sets[s]
        ]

    left = [s for s in range(len(pb.sessions)) if s not in placed]
    while left:
        opts = {s: options(s) for s in left}
        s = min(
            left,
            key=lambda x: (
                len(opts[x]),
                -len(neighbours[x]),
                -pb.sessions[x].size,
                pb.sessions[x].key,
            ),
        )
        left.remove(s)
        if not opts[s]:
            continue

        def damage(t: int, s: int = s, opts: dict[int, list[int]] = opts) -> tuple[int, int]:
            blocked = sum(1 for m in neighbours[s] if m in opts and m != s and t in opts[m])
            return (blocked, t)  # then the earliest slot: a compact agenda

        t = min(opts[s], key=damage)
        r = min(free_rooms[t] & fit_sets[s])  # rooms are ordered by capacity: best fit
        placed[s] = (t, r)
        busy[t] |= pb.people[s]
        free_rooms[t].discard(r)
    return placed


def _variables(pb: _Problem) -> list[tuple[int, int, int]]:
    out = []
    for s in range(len(pb.sessions)):
        if s in pb.pins:
            out.append((s, *pb.pins[s]))
            continue
        out.extend((s, t, r) for t in pb.allowed[s] for r in pb.fits[s])
    return out


def _exact(pb: _Problem, time_limit: float) -> tuple[dict[int, tuple[int, int]], bool] | None:
    """Maximise the number of placed sessions exactly; ``None`` when too large or no answer."""
    var = _variables(pb)
    if not var:
        return {}, True
    if len(var) > EXACT_LIMIT:
        return None
    n = len(var)
    rows: list[list[int]] = []
    lower: list[float] = []
    by_session: dict[int, list[int]] = defaultdict(list)
    by_cell: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_person_slot: dict[tuple[Hashable, int], list[int]] = defaultdict(list)
    for j, (s, t, r) in enumerate(var):
        by_session[s].append(j)
        by_cell[(t, r)].append(j)
        for p in pb.people[s]:
            by_person_slot[(p, t)].append(j)
    for s, cols in by_session.items():
        rows.append(cols)
        lower.append(1.0 if s in pb.pins else 0.0)
    rows.extend(cols for cols in by_cell.values() if len(cols) > 1)
    lower.extend(0.0 for cols in by_cell.values() if len(cols) > 1)
    for cols in by_person_slot.values():
        sessions = {var[j][0] for j in cols}
        if len(sessions) > 1:
            rows.append(cols)
            lower.append(0.0)
    data = [1.0 for cols in rows for _ in cols]
    ri = [i for i, cols in enumerate(rows) for _ in cols]
    ci = [j for cols in rows for j in cols]
    a = sp.csr_matrix((data, (ri, ci)), shape=(len(rows), n))
    # one per placed session, and a hair for a tighter room (fewer empty seats)
    slack = np.array([pb.rooms[r].capacity - pb.sessions[s].size for s, t, r in var], float)
    cost = -np.ones(n) + 1e-6 * slack / max(1.0, float(slack.max(initial=0.0)) + 1)
    res = milp(
        cost,
        constraints=[LinearConstraint(a, np.array(lower), np.ones(len(rows)))],
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        return None
    chosen = {var[j][0]: (var[j][1], var[j][2]) for j in np.flatnonzero(res.x > 0.5)}
    return chosen, bool(res.status == 0)


def solve_exact(
    sessions: Sequence[SessionNeeds],
    slots: Sequence[TimeSlot],
    rooms: Sequence[Room],
    *,
    availability: Mapping[Hashable, Iterable[str]] | None = None,
    time_limit: float = 30.0,
) -> tuple[int, bool]:
    """Return the largest number of sessions that can be placed, and whether it is proven.

    The reference the heuristic is measured against (tests and benchmarks).
    """
    pb = _problem(sessions, slots, rooms, availability, None)
    got = _exact(pb, time_limit)
    if got is None:
        raise PlanningError("问题规模过大，无法精确求解", "internal")
    return len(got[0]), got[1]


def _solve(pb: _Problem, *, exact: bool, time_limit: float) -> tuple[dict, bool]:
    placed = _greedy(pb)
    if len(placed) == len(pb.sessions):
        return placed, True
    if exact:
        got = _exact(pb, time_limit)
        if got is not None and len(got[0]) >= len(placed):
            return got
    return placed, False


def _reason(pb: _Problem, s: int, placed: Mapping[int, tuple[int, int]]) -> str:
    need = pb.sessions[s]
    if not pb.fits[s]:
        return f"预计 {need.size} 人，最大的会议室只能容纳 {pb.rooms[-1].capacity} 人"
    if not pb.allowed[s]:
        return "该场人员没有共同可参加的时段"
    blockers: dict[int, set[Hashable]] = defaultdict(set)
    for other, (t, _) in placed.items():
        shared = pb.people[s] & pb.people[other]
        if shared and t in pb.allowed[s]:
            blockers[other] |= shared
    if blockers:
        parts = [
            f"{pb.label(o)}（{'、'.join(sorted(pb.who(p) for p in ps)[:3])}）"
            for o, ps in sorted(blockers.items())[:3]
        ]
        return "可用时段都已被共用人员的分场占用：" + "；".join(parts)
    return "可用时段中没有空闲且容量足够的会议室"


def _trial(
    pb: _Problem,
    *,
    extra_slots: int = 0,
    extra_rooms: int = 0,
    room_size: int = 0,
) -> bool:
    """Return whether adding slots (open to everyone) or rooms would place every session."""
    slots = list(pb.slots) + [TimeSlot(key=f"+{i}") for i in range(extra_slots)]
    rooms = list(pb.rooms) + [Room(key=f"+{i}", capacity=room_size) for i in range(extra_rooms)]
    n_old = len(pb.slots)
    allowed = [a + (list(range(n_old, len(slots))) if extra_slots else []) for a in pb.allowed]
    ordered = sorted(range(len(rooms)), key=lambda i: (rooms[i].capacity, rooms[i].key))
    remap = {old: new for new, old in enumerate(ordered)}
    rooms_sorted = [rooms[i] for i in ordered]
    fits = [
        [i for i, r in enumerate(rooms_sorted) if r.capacity >= need.size] for need in pb.sessions
    ]
    pins = {s: (t, remap[r]) for s, (t, r) in pb.pins.items()}
    trial = replace(pb, slots=slots, rooms=rooms_sorted, allowed=allowed, fits=fits, pins=pins)
    placed, _ = _solve(trial, exact=True, time_limit=5.0)
    return len(placed) == len(pb.sessions)


def _advice(
    pb: _Problem,
    placed: Mapping[int, tuple[int, int]],
    unplaced: list[int],
) -> list[str]:
    out: list[str] = []
    n, n_slots, n_rooms = len(pb.sessions), len(pb.slots), len(pb.rooms)
    biggest = pb.rooms[-1].capacity
    oversized = [s for s in unplaced if not pb.fits[s]]
    for s in oversized:
        out.append(
            f"{pb.label(s)} 预计 {pb.sessions[s].size} 人，最大的会议室只能容纳 {biggest} 人："
            f"请拆分该场，或增加一间至少容纳 {pb.sessions[s].size} 人的会议室"
        )
    for s in unplaced:
        if pb.fits[s] and not pb.allowed[s]:
            names = sorted(pb.who(p) for p in pb.people[s])[:4]
            out.append(
                f"{pb.label(s)} 的人员（{'、'.join(names)}）没有共同可参加的时段："
                "请调整其可参加时段，或把其中一位移出该场"
            )
    by_person: dict[Hashable, list[int]] = defaultdict(list)
    for s, group in enumerate(pb.people):
        for p in group:
            by_person[p].append(s)
    for p, members in sorted(by_person.items(), key=lambda x: str(x[0])):
        usable = set().union(*(set(pb.allowed[s]) for s in members))
        if len(members) > len(usable):
            extra = len(members) - len(usable)
            out.append(
                f"{pb.who(p)} 参加 {len(members)} 场（{'、'.join(pb.label(s) for s in members[:5])}"
                f"），但只有 {len(usable)} 个可参加的时段：请把 ta 移出其中 {extra} 场，"
                "或增加时段"
            )
    if n > n_slots * n_rooms:
        gap = n - n_slots * n_rooms
        out.append(
            f"共 {n} 场，但只有 {n_slots} 个时段 × {n_rooms} 间会议室 = {n_slots * n_rooms} 个"
            f"场地：至少需增加 {math.ceil(gap / n_rooms)} 个时段或 "
            f"{math.ceil(gap / n_slots)} 间会议室，或合并、删去 {gap} 场"
        )
    if not oversized:
        small = len(pb.sessions) * (n_slots + 3) * (n_rooms + 3) <= EXACT_LIMIT
        if small or n <= 400:
            size = max(pb.sessions[s].size for s in unplaced)
            for k in range(1, 4):
                if _trial(pb, extra_slots=k):
                    out.append(f"增加 {k} 个时段（所有人都可参加）即可排下全部分场")
                    break
            for k in range(1, 4):
                if _trial(pb, extra_rooms=k, room_size=max(size, biggest)):
                    out.append(f"增加 {k} 间至少容纳 {size} 人的会议室即可排下全部分场")
                    break
    names = "、".join(pb.label(s) for s in unplaced[:8]) + ("等" if len(unplaced) > 8 else "")
    out.append(f"或者把未能安排的 {len(unplaced)} 场（{names}）移到其他时段、与其他分场合并或删去")
    return out


def place_sessions(
    sessions: Sequence[SessionNeeds],
    slots: Sequence[TimeSlot],
    rooms: Sequence[Room],
    *,
    availability: Mapping[Hashable, Iterable[str]] | None = None,
    labels: Mapping[Hashable, str] | None = None,
    exact: bool = True,
    time_limit: float = 10.0,
) -> Agenda:
    """Place every session in a slot and a room so that nobody is in two places at once.

    Parameters
    ----------
    sessions : sequence of SessionNeeds
        Size, people and optional pin of each session.
    slots : sequence of TimeSlot
        The meeting's time slots, over all its days.
    rooms : sequence of Room
        The rooms, with their capacities (positive integers).
    availability : mapping of person id to slot keys, optional
        Slots a person can attend; people not listed can attend every slot.
    labels : mapping of person id to str, optional
        Names used in reasons and advice.
    exact : bool, default=True
        When the greedy pass leaves sessions out, try the exact program (small instances).
    time_limit : float, default=10.0
        Seconds allowed to the exact program.

    Returns
    -------
    Agenda
        Placements in session order; unplaced sessions with reasons and advice.

    Raises
    ------
    PlanningError
        On bad input (no slots or rooms, a non-integer capacity, an unknown slot in an
        availability, contradictory pins), with a Chinese message naming the entry.
    """
    pb = _problem(sessions, slots, rooms, availability, labels)
    placed, proven = _solve(pb, exact=exact, time_limit=time_limit)
    placements = tuple(
        Placement(need.key, pb.slots[placed[s][0]].key, pb.rooms[placed[s][1]].key, s in pb.pins)
        for s, need in enumerate(pb.sessions)
        if s in placed
    )
    unplaced = [s for s in range(len(pb.sessions)) if s not in placed]
    if not unplaced:
        return Agenda(placements, exact=True)
    return Agenda(
        placements,
        unplaced=tuple((pb.sessions[s].key, _reason(pb, s, placed)) for s in unplaced),
        advice=tuple(_advice(pb, placed, unplaced)),
        exact=proven,
    )
