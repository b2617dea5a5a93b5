"""The agenda solver: a greedy pass with one-step repair, and an exact integer program.

Used by :mod:`matching.planning.agenda`; see there for the model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from matching.planning.plan_records import Room, SessionNeeds, TimeSlot

__all__ = ["EXACT_LIMIT", "Problem", "exact_program", "solve"]

#: Above this many (session, slot, room) variables the exact program is not tried.
EXACT_LIMIT = 60_000


@dataclass
class Problem:
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


def _greedy(pb: Problem) -> dict[int, tuple[int, int]]:
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
            _repair(pb, s, placed, busy, free_rooms, fit_sets)
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


def _repair(
    pb: Problem,
    s: int,
    placed: dict[int, tuple[int, int]],
    busy: list[set[Hashable]],
    free_rooms: list[set[int]],
    fit_sets: list[set[int]],
) -> bool:
    """Place ``s`` by moving one placed session out of its way (one step of a Kempe chain)."""

    def fits(x: int, t: int, without: int | None = None) -> int | None:
        """Return a free room of slot t for x, counting ``without``'s room and people as free."""
        people = set(busy[t])
        rooms = set(free_rooms[t])
        if without is not None and placed.get(without, (None,))[0] == t:
            rooms.add(placed[without][1])
            people -= pb.people[without]
            for other, (ot, _) in placed.items():  # people of the others stay busy
                if ot == t and other != without:
                    people |= pb.people[other] & pb.people[without]
        if people & pb.people[x]:
            return None
        usable = rooms & fit_sets[x]
        return min(usable) if usable else None

    for t in pb.allowed[s]:
        blockers = [
            b
            for b, (bt, br) in placed.items()
            if bt == t and b not in pb.pins and (pb.people[b] & pb.people[s] or br in fit_sets[s])
        ]
        for b in blockers:
            room = fits(s, t, without=b)
            if room is None:
                continue
            for t2 in pb.allowed[b]:
                if t2 == t:
                    continue
                room_b = fits(b, t2)
                if room_b is None:
                    continue
                old_t, old_r = placed[b]
                busy[old_t] -= pb.people[b]
                for other, (ot, _) in placed.items():
                    if ot == old_t and other != b:
                        busy[old_t] |= pb.people[other]
                free_rooms[old_t].add(old_r)
                placed[b] = (t2, room_b)
                busy[t2] |= pb.people[b]
                free_rooms[t2].discard(room_b)
                room = fits(s, t)
                if room is None:  # pragma: no cover - guarded by fits(without=b)
                    return False
                placed[s] = (t, room)
                busy[t] |= pb.people[s]
                free_rooms[t].discard(room)
                return True
    return False


def _variables(pb: Problem) -> list[tuple[int, int, int]]:
    out = []
    for s in range(len(pb.sessions)):
        if s in pb.pins:
            out.append((s, *pb.pins[s]))
            continue
        out.extend((s, t, r) for t in pb.allowed[s] for r in pb.fits[s])
    return out


def exact_program(pb: Problem, time_limit: float) -> tuple[dict[int, tuple[int, int]], bool] | None:
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


def solve(pb: Problem, *, exact: bool, time_limit: float) -> tuple[dict, bool]:
    placed = _greedy(pb)
    if len(placed) == len(pb.sessions):
        return placed, True
    if exact:
        got = exact_program(pb, time_limit)
        if got is not None and len(got[0]) >= len(placed):
            return got
    return placed, False
