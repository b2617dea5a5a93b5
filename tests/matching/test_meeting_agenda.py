"""The meeting agenda, people's limits, 1:1 rounds and theme words (no database)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from matching import text as mtext
from matching.planning import (
    assign_experts,
    fit_rounds,
    keep_one_place,
    place_sessions,
    plan_sessions,
    schedule_meetings,
)
from matching.planning.agenda import solve_exact
from matching.planning.plan_records import (
    MeetingDemand,
    PlanningError,
    Room,
    Session,
    SessionInvitees,
    SessionLimits,
    SessionNeeds,
    SessionPlan,
    TimeSlot,
)
from matching.planning.themes import FILLERS, theme_phrases


def slots(n: int) -> list[TimeSlot]:
    return [TimeSlot(key=f"T{i}", label=f"时段{i + 1}") for i in range(n)]


def rooms(*caps: int) -> list[Room]:
    return [Room(key=f"R{i}", capacity=c, name=f"{i + 1}号厅") for i, c in enumerate(caps)]


def check_agenda(agenda, needs, grid, halls, availability=None) -> None:
    """Nobody in two sessions of a slot, one session per cell, every room seats its session."""
    size = {n.key: n.size for n in needs}
    people = {n.key: set(n.people) for n in needs}
    cap = {r.key: r.capacity for r in halls}
    cells = Counter((p.slot_key, p.room_key) for p in agenda.placements)
    assert max(cells.values(), default=1) == 1
    busy = Counter((person, p.slot_key) for p in agenda.placements
                   for person in people[p.session_key])
    assert max(busy.values(), default=1) == 1
    for p in agenda.placements:
        assert size[p.session_key] <= cap[p.room_key]
        for person in people[p.session_key]:
            if availability and person in availability:
                assert p.slot_key in availability[person]
    assert {p.session_key for p in agenda.placements} | {k for k, _ in agenda.unplaced} == set(size)


def random_instance(rng: random.Random):
    n = rng.randint(4, 12)
    pool = [("expert", i) for i in range(rng.randint(3, 15))]
    needs = [SessionNeeds(f"S{i}", rng.randint(5, 40), tuple(rng.sample(pool, rng.randint(1, 3))))
             for i in range(n)]
    grid = slots(rng.randint(2, 4))
    halls = [Room(f"R{i}", rng.choice([20, 30, 45])) for i in range(rng.randint(1, 3))]
    availability = {p: [t.key for t in grid if rng.random() < 0.7] for p in pool
                    if rng.random() < 0.3}
    return needs, grid, halls, availability


def test_sessions_sharing_people_go_to_different_slots_and_fit_their_rooms():
    needs = [SessionNeeds("A", 50, (("expert", 1), ("enterprise", 7))),
             SessionNeeds("B", 30, (("expert", 1),)),
             SessionNeeds("C", 20, (("enterprise", 7),)),
             SessionNeeds("D", 20, (("expert", 2),))]
    grid, halls = slots(2), rooms(60, 30)
    agenda = place_sessions(needs, grid, halls)
    check_agenda(agenda, needs, grid, halls)
    assert not agenda.unplaced and agenda.exact
    where = {p.session_key: p for p in agenda.placements}
    assert where["A"].room_key == "R0"  # only the big room seats 50
    assert where["A"].slot_key not in (where["B"].slot_key, where["C"].slot_key)


def test_a_pinned_session_stays_and_availability_is_honoured():
    needs = [SessionNeeds("A", 10, (("expert", 1),), pin=("T1", "R1")),
             SessionNeeds("B", 10, (("expert", 1), ("expert", 2))),
             SessionNeeds("C", 10, (("expert", 3),))]
    grid, halls = slots(3), rooms(20, 20)
    availability = {("expert", 2): ["T2"], ("expert", 3): ["T0", "T1"]}
    agenda = place_sessions(needs, grid, halls, availability=availability)
    check_agenda(agenda, needs, grid, halls, availability)
    where = {p.session_key: p for p in agenda.placements}
    assert (where["A"].slot_key, where["A"].room_key, where["A"].pinned) == ("T1", "R1", True)
    assert where["B"].slot_key == "T2"


@pytest.mark.parametrize("needs, message", [
    ([SessionNeeds("A", 5, (("expert", 1),), pin=("T0", "R0")),
      SessionNeeds("B", 5, (("expert", 1),), pin=("T0", "R1"))], "同时出现在固定于同一时段"),
    ([SessionNeeds("A", 5, pin=("T0", "R0")), SessionNeeds("B", 5, pin=("T0", "R0"))],
     "同一时段的同一会议室"),
    ([SessionNeeds("A", 50, pin=("T0", "R0"))], "只能容纳 20 人"),
    ([SessionNeeds("A", 5, pin=("T9", "R0"))], "没有该时段"),
])
def test_contradictory_pins_are_refused_with_the_reason(needs, message):
    with pytest.raises(PlanningError, match=message):
        place_sessions(needs, slots(2), rooms(20, 20))


@pytest.mark.parametrize("grid, halls, availability, message", [
    ([], rooms(10), None, "至少设置 1 个时段"),
    (slots(1), [], None, "至少设置 1 间会议室"),
    (slots(1), [Room("R0", 3.5)], None, "容量应为正整数"),
    (slots(1), [Room("R0", "80")], None, "容量应为正整数"),
    (slots(1), [Room("R0", 0)], None, "至少应为 1"),
    (slots(1), rooms(10, 10)[:1] * 2, None, "出现了两次"),
    (slots(1), rooms(10), {("expert", 1): ["T7"]}, "不是本次会议的时段"),
])
def test_bad_grid_input_is_a_planning_error_not_a_type_error(grid, halls, availability, message):
    with pytest.raises(PlanningError, match=message):
        place_sessions([SessionNeeds("A", 5, (("expert", 1),))], grid, halls,
                       availability=availability)


def test_an_infeasible_agenda_says_what_to_change():
    """One expert in three sessions, two slots: the advice names the person and the fixes."""
    needs = [SessionNeeds(f"S{i}", 10, (("expert", 1), ("enterprise", i)), label=f"第{i + 1}场")
             for i in range(3)] + [SessionNeeds("S9", 90, (), label="第10场")]
    agenda = place_sessions(needs, slots(2), rooms(40, 40),
                            labels={("expert", 1): "专家王某"})
    check_agenda(agenda, needs, slots(2), rooms(40, 40))
    unplaced = dict(agenda.unplaced)
    assert set(unplaced) == {"S9", next(k for k in unplaced if k != "S9")}
    assert "最大的会议室只能容纳 40 人" in unplaced["S9"]
    text = "\n".join(agenda.advice)
    assert "第10场 预计 90 人" in text and "增加一间至少容纳 90 人的会议室" in text
    assert "专家王某 参加 3 场" in text and "只有 2 个可参加的时段" in text
    assert "移到其他时段、与其他分场合并或删去" in text
    print("\n".join(agenda.advice))  # shown in the report


def test_the_advice_gives_the_smallest_number_of_slots_that_works():
    # four sessions pairwise sharing an expert need four slots; there are two
    needs = [SessionNeeds(f"S{i}", 10, tuple(("expert", min(i, j) * 10 + max(i, j))
                                            for j in range(4) if j != i)) for i in range(4)]
    agenda = place_sessions(needs, slots(2), rooms(20, 20))
    assert len(agenda.placements) == 2
    assert "增加 2 个时段（所有人都可参加）即可排下全部分场" in agenda.advice
    assert not any("增加 1 个时段" in a for a in agenda.advice)


def test_the_planner_matches_an_exact_solve_on_small_cases():
    """Placed sessions vs scipy's milp optimum on 60 random instances (200 in the report)."""
    rng = random.Random(0)
    greedy_equal = 0
    for _ in range(60):
        needs, grid, halls, availability = random_instance(rng)
        best, proven = solve_exact(needs, grid, halls, availability=availability)
        assert proven
        planned = place_sessions(needs, grid, halls, availability=availability)
        check_agenda(planned, needs, grid, halls, availability)
        assert len(planned.placements) == best
        greedy = place_sessions(needs, grid, halls, availability=availability, exact=False)
        check_agenda(greedy, needs, grid, halls, availability)
        assert best - len(greedy.placements) <= 3
        greedy_equal += len(greedy.placements) == best
    assert greedy_equal >= 45  # the greedy pass alone is optimal on at least 75%


def test_investors_and_related_enterprises_keep_one_place_per_slot():
    lists = [SessionInvitees("A", (1, 2), (10, 11)), SessionInvitees("B", (1,), (10, 11, 12)),
             SessionInvitees("C", (2,), (10,)), SessionInvitees("D", (1,), (11,))]
    slot_of = {"A": "T0", "B": "T0", "C": "T1", "D": None}
    kept = keep_one_place(lists, slot_of, availability={("investor", 12): ["T1"]},
                          caps={("investor", 10): 1}, kept=[("B", "investor", 11)])
    by = {k.session_key: k for k in kept}
    assert by["A"].investor_ids == (10,)  # 11 is kept (locked) in B, the same slot
    assert by["B"].investor_ids == (11,) and by["B"].enterprise_ids == ()
    assert by["C"].investor_ids == ()  # 10 reached its cap of one session
    assert by["D"] == lists[3]  # no slot yet: untouched


def test_one_to_one_rounds_fit_the_slot_and_list_the_rest_with_reasons():
    demands = [MeetingDemand(id=f"D{i}", enterprise_id=f"C{i % 3}") for i in range(9)]
    pairs = [[f"D{i}", f"X{i % 2}"] for i in range(9)]  # lists are accepted
    kept, missed = fit_rounds(pairs, demands, n_rounds=3, n_tables=2)
    assert len(kept) == 6 and len(missed) == 3
    assert all("2 张桌 × 3 轮最多安排 6 场洽谈，已排满" in m.reason for m in missed)
    _, busy = fit_rounds(pairs, demands, n_rounds=2, n_tables=9)
    assert {m.reason for m in busy} == {"该专家在本场已有 2 场洽谈，达到可排的上限 2"}
    table = schedule_meetings(kept, demands, n_tables=2)
    assert table.n_slots <= 3
    assert max(Counter((m.slot, m.expert_id) for m in table.meetings).values()) == 1
    assert max(Counter((m.slot, m.enterprise_id) for m in table.meetings).values()) == 1
    _, none = fit_rounds(pairs, demands, n_rounds=0, n_tables=2)
    assert len(none) == 9 and "没有留出一对一洽谈的时间" in none[0].reason
    with pytest.raises(PlanningError, match="桌数应为正整数"):
        fit_rounds(pairs, demands, n_rounds=2, n_tables=1.5)
    with pytest.raises(PlanningError, match="两项"):
        schedule_meetings([("D1",)], demands)


def plan3() -> SessionPlan:
    return SessionPlan(tuple(Session(f"S{i}", (f"D{i}",)) for i in range(3)))


def test_seats_are_checked_without_type_errors():
    aff = np.ones((4, 3))
    ids, dids = [f"X{i}" for i in range(4)], ["D0", "D1", "D2"]
    with pytest.raises(PlanningError, match="每场专家席位应为非负整数，而不是“1.5”"):
        assign_experts(plan3(), aff, ids, dids, seats=1.5)
    with pytest.raises(PlanningError, match="分场 S7 不存在"):
        assign_experts(plan3(), aff, ids, dids, seats={"S0": 1, "S7": 1})
    with pytest.raises(PlanningError, match="分场 S0 的专家席位应为非负整数，而不是“two”"):
        assign_experts(plan3(), aff, ids, dids, seats={"S0": "two"})


def test_cap_advice_names_the_smallest_cap_that_works():
    """Only X0 may sit in S1 and S2 and X1 only in S0, so X0 needs a cap of 3, not 2."""
    aff = np.ones((2, 3))
    conflicts = [("X1", "S1"), ("X1", "S2")]
    with pytest.raises(PlanningError) as err:
        assign_experts(plan3(), aff, ["X0", "X1"], ["D0", "D1", "D2"], seats={"S0": 2, "S1": 1,
                       "S2": 1}, conflicts=conflicts)
    assert "请把每位专家场次上限调到 3" in err.value.message
    ok = assign_experts(plan3(), aff, ["X0", "X1"], ["D0", "D1", "D2"],
                        seats={"S0": 2, "S1": 1, "S2": 1}, conflicts=conflicts,
                        max_sessions_per_expert=3)
    assert len(ok.seats) == 4


def test_per_expert_caps_and_minimum_loads_are_honoured():
    aff = np.array([[0.9, 0.9, 0.9], [0.8, 0.8, 0.8], [0.1, 0.1, 0.1], [0.5, 0.5, 0.5]])
    ids = ["X0", "X1", "X2", "X3"]
    got = assign_experts(plan3(), aff, ids, ["D0", "D1", "D2"], seats=1,
                         max_sessions_per_expert=1, expert_caps={"X0": 2},
                         min_sessions={"X2": 1})
    load = Counter(s.expert_id for s in got.seats)
    assert load["X0"] == 2 and load["X2"] == 1 and "X1" not in load
    with pytest.raises(PlanningError, match="最少场次（3）大于其场次上限（1）"):
        assign_experts(plan3(), aff, ids, ["D0", "D1", "D2"], seats=1, min_sessions={"X2": 3})


def test_an_enterprises_demands_go_to_one_session_of_its_industry_when_limits_allow():
    texts = ["锂电池热失控预警", "电池热失控安全防护", "电池包热失控蔓延抑制", "热失控气体探测",
             "固态电解质界面改性", "硫化物固态电解质制备", "固态电解质离子电导率",
             "聚合物固态电解质", "疫苗冻干保护剂", "抗体药物纯化工艺"]
    owner = {0: "E", 4: "E", 8: "E"}  # E also has a demand of another industry
    demands = [MeetingDemand(id=i, text=t, industry="pharma" if i >= 8 else "battery",
                             enterprise_id=owner.get(i, f"C{i}")) for i, t in enumerate(texts)]
    limits = SessionLimits(2, 5, n_sessions=3)
    apart = plan_sessions(demands, limits, keep_enterprises_together=False)
    together = plan_sessions(demands, limits)
    assert apart.session_of(0).key != apart.session_of(4).key  # by topic
    assert together.session_of(0).key == together.session_of(4).key
    assert together.session_of(8).key != together.session_of(0).key  # industries stay apart


def test_theme_words_are_whole_words_or_phrases_without_fillers():
    texts = ["湖仓一体数据平台建设", "湖仓一体架构下的实时数据分析", "多式联运调度优化",
             "公铁多式联运信息平台", "工业控制系统入侵检测国产化替代", "工控网络入侵检测设备国产化"]
    demands = [MeetingDemand(id=i, text=t, tokens=tuple(mtext.analyze(t)))
               for i, t in enumerate(texts)]
    for a in range(0, 6, 2):
        words = theme_phrases(demands[a:a + 2], demands, 5)
        assert words
        for w in words:
            assert w not in FILLERS
            assert any(w in t for t in texts[a:a + 2])  # taken from the session's demands
        assert not {"湖仓", "一体", "多式", "联运", "国产", "数据", "分析"} & set(words)
    assert "湖仓一体" in theme_phrases(demands[:2], demands, 5)
    assert "多式联运" in theme_phrases(demands[2:4], demands, 5)
