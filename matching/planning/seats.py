"""Invite experts to every session in one global assignment of maximal total affinity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from matching.planning.plan_records import (
    ExpertAssignment,
    ExpertSeat,
    PlanLocks,
    PlanningError,
    SessionPlan,
    whole_number,
)

__all__ = ["as_matrix", "assign_experts", "session_affinity"]


def as_matrix(affinity: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray | sp.csc_matrix:
    if sp.issparse(affinity):
        return sp.csc_matrix(affinity)
    return np.asarray(affinity, dtype=float)


def session_affinity(
    plan: SessionPlan,
    affinity: np.ndarray | sp.spmatrix | sp.sparray,
    demand_ids: Sequence[Hashable],
    *,
    aggregate_top: int | None = 3,
) -> np.ndarray:
    """Aggregate an experts x demands affinity into an experts x sessions affinity.

    Parameters
    ----------
    plan : SessionPlan
        The sessions.
    affinity : ndarray or sparse matrix of shape (n_experts, n_demands)
        Match score of each expert for each demand (e.g. the ranker's ``scores()``).
    demand_ids : sequence
        The demand of each column of ``affinity``.
    aggregate_top : int or None, default=3
        Session affinity = mean of the expert's ``aggregate_top`` best scores over the session's
        demands (``None``: mean over all of them).

    Returns
    -------
    ndarray of shape (n_experts, n_sessions)
    """
    column = {d: j for j, d in enumerate(demand_ids)}
    mat = as_matrix(affinity)
    if mat.shape[1] != len(demand_ids):
        raise PlanningError("专家匹配度矩阵的列数与需求数不一致", "affinity")
    out = np.zeros((mat.shape[0], len(plan.sessions)))
    for s, session in enumerate(plan.sessions):
        missing = [d for d in session.demand_ids if d not in column]
        if missing:
            raise PlanningError(f"需求 {missing[0]} 没有专家匹配度：请重新计算匹配", "affinity")
        cols = [column[d] for d in session.demand_ids]
        if not cols:
            continue
        sub = mat[:, cols]
        sub = sub.toarray() if sp.issparse(sub) else sub
        top = len(cols) if aggregate_top is None else min(aggregate_top, len(cols))
        if top < len(cols):
            sub = -np.partition(-sub, top - 1, axis=1)[:, :top]
        out[:, s] = sub.mean(axis=1)
    if np.isnan(out).any() or np.isposinf(out).any():
        raise PlanningError("专家匹配度中有无效数值：请重新计算匹配", "affinity")
    if np.isneginf(out).any():
        # e.g. experts without any text: keep them last but usable
        finite = out[np.isfinite(out)]
        out[np.isneginf(out)] = (finite.min() if finite.size else 0.0) - 1.0
    return out


def _seat_problem(
    scores: np.ndarray, candidates: list[set[int]], locked: set[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    pairs = sorted((s, e) for s, cand in enumerate(candidates) for e in cand)
    s_arr = np.fromiter((p[0] for p in pairs), dtype=int, count=len(pairs))
    e_arr = np.fromiter((p[1] for p in pairs), dtype=int, count=len(pairs))
    n_edges = len(pairs)
    experts, e_local = np.unique(e_arr, return_inverse=True)
    a_sessions = sp.csr_matrix(
        (np.ones(n_edges), (s_arr, np.arange(n_edges))), shape=(len(candidates), n_edges)
    )
    a_experts = sp.csr_matrix(
        (np.ones(n_edges), (e_local, np.arange(n_edges))), shape=(len(experts), n_edges)
    )
    lower = np.array([1.0 if (e, s) in locked else 0.0 for e, s in zip(e_arr, s_arr, strict=True)])
    return e_arr, s_arr, experts, lower, a_sessions, a_experts


def _solve_seats(
    scores: np.ndarray,
    candidates: list[set[int]],
    seats: np.ndarray,
    cap: np.ndarray,
    locked: set[tuple[int, int]],
    minimum: np.ndarray | None = None,
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray] | None:
    """Solve the seat LP on the candidate edges; return the edges and the duals.

    The constraint matrix (sessions x edges, experts x edges, the experts' minimum loads
    repeating expert rows) is that of a bipartite b-matching with degree bounds, hence
    totally unimodular: a basic optimal solution is integral. The duals (one per session,
    one per expert; zero for experts outside the candidates) price the edges left out, so
    the caller can prove optimality over all experts.
    """
    e_arr, s_arr, experts, lower, a_sessions, a_experts = _seat_problem(scores, candidates, locked)
    weights = scores[e_arr, s_arr]
    a_ub, b_ub = a_experts, cap[experts].astype(float)
    floor_rows = np.array([], dtype=int)
    if minimum is not None:
        floor_rows = np.flatnonzero(minimum[experts] > 0)
        if floor_rows.size:
            a_ub = sp.vstack([a_experts, -a_experts[floor_rows]]).tocsr()
            b_ub = np.concatenate([b_ub, -minimum[experts][floor_rows].astype(float)])
    result = linprog(
        -weights,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_sessions,
        b_eq=seats,
        bounds=np.column_stack([lower, np.ones(len(e_arr))]),
        method="highs",
    )
    if result.status != 0 or result.x is None:
        return None
    x = result.x
    if np.abs(x - np.round(x)).max() > 1e-6:  # pragma: no cover - HiGHS returns a vertex
        exact = milp(
            -weights,
            constraints=[
                LinearConstraint(a_sessions, seats, seats),
                LinearConstraint(a_ub, -np.inf, b_ub),
            ],
            integrality=np.ones(len(e_arr)),
            bounds=Bounds(lower, np.ones(len(e_arr))),
        )
        x = exact.x
    marginals = np.asarray(result.ineqlin.marginals)
    expert_dual = np.zeros(scores.shape[0])
    expert_dual[experts] = marginals[: len(experts)]
    if floor_rows.size:
        np.subtract.at(expert_dual, experts[floor_rows], marginals[len(experts) :])
    chosen = np.flatnonzero(x > 0.5)
    edges = [(int(e_arr[i]), int(s_arr[i])) for i in chosen]
    return edges, np.asarray(result.eqlin.marginals), expert_dual


def _smallest_cap(
    scores: np.ndarray,
    allowed: np.ndarray,
    seats: np.ndarray,
    cap: np.ndarray,
    locked: set[tuple[int, int]],
    minimum: np.ndarray | None,
    start: int,
) -> int | None:
    """Return the smallest uniform cap (>= ``start``) that fills every seat, else ``None``.

    Feasibility only grows with the cap, so the first feasible value is the smallest. Solved on
    every allowed pair, so it is only tried on instances of moderate size.
    """
    n_experts, n_sessions = scores.shape
    if n_experts * n_sessions > 400_000:
        return None
    full = [set(np.flatnonzero(allowed[:, s]).tolist()) for s in range(n_sessions)]
    for value in range(start, n_sessions + 1):
        if _solve_seats(scores, full, seats, np.maximum(cap, value), locked, minimum):
            return value
    return None


def assign_experts(
    plan: SessionPlan,
    affinity: np.ndarray | sp.spmatrix | sp.sparray,
    expert_ids: Sequence[Hashable],
    demand_ids: Sequence[Hashable],
    *,
    seats: int | Mapping[str, int] = 3,
    max_sessions_per_expert: int = 1,
    expert_caps: Mapping[Hashable, int] | None = None,
    min_sessions: Mapping[Hashable, int] | None = None,
    conflicts: Iterable[tuple[Hashable, str]] = (),
    locks: PlanLocks | None = None,
    top_n: int = 50,
    aggregate_top: int | None = 3,
) -> ExpertAssignment:
    """Invite experts to every session in one global assignment of maximal total affinity.

    Parameters
    ----------
    plan : SessionPlan
        The sessions.
    affinity : ndarray or sparse matrix of shape (n_experts, n_demands)
        Match score of each expert (rows, in ``expert_ids`` order) for each demand (columns, in
        ``demand_ids`` order).
    expert_ids, demand_ids : sequence
        Row and column ids of ``affinity``.
    seats : int or mapping of session key to int, default=3
        Expert seats of each session; every seat must be filled.
    max_sessions_per_expert : int, default=1
        Sessions an expert may sit in.
    expert_caps : mapping of expert id to int, optional
        Per-expert caps that replace ``max_sessions_per_expert`` for those experts.
    min_sessions : mapping of expert id to int, optional
        Minimum loads: sessions an expert must be invited to (e.g. a keynote expert).
    conflicts : iterable of (expert_id, session_key)
        Pairs that must not happen (回避).
    locks : PlanLocks, optional
        ``expert_seats`` are kept as they are and count against both limits.
    top_n : int, default=50
        The solver starts from each session's ``top_n`` best experts (widened when that makes
        the seats impossible to fill), then adds, by column generation, every other expert
        whose LP reduced cost shows it could raise the total: the result is optimal over all
        experts, and usually only the first pools are ever solved.
    aggregate_top : int or None, default=3
        See :func:`session_affinity`.

    Returns
    -------
    ExpertAssignment
        Seats ordered by session, best affinity first; ``total_affinity`` is maximal.

    Raises
    ------
    PlanningError
        When there are no experts, limits contradict each other, or the seats cannot be
        filled; the message says which limit to relax and by how much.
    """
    locks = locks or PlanLocks()
    if len(expert_ids) == 0:
        raise PlanningError("没有可邀请的专家：请先导入专家或扩大专家范围", "no_experts")
    k = whole_number(max_sessions_per_expert, "每位专家场次上限", least=1, code="limits")
    if len(set(expert_ids)) != len(expert_ids):
        raise PlanningError("专家列表中有重复的专家", "duplicate")
    mat = as_matrix(affinity)
    if mat.shape[0] != len(expert_ids):
        raise PlanningError("专家匹配度矩阵的行数与专家数不一致", "affinity")
    sessions = plan.sessions
    if not sessions:
        raise PlanningError("还没有分场：请先分场再邀请专家", "no_sessions")
    keys = [s.key for s in sessions]
    s_index = {k: i for i, k in enumerate(keys)}
    e_index = {e: i for i, e in enumerate(expert_ids)}
    if isinstance(seats, Mapping):
        unknown = [key for key in seats if key not in s_index]
        if unknown:
            raise PlanningError(f"专家席位中的分场 {unknown[0]} 不存在：请检查分场编号", "seats")
        seat_arr = np.array(
            [whole_number(seats.get(key, 0), f"分场 {key} 的专家席位", code="limits")
             for key in keys], float
        )
    else:
        seat_arr = np.full(len(keys), float(whole_number(seats, "每场专家席位", code="limits")))
    n_experts = len(expert_ids)
    cap_arr = np.full(n_experts, k, dtype=int)
    for e, value in (expert_caps or {}).items():
        if e not in e_index:
            raise PlanningError(f"场次上限中的专家 {e} 不在可邀请专家之中", "limits")
        cap_arr[e_index[e]] = whole_number(value, f"专家 {e} 的场次上限", code="limits")
    min_arr = np.zeros(n_experts, dtype=int)
    for e, value in (min_sessions or {}).items():
        if e not in e_index:
            raise PlanningError(f"最少场次中的专家 {e} 不在可邀请专家之中", "limits")
        min_arr[e_index[e]] = whole_number(value, f"专家 {e} 的最少场次", code="limits")
        if min_arr[e_index[e]] > cap_arr[e_index[e]]:
            raise PlanningError(
                f"专家 {e} 的最少场次（{min_arr[e_index[e]]}）大于其场次上限"
                f"（{cap_arr[e_index[e]]}）：请把上限调到至少 {min_arr[e_index[e]]}",
                "limits",
            )
    if min_arr.sum() > seat_arr.sum():
        raise PlanningError(
            f"专家最少场次合计 {int(min_arr.sum())} 场，超过全部专家席位 {int(seat_arr.sum())} 个："
            "请降低最少场次或增加每场席位",
            "limits",
        )

    def pair(e: Hashable, key: str, what: str) -> tuple[int, int]:
        if e not in e_index:
            raise PlanningError(f"{what}中的专家 {e} 不在可邀请专家之中", "locks")
        if key not in s_index:
            raise PlanningError(f"{what}中的分场 {key} 不存在", "locks")
        return e_index[e], s_index[key]

    conflict_set = {pair(e, key, "回避名单") for e, key in conflicts}
    locked = {pair(e, key, "锁定的专家席位") for e, key in locks.expert_seats}
    if locked & conflict_set:
        e, s = min(locked & conflict_set)
        raise PlanningError(
            f"专家 {expert_ids[e]} 既被锁定在分场 {keys[s]}，又在该场的回避名单中", "locks"
        )
    # Locked seats over a limit: per expert (most locked first), then per session.
    over_limit = (
        (Counter(e for e, _ in locked).most_common(), cap_arr,
         lambda e, n: f"专家 {expert_ids[e]} 被锁定在 {n} 个分场，超过其场次上限 {cap_arr[e]}："
                      f"请把上限调到 {n}"),
        (Counter(s for _, s in locked).items(), seat_arr,
         lambda s, n: f"分场 {keys[s]} 锁定了 {n} 位专家，但只有 {int(seat_arr[s])} 个席位："
                      f"请把该场席位调到 {n}"),
    )
    for counts, limit, message in over_limit:
        for i, n in counts:
            if n > limit[i]:
                raise PlanningError(message(i, n), "limits")
    blocked = np.zeros(len(sessions), dtype=int)
    for _, s in conflict_set:
        blocked[s] += 1
    for s in range(len(sessions)):
        eligible = n_experts - blocked[s]
        if eligible < seat_arr[s]:
            raise PlanningError(
                f"分场 {keys[s]} 需要 {int(seat_arr[s])} 位专家，但排除回避名单后只有 "
                f"{eligible} 位：请把该场席位减到 {eligible}",
                "seats",
            )

    scores = session_affinity(plan, mat, demand_ids, aggregate_top=aggregate_top)
    allowed = np.ones(scores.shape, dtype=bool)
    for e, s in conflict_set:
        allowed[e, s] = False
    for e in np.flatnonzero(min_arr):
        if allowed[e].sum() < min_arr[e]:
            raise PlanningError(
                f"专家 {expert_ids[e]} 至少要参加 {min_arr[e]} 场，但排除回避名单后只有 "
                f"{int(allowed[e].sum())} 场可参加：请降低其最少场次",
                "limits",
            )
    floor_experts = [int(e) for e in np.flatnonzero(min_arr)]
    need = int(seat_arr.sum())
    available = int(cap_arr.sum())
    if need > available:
        k_needed = k + 1
        while int(np.maximum(cap_arr, k_needed).sum()) < need:
            k_needed += 1
        # with conflicts the count is only a bound: the smallest cap that really fills every seat
        exact_cap = _smallest_cap(scores, allowed, seat_arr, cap_arr, locked, min_arr, k_needed)
        k_needed = exact_cap if exact_cap is not None else k_needed
        per = available // len(sessions)
        raise PlanningError(
            f"需要 {need} 个专家席位，但可用 {available} 个：请把每位专家场次上限调到 {k_needed}，"
            f"或把每场专家席位减到 {per}，或减少场次",
            "seats",
        )
    pool = max(top_n, 1)
    while True:
        candidates: list[set[int]] = []
        for s in range(len(sessions)):
            col = np.where(allowed[:, s], scores[:, s], -np.inf)
            n_take = min(pool + blocked[s], n_experts)
            top = np.argpartition(-col, n_take - 1)[:n_take] if n_take < n_experts else None
            top = np.arange(n_experts) if top is None else top
            candidates.append({int(e) for e in top if allowed[e, s]})
        for e, s in locked:
            candidates[s].add(e)
        for e in floor_experts:  # an expert with a minimum load may sit anywhere allowed
            for s in np.flatnonzero(allowed[e]):
                candidates[int(s)].add(e)
        solved = _solve_seats(scores, candidates, seat_arr, cap_arr, locked, min_arr)
        if solved is not None:
            break
        if pool >= n_experts:
            smallest = _smallest_cap(scores, allowed, seat_arr, cap_arr, locked, min_arr, k + 1)
            hint = (f"请把每位专家场次上限调到 {smallest}" if smallest is not None
                    else "提高每位专家场次上限也无法排满")
            raise PlanningError(
                f"在回避名单、最少场次和每位专家至多 {k} 场的限制下，无法排满所有专家席位："
                f"{hint}，或减少每场席位或缩短回避名单",
                "seats",
            )
        pool = min(pool * 4, n_experts)
    # column generation: add every left-out pair whose reduced cost says it could raise the
    # total, until none does; the result is then optimal over all experts, not just the pools
    while True:
        solution, session_dual, expert_dual = solved
        tol = 1e-9 * max(1.0, float(np.abs(scores).max()))
        gain = scores + session_dual[None, :] + expert_dual[:, None]
        gain[~allowed] = -np.inf
        added = 0
        for s in range(len(sessions)):
            better = np.flatnonzero(gain[:, s] > tol)
            new = [int(e) for e in better if e not in candidates[s]]
            if new:
                new.sort(key=lambda e: -gain[e, s])
                candidates[s].update(new[: max(top_n, 1)])
                added += 1
        if not added:
            break
        solved = _solve_seats(scores, candidates, seat_arr, cap_arr, locked, min_arr)
        if solved is None:  # pragma: no cover - adding columns keeps it feasible
            raise PlanningError("专家席位求解失败：请稍后重试", "internal")
    seats_out = [
        ExpertSeat(keys[s], expert_ids[e], float(scores[e, s]), (e, s) in locked)
        for e, s in solution
    ]
    seats_out.sort(key=lambda x: (s_index[x.session_key], -x.affinity, e_index[x.expert_id]))
    return ExpertAssignment(tuple(seats_out), float(sum(x.affinity for x in seats_out)))
