"""Tests of the meeting planner's expert seats, other invitees and timetable (pure code)."""


from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.planning import (
    assign_experts,
    invite_others,
    plan_sessions,
    propose_pairs,
    schedule_meetings,
)
from matching.planning.plan_records import (
    ExpertAssignment,
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    PlanLocks,
    PlanningError,
    Session,
    SessionLimits,
    SessionPlan,
)
from tests.matching.meeting_demands import (
    make_demands,
)

# --- experts ------------------------------------------------------------------------------------


def two_sessions() -> SessionPlan:
    return SessionPlan((Session(key="A", demand_ids=("d1",)), Session(key="B", demand_ids=("d2",))))


def greedy(plan: SessionPlan, scores: np.ndarray, seats: int, cap: int) -> float:
    """Per-session top-k in plan order: the baseline the solver must beat."""
    used: Counter[int] = Counter()
    total = 0.0
    for s in range(len(plan.sessions)):
        order = [e for e in np.argsort(-scores[:, s], kind="stable") if used[e] < cap][:seats]
        for e in order:
            used[e] += 1
            total += scores[e, s]
    return total


def test_solver_beats_greedy() -> None:
    # x is best for A, but far better for B, whose only other option is poor
    affinity = np.array([[0.90, 0.95], [0.85, 0.0], [0.0, 0.10]])
    plan = two_sessions()
    result = assign_experts(plan, affinity, ["x", "y", "z"], ["d1", "d2"], seats=1)
    assert result.experts_of("A") == ("y",)
    assert result.experts_of("B") == ("x",)
    assert result.total_affinity == pytest.approx(1.80)
    assert greedy(plan, affinity, 1, 1) == pytest.approx(1.00)


@settings(max_examples=20, deadline=None)
@given(
    n_experts=st.integers(1, 12),
    n_sessions=st.integers(1, 4),
    seats=st.integers(1, 3),
    cap=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_assignment_is_optimal_and_within_limits(
    n_experts: int, n_sessions: int, seats: int, cap: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    plan = SessionPlan(
        tuple(Session(key=f"S{s}", demand_ids=(f"d{s}",)) for s in range(n_sessions))
    )
    affinity = rng.random((n_experts, n_sessions)).round(3)
    conflicts = [
        (f"e{e}", f"S{s}")
        for e in range(n_experts)
        for s in range(n_sessions)
        if rng.random() < 0.15
    ]
    experts = [f"e{e}" for e in range(n_experts)]
    demand_ids = [f"d{s}" for s in range(n_sessions)]
    # brute force over choices of experts per session
    blocked = set(conflicts)
    options = [
        [
            c
            for c in itertools.combinations(range(n_experts), seats)
            if not any((f"e{e}", f"S{s}") in blocked for e in c)
        ]
        for s in range(n_sessions)
    ]
    best = None
    for choice in itertools.islice(itertools.product(*options), 20000):
        used = Counter(e for c in choice for e in c)
        if used and max(used.values()) > cap:
            continue
        total = sum(affinity[e, s] for s, c in enumerate(choice) for e in c)
        best = total if best is None else max(best, total)
    complete = np.prod([len(o) for o in options]) <= 20000
    try:
        result = assign_experts(
            plan,
            affinity,
            experts,
            demand_ids,
            seats=seats,
            max_sessions_per_expert=cap,
            conflicts=conflicts,
            top_n=3,
        )
    except PlanningError as err:
        assert err.message
        if complete:
            assert best is None
        return
    per_expert = Counter(x.expert_id for x in result.seats)
    assert max(per_expert.values()) <= cap
    for s in range(n_sessions):
        chosen = result.experts_of(f"S{s}")
        assert len(chosen) == seats == len(set(chosen))
        assert not any((e, f"S{s}") in blocked for e in chosen)
    if complete:
        assert result.total_affinity == pytest.approx(best)


def test_locked_seats_and_sparse_affinity() -> None:
    affinity = sp.csr_matrix(np.array([[0.9, 0.95], [0.85, 0.0], [0.0, 0.1]]))
    locks = PlanLocks(expert_seats=(("x", "A"),))
    result = assign_experts(
        two_sessions(), affinity, ["x", "y", "z"], ["d1", "d2"], seats=1, locks=locks
    )
    assert result.experts_of("A") == ("x",)
    assert result.experts_of("B") == ("z",)
    assert [s.locked for s in result.seats] == [True, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"seats": 2},
            "需要 4 个专家席位，但可用 3 个：请把每位专家场次上限调到 2，或把每场专家席位减到 1",
        ),
        (
            {"seats": 1, "conflicts": [("x", "A"), ("y", "A"), ("z", "A")]},
            "只有 0 位：请把该场席位减到 0",
        ),
        ({"max_sessions_per_expert": 0}, "至少应为 1"),
        ({"locks": PlanLocks(expert_seats=(("x", "A"), ("x", "B")))}, "请把上限调到 2"),
        ({"locks": PlanLocks(expert_seats=(("q", "A"),))}, "不在可邀请专家之中"),
        ({"conflicts": [("x", "A")], "locks": PlanLocks(expert_seats=(("x", "A"),))}, "回避名单"),
    ],
)
def test_bad_expert_input(kwargs: dict, message: str) -> None:
    affinity = np.ones((3, 2))
    with pytest.raises(PlanningError) as info:
        assign_experts(two_sessions(), affinity, ["x", "y", "z"], ["d1", "d2"], **kwargs)
    assert message in info.value.message


def test_zero_experts() -> None:
    with pytest.raises(PlanningError, match="没有可邀请的专家"):
        assign_experts(two_sessions(), np.zeros((0, 2)), [], ["d1", "d2"])


def test_hall_violation_is_reported() -> None:
    # only x can serve both sessions (y and z are in conflict with one each): k=1 cannot work
    plan = two_sessions()
    conflicts = [("y", "A"), ("y", "B"), ("z", "A"), ("z", "B")]
    with pytest.raises(PlanningError, match="请把每位专家场次上限调到 2"):
        assign_experts(
            plan, np.ones((3, 2)), ["x", "y", "z"], ["d1", "d2"], seats=1, conflicts=conflicts
        )


# --- other invitees -----------------------------------------------------------------------------


def test_invite_others() -> None:
    demands = [
        MeetingDemand(id=key, text=text, industry="新能源", planned_investment=money,
                      enterprise_id=firm, stage=stage)
        for key, text, money, firm, stage in (("d1", "锂电池正极材料", 300, "own", "中试"),
                                              ("d2", "储能电池管理", 200, "own2", "研发"))
    ]
    plan = SessionPlan(
        (
            Session(
                key="A",
                demand_ids=("d1", "d2"),
                theme_words=("电池",),
                industry="新能源",
                industries=("新能源",),
            ),
        )
    )
    enterprises = [
        MeetingEnterprise(id="own", industry="新能源"),
        MeetingEnterprise(id="chain", text="电池隔膜生产"),
        MeetingEnterprise(id="same", industry="新能源", text="风电运维"),
        MeetingEnterprise(id="other", industry="医药", text="抗体药物"),
    ]
    investors = [
        MeetingInvestor(
            id="fit", industries=("新能源",), stages=("中试",), ticket_min=100, ticket_max=1000
        ),
        MeetingInvestor(id="small", industries=("新能源",), ticket_max=100),
        MeetingInvestor(id="wrong", industries=("医药",)),
        MeetingInvestor(id="stage", stages=("成熟期",)),
        MeetingInvestor(id="any"),
    ]
    assignment = ExpertAssignment(seats=(), total_affinity=0.0)
    (inv,) = invite_others(
        plan, demands, enterprises=enterprises, investors=investors, assignment=assignment
    )
    assert inv.enterprise_ids == ("chain", "same")
    assert inv.investor_ids == ("fit", "any")
    assert inv.institution_ids == ()


def test_institutions_of_invited_experts() -> None:
    affinity = np.array([[0.9, 0.95], [0.85, 0.0], [0.0, 0.1]])
    plan = two_sessions()
    result = assign_experts(plan, affinity, ["x", "y", "z"], ["d1", "d2"], seats=1)
    demands = [MeetingDemand(id="d1", text="a"), MeetingDemand(id="d2", text="b")]
    invitees = invite_others(
        plan, demands, assignment=result, expert_institutions={"x": "武大", "y": "华科", "z": None}
    )
    assert [i.institution_ids for i in invitees] == [("华科",), ("武大",)]


# --- timetable ----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    n_demands=st.integers(1, 10),
    n_experts=st.integers(1, 6),
    n_enterprises=st.integers(1, 8),
    tables=st.one_of(st.none(), st.integers(1, 5)),
    seed=st.integers(0, 1000),
)
def test_timetable_invariants(
    n_demands: int, n_experts: int, n_enterprises: int, tables: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    demands = [
        MeetingDemand(id=f"d{i}", enterprise_id=f"e{i % n_enterprises}") for i in range(n_demands)
    ]
    pairs = [
        (f"d{i}", f"x{j}") for i in range(n_demands) for j in range(n_experts) if rng.random() < 0.5
    ]
    table = schedule_meetings(pairs, demands, n_tables=tables, session_key="A")
    assert sorted((m.demand_id, m.expert_id) for m in table.meetings) == sorted(pairs)
    if not pairs:
        return
    seen: set[tuple] = set()
    for m in table.meetings:
        for who in (("x", m.expert_id), ("e", m.enterprise_id), ("t", m.table)):
            assert (who, m.slot) not in seen  # nobody and no table twice in one slot
            seen.add((who, m.slot))
        assert 0 <= m.slot < table.n_slots
        if tables is not None:
            assert m.table < tables
    deg = Counter([p[1] for p in pairs] + [f"e{int(p[0][1:]) % n_enterprises}" for p in pairs])
    lower = max(max(deg.values()), -(-len(pairs) // (tables or len(pairs))))
    assert table.n_slots == lower  # the fewest slots possible
    busy: dict = {}
    for m in table.meetings:
        busy.setdefault(("x", m.expert_id), []).append(m.slot)
        busy.setdefault(("e", m.enterprise_id), []).append(m.slot)
    assert table.idle_gaps == sum(max(s) - min(s) + 1 - len(s) for s in busy.values())


def test_timetable_limits() -> None:
    demands = [MeetingDemand(id=f"d{i}", enterprise_id="e") for i in range(3)]
    pairs = [("d0", "x"), ("d1", "x"), ("d2", "y")]
    with pytest.raises(PlanningError, match="专家 x 安排了 2 场会谈，超过上限 1"):
        schedule_meetings(pairs, demands, max_per_expert=1)
    with pytest.raises(PlanningError, match="企业 e 安排了 3 场会谈，超过上限 2"):
        schedule_meetings(pairs, demands, max_per_enterprise=2)
    with pytest.raises(PlanningError, match="至少需要 3 个时段"):
        schedule_meetings(pairs, demands, max_slots=2)
    with pytest.raises(PlanningError, match="重复"):
        schedule_meetings(pairs + pairs[:1], demands)


def test_end_to_end_pairs_and_timetable() -> None:
    demands = make_demands(24, seed=5)
    plan = plan_sessions(demands, SessionLimits(4, 8))
    demand_ids = [d.id for d in demands]
    rng = np.random.default_rng(0)
    affinity = rng.random((30, len(demands)))
    experts = [f"x{i}" for i in range(30)]
    result = assign_experts(plan, affinity, experts, demand_ids, seats=3)
    for session in plan.sessions:
        pairs = propose_pairs(session, result, affinity, experts, demand_ids, per_demand=2)
        assert len(pairs) == 2 * len(session.demand_ids)
        assert {e for _, e in pairs} <= set(result.experts_of(session.key))
        table = schedule_meetings(pairs, demands, session_key=session.key, n_tables=3)
        assert len(table.meetings) == len(pairs)


def test_minus_infinite_affinity_ranks_last() -> None:
    affinity = np.array([[-np.inf, 0.2], [0.5, -np.inf], [0.1, 0.1]])
    result = assign_experts(two_sessions(), affinity, ["x", "y", "z"], ["d1", "d2"], seats=1)
    assert result.experts_of("A") == ("y",) and result.experts_of("B") == ("x",)
    with pytest.raises(PlanningError, match="无效数值"):
        assign_experts(
            two_sessions(), np.full((3, 2), np.nan), ["x", "y", "z"], ["d1", "d2"], seats=1
        )
