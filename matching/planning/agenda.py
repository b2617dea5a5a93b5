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

from collections.abc import Hashable, Iterable, Mapping, Sequence

from matching.planning.advice import advice, reason
from matching.planning.placement import Problem, exact_program, solve
from matching.planning.plan_records import (
    Agenda,
    Placement,
    PlanningError,
    Room,
    SessionNeeds,
    TimeSlot,
    whole_number,
)

__all__ = ["check_grid", "place_sessions", "solve_exact"]


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
        whole_number(room.capacity, f"会议室“{room.name or room.key}”的容量", least=1)
    for slot in slots:
        if slot.rounds is not None and (isinstance(slot.rounds, bool) or int(slot.rounds) < 0):
            raise PlanningError(f"时段“{slot.label or slot.key}”的洽谈轮数不能为负数", "agenda")


def _problem(
    sessions: Sequence[SessionNeeds],
    slots: Sequence[TimeSlot],
    rooms: Sequence[Room],
    availability: Mapping[Hashable, Iterable[str]] | None,
    labels: Mapping[Hashable, str] | None,
) -> Problem:
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
        size = whole_number(size, f"分场 {need.label or need.key} 的人数")
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
    problem = Problem(
        list(sessions), list(slots), ordered_rooms, allowed, fits, people, pins, labels or {}
    )
    _check_pins(problem)
    return problem


def _check_pins(pb: Problem) -> None:
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
    got = exact_program(pb, time_limit)
    if got is None:
        raise PlanningError("问题规模过大，无法精确求解", "internal")
    return len(got[0]), got[1]


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
    placed, proven = solve(pb, exact=exact, time_limit=time_limit)
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
        unplaced=tuple((pb.sessions[s].key, reason(pb, s, placed)) for s in unplaced),
        advice=tuple(advice(pb, placed, unplaced)),
        exact=proven,
    )
