"""What to change when not every session fits the agenda: reasons and advice in Chinese."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import replace

from matching.planning.placement import EXACT_LIMIT, Problem, solve
from matching.planning.plan_records import Room, TimeSlot

__all__ = ["advice", "reason"]


def reason(pb: Problem, s: int, placed: Mapping[int, tuple[int, int]]) -> str:
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
    pb: Problem,
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
    placed, _ = solve(trial, exact=len(pb.sessions) <= 40, time_limit=2.0)
    return len(placed) == len(pb.sessions)


def advice(
    pb: Problem,
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
                f"），但只有 {len(usable)} 个可参加的时段：请把该人员移出其中 {extra} 场，"
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
            for k in range(1, max(4, n_slots + 1)):
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
