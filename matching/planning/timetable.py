"""The 1:1 timetable of a session: every kept pair at a round and a table, nobody twice a round."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence

from matching.planning.plan_records import (
    MeetingDemand,
    OneToOne,
    PlanningError,
    SessionTimetable,
    UnplacedMeeting,
    whole_number,
)

__all__ = ["fit_rounds", "schedule_meetings"]


def _colour_bipartite(edges: list[tuple[int, int]], n_colours: int) -> list[int]:
    """Colour bipartite edges with ``n_colours`` >= max degree colours (Kempe-chain method)."""
    at_u: dict[int, dict[int, int]] = defaultdict(dict)
    at_v: dict[int, dict[int, int]] = defaultdict(dict)
    colour = [-1] * len(edges)
    for idx, (u, v) in enumerate(edges):
        a = next(c for c in range(n_colours) if c not in at_u[u])
        b = next(c for c in range(n_colours) if c not in at_v[v])
        if a != b and a in at_v[v]:
            # flip the a/b alternating path that starts at v; it cannot reach u (bipartite)
            path = []
            side, node, want = "v", v, a
            while True:
                table = at_v if side == "v" else at_u
                e = table[node].get(want)
                if e is None:
                    break
                path.append(e)
                eu, ev = edges[e]
                side, node = ("u", eu) if side == "v" else ("v", ev)
                want = b if want == a else a
            for e in path:
                eu, ev = edges[e]
                del at_u[eu][colour[e]]
                del at_v[ev][colour[e]]
            for e in path:
                eu, ev = edges[e]
                colour[e] = b if colour[e] == a else a
                at_u[eu][colour[e]] = e
                at_v[ev][colour[e]] = e
        colour[idx] = a
        at_u[u][a] = idx
        at_v[v][a] = idx
    return colour


def _balance(edges: list[tuple[int, int]], colour: list[int], n_colours: int, cap: int) -> None:
    """Move edges between colour classes along alternating paths until no class exceeds cap."""
    while True:
        sizes = Counter(colour)
        big = max(range(n_colours), key=lambda c: (sizes[c], -c))
        if sizes[big] <= cap:
            return
        small = min(range(n_colours), key=lambda c: (sizes[c], c))
        sub = [i for i, c in enumerate(colour) if c in (big, small)]
        adj: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i in sub:
            u, v = edges[i]
            adj[("u", u)].append(i)
            adj[("v", v)].append(i)
        seen: set[int] = set()
        for i in sub:
            if i in seen:
                continue
            comp, stack = [], [i]
            seen.add(i)
            while stack:
                e = stack.pop()
                comp.append(e)
                u, v = edges[e]
                for f in adj[("u", u)] + adj[("v", v)]:
                    if f not in seen:
                        seen.add(f)
                        stack.append(f)
            if sum(1 for e in comp if colour[e] == big) > sum(
                1 for e in comp if colour[e] == small
            ):
                for e in comp:
                    colour[e] = small if colour[e] == big else big
                break


def _gaps_of(slots: Iterable[int]) -> int:
    slots = list(slots)
    return max(slots) - min(slots) + 1 - len(slots) if slots else 0


def _reduce_gaps(edges: list[tuple[int, int]], slot: list[int], n_slots: int, cap: int) -> None:
    """Lower idle gaps by local search: swap whole slots, then move single meetings.

    Every move keeps the timetable valid (nobody twice in a slot, at most ``cap`` meetings a
    slot) and the number of slots unchanged; it stops at a local optimum.
    """
    parties = [(("u", u), ("v", v)) for u, v in edges]

    def total() -> int:
        by: dict[Hashable, list[int]] = defaultdict(list)
        for i, (pu, pv) in enumerate(parties):
            by[pu].append(slot[i])
            by[pv].append(slot[i])
        return sum(_gaps_of(x) for x in by.values())

    best = total()
    for _ in range(20):
        improved = False
        for a in range(n_slots):
            for b in range(a + 1, n_slots):
                swap = {a: b, b: a}
                old = slot[:]
                slot[:] = [swap.get(x, x) for x in slot]
                now = total()
                if now < best:
                    best, improved = now, True
                else:
                    slot[:] = old
        busy: dict[Hashable, set[int]] = defaultdict(set)
        for i, (pu, pv) in enumerate(parties):
            busy[pu].add(slot[i])
            busy[pv].add(slot[i])
        load = Counter(slot)
        for i, (pu, pv) in enumerate(parties):
            here = slot[i]
            before = _gaps_of(busy[pu]) + _gaps_of(busy[pv])
            for t in range(n_slots):
                if t == here or load[t] >= cap or t in busy[pu] or t in busy[pv]:
                    continue
                after = _gaps_of(busy[pu] - {here} | {t}) + _gaps_of(busy[pv] - {here} | {t})
                if after < before:
                    for p in (pu, pv):
                        busy[p].discard(here)
                        busy[p].add(t)
                    load[here] -= 1
                    load[t] += 1
                    slot[i] = t
                    best -= before - after
                    improved = True
                    break
        if not improved:
            return


def _idle_gaps(slots_by_party: Mapping[Hashable, list[int]]) -> int:
    return sum(max(s) - min(s) + 1 - len(s) for s in slots_by_party.values() if s)


def _as_pairs(pairs: Iterable[Sequence[Hashable]]) -> list[tuple[Hashable, Hashable]]:
    """Return the pairs as tuples (lists are accepted); raise PlanningError on a malformed one."""
    out = []
    for pair in pairs:
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise PlanningError(f"会谈应为（需求, 专家）两项，而不是“{pair}”", "input")
        out.append((pair[0], pair[1]))
    return out


def schedule_meetings(
    pairs: Sequence[tuple[Hashable, Hashable]],
    demands: Sequence[MeetingDemand],
    *,
    session_key: str = "",
    n_tables: int | None = None,
    max_per_expert: int | None = None,
    max_per_enterprise: int | None = None,
    max_slots: int | None = None,
) -> SessionTimetable:
    """Give every kept demand-expert pair of a session a time slot and a table.

    The enterprise that owns the demand meets the expert; nobody is in two meetings of one
    slot and no table hosts two. The number of slots is the minimum possible,
    ``max(largest number of meetings of one participant, ceil(pairs / tables))`` (bipartite
    edge colouring with Kempe-chain repair, then balanced to the tables). Idle gaps are then
    lowered without adding slots: slots are ordered so that consecutive ones share many
    participants, then a local search swaps whole slots and moves single meetings while that
    lowers the gaps. The gaps are small but not guaranteed minimal (minimising them is
    NP-hard); ``idle_gaps`` reports them.
    Experts keep the same table from slot to slot where possible.

    Parameters
    ----------
    pairs : sequence of (demand_id, expert_id)
        The pairs the organiser keeps; each at most once.
    demands : sequence of MeetingDemand
        At least the demands of ``pairs``; a demand without enterprise counts as its own party.
    session_key : str
    n_tables : int, optional
        Tables available at once (unbounded when ``None``).
    max_per_expert, max_per_enterprise : int, optional
        Meetings allowed per expert and per enterprise.
    max_slots : int, optional
        Slots available; exceeding it is an error.

    Returns
    -------
    SessionTimetable

    Raises
    ------
    PlanningError
        On a repeated pair, an unknown demand, a limit exceeded, or too few slots.
    """
    if n_tables is not None and n_tables < 1:
        raise PlanningError("桌数至少应为 1", "limits")
    pairs = _as_pairs(pairs)
    by_id = {d.id: d for d in demands}
    if len(set(pairs)) != len(pairs):
        dup = next(p for p, c in Counter(pairs).items() if c > 1)
        raise PlanningError(f"需求 {dup[0]} 与专家 {dup[1]} 的会谈重复了", "duplicate")
    if not pairs:
        return SessionTimetable(session_key, (), 0, 0, 0)
    parties_e: dict[Hashable, int] = {}
    parties_x: dict[Hashable, int] = {}
    edges: list[tuple[int, int]] = []
    ent_of: list[Hashable | None] = []
    for did, eid in pairs:
        if did not in by_id:
            raise PlanningError(f"会谈中的需求 {did} 不在本场需求中", "input")
        owner = by_id[did].enterprise_id
        party = ("enterprise", owner) if owner is not None else ("demand", did)
        u = parties_e.setdefault(party, len(parties_e))
        v = parties_x.setdefault(eid, len(parties_x))
        edges.append((u, v))
        ent_of.append(owner)
    deg_u = Counter(u for u, _ in edges)
    deg_v = Counter(v for _, v in edges)
    # Talks over a limit: per expert first, then per enterprise.
    over_limit = (
        (max_per_expert, parties_x, deg_v,
         lambda eid, n, cap: f"专家 {eid} 安排了 {n} 场会谈，超过上限 {cap}：请删去 "
                             f"{n - cap} 场或把上限调到 {n}"),
        (max_per_enterprise, parties_e, deg_u,
         lambda party, n, cap: f"企业 {party[1]} 安排了 {n} 场会谈，超过上限 {cap}："
                               f"请删去 {n - cap} 场或把上限调到 {n}"),
    )
    for cap, nodes, degree, message in over_limit:
        if cap is None:
            continue
        for key, node in nodes.items():
            if degree[node] > cap:
                raise PlanningError(message(key, degree[node], cap), "limits")
    delta = max(max(deg_u.values()), max(deg_v.values()))
    tables = n_tables if n_tables is not None else len(edges)
    n_slots = max(delta, math.ceil(len(edges) / tables))
    if max_slots is not None and n_slots > max_slots:
        raise PlanningError(
            f"这些会谈至少需要 {n_slots} 个时段，但只有 {max_slots} 个：请增加时段"
            + (
                f"或桌数（至少 {math.ceil(len(edges) / max_slots)} 张）"
                if delta <= max_slots
                else ""
            )
            + "，或减少会谈",
            "slots",
        )
    colour = _colour_bipartite(edges, n_slots)
    _balance(edges, colour, n_slots, tables)

    # order the slots: start with the fullest, then the one sharing most participants
    members: list[set[Hashable]] = [set() for _ in range(n_slots)]
    for i, (u, v) in enumerate(edges):
        members[colour[i]] |= {("u", u), ("v", v)}
    order = [max(range(n_slots), key=lambda c: (len(members[c]), -c))]
    left = set(range(n_slots)) - set(order)
    while left:
        last = members[order[-1]]
        nxt = max(left, key=lambda c: (len(members[c] & last), len(members[c]), -c))
        order.append(nxt)
        left.remove(nxt)
    slot_of = {c: pos for pos, c in enumerate(order)}
    slot = [slot_of[colour[i]] for i in range(len(edges))]
    _reduce_gaps(edges, slot, n_slots, tables)
    used_slots = sorted(set(slot))  # a move may have emptied a slot: close it up
    slot = [used_slots.index(x) for x in slot]
    n_slots = len(used_slots)

    home: dict[int, int] = {}
    meetings = []
    by_slot: dict[int, list[int]] = defaultdict(list)
    for i in range(len(edges)):
        by_slot[slot[i]].append(i)
    for pos in range(n_slots):
        taken: set[int] = set()
        idxs = sorted(by_slot[pos], key=lambda i: (edges[i][1] not in home, edges[i][1]))
        for i in idxs:
            v = edges[i][1]
            t = home.get(v)
            if t is None or t in taken:
                t = next(x for x in range(tables) if x not in taken)
            home.setdefault(v, t)
            taken.add(t)
            meetings.append(OneToOne(pairs[i][0], pairs[i][1], ent_of[i], pos, t))
    meetings.sort(key=lambda m: (m.slot, m.table))
    slots_by_party: dict[Hashable, list[int]] = defaultdict(list)
    for i, (u, v) in enumerate(edges):
        slots_by_party[("u", u)].append(slot[i])
        slots_by_party[("v", v)].append(slot[i])
    used_tables = 1 + max(m.table for m in meetings)
    return SessionTimetable(
        session_key, tuple(meetings), n_slots, used_tables, _idle_gaps(slots_by_party)
    )



def fit_rounds(
    pairs: Sequence[tuple[Hashable, Hashable]],
    demands: Sequence[MeetingDemand],
    *,
    n_rounds: int,
    n_tables: int,
    max_per_expert: int | None = None,
    max_per_enterprise: int | None = None,
) -> tuple[tuple[tuple[Hashable, Hashable], ...], tuple[UnplacedMeeting, ...]]:
    """Keep the pairs that fit in ``n_rounds`` rounds at ``n_tables`` tables; list the rest.

    Pairs are taken in the given order (the caller puts each demand's first choice before
    any second choice). A pair is kept while neither party has ``n_rounds`` meetings (or
    their cap) and the rounds x tables are not full; then :func:`schedule_meetings` fits the
    kept pairs in ``n_rounds`` rounds exactly (a bipartite graph of maximum degree d is
    d-edge-colourable), so nobody is in two places in a round.

    Returns
    -------
    kept : tuple of (demand_id, expert_id)
    unplaced : tuple of UnplacedMeeting
        Each with the reason in Chinese.
    """
    n_rounds = whole_number(n_rounds, "洽谈轮数")
    n_tables = whole_number(n_tables, "洽谈桌数", least=1)
    by_id = {d.id: d for d in demands}
    load: Counter[Hashable] = Counter()
    kept: list[tuple[Hashable, Hashable]] = []
    unplaced: list[UnplacedMeeting] = []
    seen: set[tuple[Hashable, Hashable]] = set()
    capacity = n_rounds * n_tables
    for did, eid in _as_pairs(pairs):
        if (did, eid) in seen:
            continue
        seen.add((did, eid))
        if did not in by_id:
            raise PlanningError(f"会谈中的需求 {did} 不在本场需求中", "input")
        owner = by_id[did].enterprise_id
        party = ("enterprise", owner) if owner is not None else ("demand", did)
        cap_x = n_rounds if max_per_expert is None else min(n_rounds, max_per_expert)
        cap_e = n_rounds if max_per_enterprise is None else min(n_rounds, max_per_enterprise)
        reason = None
        if n_rounds == 0:
            reason = "本场时段内没有留出一对一洽谈的时间"
        elif len(kept) >= capacity:
            reason = f"本场 {n_tables} 张桌 × {n_rounds} 轮最多安排 {capacity} 场洽谈，已排满"
        elif load[("expert", eid)] >= cap_x:
            reason = f"该专家在本场已有 {load[('expert', eid)]} 场洽谈，达到可排的上限 {cap_x}"
        elif load[party] >= cap_e:
            reason = f"该企业在本场已有 {load[party]} 场洽谈，达到可排的上限 {cap_e}"
        if reason is not None:
            unplaced.append(UnplacedMeeting(did, eid, reason))
            continue
        load[("expert", eid)] += 1
        load[party] += 1
        kept.append((did, eid))
    return tuple(kept), tuple(unplaced)
