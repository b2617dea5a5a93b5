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
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.planning import (
    assign_experts,
    bigram_analyze,
    invite_others,
    plan_sessions,
    propose_pairs,
    schedule_meetings,
    session_affinity,
)
from matching.planning.records import (
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    SessionLimits,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nsfc-dev"
STAGES = ["研发", "中试", "产业化"]


def synthesize(n_demands: int, n_experts: int, seed: int) -> tuple[list, list, list, list]:
    """Build demands, experts (id, text, institution), enterprises and investors."""
    rng = np.random.default_rng(seed)
    rows = [json.loads(x) for x in (DATA / "demands.jsonl").read_text("utf-8").splitlines()]
    experts = [json.loads(x) for x in (DATA / "experts.jsonl").read_text("utf-8").splitlines()]
    by_industry = defaultdict(list)
    for r in rows:
        by_industry[r["industry"]].append(r)
    demands = []
    for i in range(n_demands):
        base = rows[i % len(rows)]
        other = by_industry[base["industry"]][int(rng.integers(len(by_industry[base["industry"]])))]
        demands.append(
            MeetingDemand(
                id=f"D{i:05d}",
                text=f"{base['text']}；{other['title']}",
                industry=None if rng.random() < 0.1 else base["industry"],
                planned_investment=float(rng.integers(1, 40) * 50),
                enterprise_id=f"C{int(rng.integers(n_demands // 2)):05d}",
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
    industries = sorted(by_industry)
    enterprises = [
        MeetingEnterprise(
            id=f"C{c:05d}",
            industry=industries[int(rng.integers(len(industries)))],
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
    vec = TfidfVectorizer(analyzer=bigram_analyze, sublinear_tf=True)
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


def main(argv: list[str] | None = None) -> None:
    """Time each stage of planning a large meeting and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demands", type=int, default=2000)
    parser.add_argument("--experts", type=int, default=20000)
    parser.add_argument("--keep", type=int, default=100)
    parser.add_argument("--seats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    demands, experts, enterprises, investors = synthesize(args.demands, args.experts, args.seed)
    t1 = time.perf_counter()
    affinity = affinity_matrix(demands, experts, args.keep)
    t2 = time.perf_counter()
    print(
        f"setup (not planner): synthesize {t1 - t0:.2f} s, affinity {t2 - t1:.2f} s "
        f"({affinity.nnz} non-zeros)"
    )

    times = {}
    start = time.perf_counter()
    plan = plan_sessions(demands, SessionLimits(4, 10), random_state=args.seed)
    times["sessions"] = time.perf_counter() - start

    expert_ids = [e for e, _, _ in experts]
    demand_ids = [d.id for d in demands]
    start = time.perf_counter()
    assignment = assign_experts(plan, affinity, expert_ids, demand_ids, seats=args.seats)
    times["experts"] = time.perf_counter() - start

    scores = session_affinity(plan, affinity, demand_ids)
    used: set[int] = set()
    greedy = 0.0
    for s in range(len(plan.sessions)):  # per-session top-k in plan order, for comparison
        order = [e for e in np.argsort(-scores[:, s], kind="stable")[: 10 * args.seats]]
        for e in [e for e in order if e not in used][: args.seats]:
            used.add(e)
            greedy += scores[e, s]
    print(f"greedy per-session top-{args.seats}: total affinity {greedy:.2f}")

    start = time.perf_counter()
    invitees = invite_others(
        plan,
        demands,
        assignment=assignment,
        expert_institutions={e: inst for e, _, inst in experts},
        enterprises=enterprises,
        investors=investors,
    )
    times["other invitees"] = time.perf_counter() - start

    start = time.perf_counter()
    timetables = []
    for session in plan.sessions:
        pairs = propose_pairs(session, assignment, affinity, expert_ids, demand_ids)
        timetables.append(
            schedule_meetings(pairs, demands, session_key=session.key, n_tables=args.seats)
        )
    times["pairs + timetables"] = time.perf_counter() - start

    sizes = [len(s.demand_ids) for s in plan.sessions]
    print(
        f"{len(demands)} demands, {len(experts)} experts -> {len(plan.sessions)} sessions "
        f"(sizes {min(sizes)}-{max(sizes)}), {len(assignment.seats)} expert seats, "
        f"total affinity {assignment.total_affinity:.2f}"
    )
    print(
        f"invitees per session: {np.mean([len(i.enterprise_ids) for i in invitees]):.1f} "
        f"enterprises, {np.mean([len(i.investor_ids) for i in invitees]):.1f} investors, "
        f"{np.mean([len(i.institution_ids) for i in invitees]):.1f} institutions"
    )
    n_meet = sum(len(t.meetings) for t in timetables)
    print(
        f"1:1 meetings: {n_meet}, slots per session {np.mean([t.n_slots for t in timetables]):.1f}"
        f", idle gaps in all {sum(t.idle_gaps for t in timetables)}"
    )
    for name, sec in times.items():
        print(f"  {name:<20} {sec:6.2f} s")
    print(f"  {'planner total':<20} {sum(times.values()):6.2f} s")


if __name__ == "__main__":
    main()
