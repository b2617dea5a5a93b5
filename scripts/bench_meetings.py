"""Benchmark the meeting planner: 2,000 demands, 20,000 experts, every stage timed.

The data are synthetic, built from the development set's texts: a demand is a dev demand's
text with a title of another demand of its industry appended; an expert is one to three
project titles of dev experts that share a field. The experts x demands affinity is a
character-bigram TF-IDF cosine, keeping each demand's best ``--keep`` experts (a sparse
matrix, as the ranker's top lists would give). Only the planner stages count toward the
target (under 10 s on the 2-core machine); building the data and the affinity is reported
apart.

Usage::

    .venv/bin/python scripts/bench_meetings.py [--demands 2000] [--experts 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching import planning
from matching.planning.agenda import place_sessions
from matching.planning.invitees import keep_one_place
from matching.planning.plan_records import (
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    Room,
    SessionLimits,
    SessionNeeds,
    TimeSlot,
)
from matching.planning.timetable import fit_rounds

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nsfc-dev"
STAGES = ["研发", "中试", "产业化"]


def synthesize(n_demands: int, n_experts: int, seed: int, mixed: bool = False,
               ) -> tuple[list, list, list, list]:
    """Build demands, experts (id, text, institution), enterprises and investors.

    About two demands per enterprise; an enterprise's demands are of its own industry, as a
    registered enterprise has one (``mixed``: any enterprise for any demand, the old data).
    """
    rng = np.random.default_rng(seed)
    rows = [json.loads(x) for x in (DATA / "demands.jsonl").read_text("utf-8").splitlines()]
    experts = [json.loads(x) for x in (DATA / "experts.jsonl").read_text("utf-8").splitlines()]
    by_industry = defaultdict(list)
    for r in rows:
        by_industry[r["industry"]].append(r)
    industries = sorted(by_industry)
    n_ent = n_demands // 2
    home = {c: industries[c % len(industries)] for c in range(n_ent)}
    pool = defaultdict(list)
    for c, ind in home.items():
        pool[ind].append(c)
    demands = []
    for i in range(n_demands):
        base = rows[i % len(rows)]
        other = by_industry[base["industry"]][int(rng.integers(len(by_industry[base["industry"]])))]
        own = pool[base["industry"]] or list(range(n_ent))
        owner = int(rng.integers(n_ent)) if mixed else own[int(rng.integers(len(own)))]
        demands.append(
            MeetingDemand(
                id=f"D{i:05d}",
                text=f"{base['text']}；{other['title']}",
                industry=None if rng.random() < 0.1 else base["industry"],
                planned_investment=float(rng.integers(1, 40) * 50),
                enterprise_id=f"C{owner:05d}",
                stage=STAGES[int(rng.integers(3))],
            )
        )
    by_field = defaultdict(list)
    for e in experts:
        for f in e["fields"]:
            by_field[f].extend(item["title"] for item in e["items"])
    fields = sorted(by_field)
    synth = []
    for j in range(n_experts):
        field = fields[int(rng.integers(len(fields)))]
        titles = by_field[field]
        k = int(rng.integers(1, 4))
        picked = [titles[int(rng.integers(len(titles)))] for _ in range(k)]
        synth.append((f"X{j:05d}", "；".join(picked), f"I{int(rng.integers(300)):03d}"))
    enterprises = [
        MeetingEnterprise(
            id=f"C{c:05d}",
            industry=home[c],
            text=rows[int(rng.integers(len(rows)))]["title"],
        )
        for c in range(n_demands // 2)
    ]
    investors = [
        MeetingInvestor(
            id=f"V{v:03d}",
            industries=tuple(rng.choice(industries, size=2, replace=False).tolist()),
            stages=tuple(rng.choice(STAGES, size=2, replace=False).tolist()),
            ticket_min=float(rng.integers(0, 5) * 100),
            ticket_max=float(rng.integers(10, 60) * 100),
        )
        for v in range(200)
    ]
    return demands, synth, enterprises, investors


def affinity_matrix(demands: list, experts: list, keep: int) -> sp.csr_matrix:
    """Experts x demands TF-IDF cosine, each demand keeping its ``keep`` best experts."""
    vec = TfidfVectorizer(analyzer=planning.bigram_analyze, sublinear_tf=True)
    xe = vec.fit_transform([t for _, t, _ in experts])
    xd = vec.transform([d.text for d in demands])
    rows, cols, vals = [], [], []
    for start in range(0, len(demands), 250):
        block = (xe @ xd[start : start + 250].T).toarray()
        top = np.argpartition(-block, keep - 1, axis=0)[:keep]
        for j in range(block.shape[1]):
            rows.extend(top[:, j])
            cols.extend([start + j] * keep)
            vals.extend(block[top[:, j], j])
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(experts), len(demands)))


def agenda_grid(days: int, slots: int, rooms: int, rounds: int) -> tuple[list, list]:
    """The benchmark's agenda: ``days`` x ``slots`` time slots, ``rooms`` rooms of mixed sizes."""
    grid = [TimeSlot(key=f"D{d + 1}S{s + 1}", day=d, rounds=rounds)
            for d in range(days) for s in range(slots)]
    sizes = [160, 140, 120, 120, 100, 100, 90, 90, 80, 80, 60, 60]
    halls = [Room(key=f"R{r + 1}", capacity=sizes[r % len(sizes)]) for r in range(rooms)]
    return grid, halls


def conflicts(placed: dict, people_of: dict) -> dict[str, int]:
    """Count, per kind, the (person, slot) bookings beyond one: people in two places at once."""
    seen: Counter = Counter()
    for key, slot in placed.items():
        for person in people_of[key]:
            seen[(person, slot)] += 1
    out: Counter = Counter()
    for (person, _), n in seen.items():
        if n > 1:
            out[person[0]] += n - 1
    return out


def main(argv: list[str] | None = None) -> None:
    """Time each stage of planning a large meeting and print the figures, JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sizes = {"demands": 2000, "experts": 20000, "keep": 100, "seats": 12, "days": 2, "slots": 4,
             "rooms": 8, "rounds": 5, "tables": 12, "seed": 0}
    for name, default in sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default,
                            help="1:1 rounds a slot holds" if name == "rounds" else None)
    parser.add_argument("--mixed-enterprises", action="store_true",
                        help="any enterprise for any demand (enterprises across industries)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    demands, experts, enterprises, investors = synthesize(args.demands, args.experts, args.seed,
                                                          args.mixed_enterprises)
    t1 = time.perf_counter()
    affinity = affinity_matrix(demands, experts, args.keep)
    t2 = time.perf_counter()
    print(
        f"setup (not planner): synthesize {t1 - t0:.2f} s, affinity {t2 - t1:.2f} s "
        f"({affinity.nnz} non-zeros)"
    )
    slots, rooms = agenda_grid(args.days, args.slots, args.rooms, args.rounds)
    cells = len(slots) * len(rooms)
    n_sessions = cells - args.rooms  # one slot's worth of cells left free for conflicts
    lo = max(1, args.demands // (2 * n_sessions))
    hi = -(-args.demands // n_sessions) * 2

    times = {}
    start = time.perf_counter()
    plan = planning.plan_sessions(demands, SessionLimits(lo, hi, n_sessions),
                                  random_state=args.seed)
    times["sessions"] = time.perf_counter() - start

    expert_ids = [e for e, _, _ in experts]
    demand_ids = [d.id for d in demands]
    start = time.perf_counter()
    assignment = planning.assign_experts(plan, affinity, expert_ids, demand_ids, seats=args.seats)
    times["experts"] = time.perf_counter() - start

    start = time.perf_counter()
    invitees = planning.invite_others(
        plan,
        demands,
        assignment=assignment,
        expert_institutions={e: inst for e, _, inst in experts},
        enterprises=enterprises,
        investors=investors,
    )
    times["other invitees"] = time.perf_counter() - start

    by_id = {d.id: d for d in demands}
    people_of, needs = {}, []
    for session, inv in zip(plan.sessions, invitees, strict=True):
        owners = {by_id[d].enterprise_id for d in session.demand_ids}
        people = {("expert", e) for e in assignment.experts_of(session.key)}
        people |= {("enterprise", c) for c in owners}
        people_of[session.key] = people
        size = len(owners) + len(people) - len(owners) + len(inv.investor_ids) + len(
            inv.institution_ids) + len([c for c in inv.enterprise_ids if c not in owners])
        needs.append(SessionNeeds(session.key, size, tuple(sorted(people))))
    start = time.perf_counter()
    agenda = place_sessions(needs, slots, rooms)
    placed = {p.session_key: p.slot_key for p in agenda.placements}
    kept = keep_one_place(invitees, placed)
    times["agenda"] = time.perf_counter() - start
    for inv in kept:
        people_of[inv.session_key] |= {("investor", v) for v in inv.investor_ids}
        people_of[inv.session_key] |= {("related", c) for c in inv.enterprise_ids}

    start = time.perf_counter()
    timetables, unplaced = [], 0
    rounds_of = {s.key: s.rounds for s in slots}
    for session in plan.sessions:
        pairs = planning.propose_pairs(session, assignment, affinity, expert_ids, demand_ids)
        order = sorted(range(len(pairs)), key=lambda i: (i % 2, i))  # first choices first
        fit, missed = fit_rounds([pairs[i] for i in order], demands,
                                 n_rounds=rounds_of.get(placed.get(session.key), 0),
                                 n_tables=args.tables)
        unplaced += len(missed)
        timetables.append(
            planning.schedule_meetings(fit, demands, session_key=session.key, n_tables=args.tables)
        )
    times["pairs + timetables"] = time.perf_counter() - start

    # who is where in each 1:1 round, across parallel sessions
    round_clash = Counter()
    for table in timetables:
        slot = placed.get(table.session_key)
        for m in table.meetings:
            round_clash[(("expert", m.expert_id), slot, m.slot)] += 1
            round_clash[(("enterprise", m.enterprise_id), slot, m.slot)] += 1
    round_conflicts = sum(n - 1 for n in round_clash.values() if n > 1)
    size_of = {n.key: n.size for n in needs}
    cap_of = {r.key: r.capacity for r in rooms}
    overflows = sum(1 for p in agenda.placements if size_of[p.session_key] > cap_of[p.room_key])
    clash = conflicts(placed, people_of)

    sizes = [len(s.demand_ids) for s in plan.sessions]
    print(
        f"{len(demands)} demands, {len(experts)} experts -> {len(plan.sessions)} sessions "
        f"(sizes {min(sizes)}-{max(sizes)}), {len(assignment.seats)} expert seats, "
        f"total affinity {assignment.total_affinity:.2f}"
    )
    print(f"agenda: {len(slots)} slots x {len(rooms)} rooms, {len(agenda.placements)} placed, "
          f"{len(agenda.unplaced)} unplaced; advice: {' / '.join(agenda.advice) or '-'}")
    n_meet = sum(len(t.meetings) for t in timetables)
    print(f"1:1 meetings: {n_meet} placed, {unplaced} unplaced, rounds per session "
          f"{np.mean([t.n_slots for t in timetables]):.1f}")
    for name, sec in times.items():
        print(f"  {name:<20} {sec:6.2f} s")
    total = sum(times.values())
    print(f"  {'planner total':<20} {total:6.2f} s")
    print(json.dumps({
        "plan_seconds": round(total, 2), "sessions": len(plan.sessions),
        "placed_sessions": len(agenda.placements), "unplaced_sessions": len(agenda.unplaced),
        "expert_conflicts": clash.get("expert", 0),
        "enterprise_conflicts": clash.get("enterprise", 0),
        "investor_conflicts": clash.get("investor", 0),
        "related_enterprise_conflicts": clash.get("related", 0),
        "round_conflicts": round_conflicts, "room_overflows": overflows,
        "unplaced_meetings": unplaced, "meetings": n_meet,
        "days": args.days, "slots_per_day": args.slots, "rooms": args.rooms,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
