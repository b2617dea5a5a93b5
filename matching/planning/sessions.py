"""Group the picked demands of a meeting into sessions: by industry, then topic, within limits."""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import normalize

from matching.planning.plan_records import (
    MeetingDemand,
    PlanLocks,
    PlanningError,
    Session,
    SessionLimits,
    SessionPlan,
)
from matching.planning.themes import (
    Analyzer,
    bigram_analyze,
    centroid,
    theme_phrases,
    theme_words,
    vectorize,
)

__all__ = ["plan_sessions"]

#: Bonus of a session of the demand's own (or merged-into) industry over a session of
#: another industry, on the scale of a cosine similarity.
_INDUSTRY_BONUS = 1.0
#: Bonus of a seat that must be filled for a session to reach ``min_demands``.
_MANDATORY_BONUS = 10.0
_FORBIDDEN = 1e6


def _check_limits(limits: SessionLimits) -> None:
    lo, hi, k = limits.min_demands, limits.max_demands, limits.n_sessions
    if lo < 1:
        raise PlanningError(f"每场最少需求数为 {lo}，至少应为 1", "limits")
    if lo > hi:
        raise PlanningError(
            f"每场最少需求数（{lo}）大于最多需求数（{hi}）：请把最多需求数调到至少 {lo}，"
            f"或把最少需求数调到至多 {hi}",
            "limits",
        )
    if k is not None and k < 1:
        raise PlanningError(f"场次数为 {k}，至少应为 1，或留空由系统自动确定", "limits")


def _apportion(
    counts: Mapping[Hashable, int],
    floor: Mapping[Hashable, int],
    cap: Mapping[Hashable, int],
    target: float,
    lo: int,
    k: int | None,
) -> dict[Hashable, int]:
    """Share ``k`` sessions among industries: about ``n / target`` each, adjusted D'Hondt-wise."""
    order = list(counts)
    share = {}
    for g in order:
        ideal = round(counts[g] / target) if counts[g] >= lo else 0
        if counts[g] >= lo:
            ideal = max(ideal, 1)
        share[g] = min(max(ideal, floor[g]), cap[g])
    if k is None:
        return share
    while sum(share.values()) > k:
        removable = [g for g in order if share[g] > floor[g]]
        # remove where the remaining sessions stay smallest
        g = min(removable, key=lambda g: (counts[g] / max(share[g] - 1, 0.5), order.index(g)))
        share[g] -= 1
    while sum(share.values()) < k:
        addable = [g for g in order if share[g] < cap[g]]
        big = [g for g in addable if counts[g] >= lo] or addable
        g = max(big, key=lambda g: (counts[g] / (share[g] + 1), -order.index(g)))
        share[g] += 1
    return share


def _themes(
    demands: Sequence[MeetingDemand],
    members: Sequence[int],
    matrix: np.ndarray,
    terms: np.ndarray,
    n_words: int,
) -> tuple[str, ...]:
    """Whole-word theme phrases when the demands carry word tokens, else TF-IDF terms."""
    phrases = theme_phrases([demands[i] for i in members], demands, n_words)
    if phrases is not None:
        return phrases
    return theme_words(matrix, members, terms, n_words)


def _gather_enterprises(
    demands: Sequence[MeetingDemand],
    members_of: list[list[int]],
    sims: np.ndarray,
    free_rows: Sequence[int],
    pinned: set[int],
    lo: int,
    hi: int,
    industry: Sequence[Hashable],
    seed_industry: Sequence[Hashable],
) -> None:
    """Move each enterprise's demands to the session holding most of them, within the limits.

    ``sims`` are the demands' similarities to the session seeds (rows in ``free_rows`` order);
    ties go to the session the enterprise's demands are closest to. A demand only moves to a
    session of its own industry (sessions stay by industry; an enterprise split across
    industries is kept apart in time by the agenda). Pinned demands stay.
    """
    where = {row: s for s, members in enumerate(members_of) for row in members}
    position = {row: r for r, row in enumerate(free_rows)}
    by_enterprise: dict[Hashable, list[int]] = defaultdict(list)
    for row in where:
        owner = demands[row].enterprise_id
        if owner is not None:
            by_enterprise[(owner, industry[row])].append(row)
    for rows in sorted(by_enterprise.values(), key=len, reverse=True):
        homes = Counter(where[row] for row in rows)
        if len(homes) < 2:
            continue
        target = max(homes, key=lambda s: (homes[s], sum(sims[position[r], s] for r in rows)))
        for row in rows:
            src = where[row]
            if src == target or row in pinned or seed_industry[target] != industry[row]:
                continue
            if len(members_of[target]) >= hi or len(members_of[src]) <= lo:
                continue
            members_of[src].remove(row)
            members_of[target].append(row)
            where[row] = target


def plan_sessions(
    demands: Sequence[MeetingDemand],
    limits: SessionLimits | None = None,
    *,
    locks: PlanLocks | None = None,
    analyzer: Analyzer = bigram_analyze,
    n_theme_words: int = 5,
    random_state: int | None = 0,
    keep_enterprises_together: bool = True,
) -> SessionPlan:
    """Group demands into sessions by industry, then by topic, within the size limits.

    Parameters
    ----------
    demands : sequence of MeetingDemand
        The demands the organiser picked; ids must be unique.
    limits : SessionLimits, optional
        Demands per session and number of sessions (default ``SessionLimits()``).
    locks : PlanLocks, optional
        Sessions kept whole and demands pinned to a session key (``expert_seats`` are used by
        :func:`assign_experts`). Locked sessions count in ``limits.n_sessions`` and are not
        checked against the size limits.
    analyzer : callable, default=bigram_analyze
        ``analyzer(text) -> list[str]``, used for demands without stored tokens.
    n_theme_words : int, default=5
        Theme words per session.
    keep_enterprises_together : bool, default=True
        Move an enterprise's demands into one session where the size limits allow: an
        enterprise (its contact) cannot sit in two sessions held at the same time, so every
        split enterprise is a constraint on the agenda.
    random_state : int or None, default=0
        Seed of the k-means that splits a large industry; equal seeds give equal plans.

    Returns
    -------
    SessionPlan
        Locked sessions first (as given, marked locked), then the planned sessions.

    Raises
    ------
    PlanningError
        On no or a single demand, duplicate ids, contradictory limits, more sessions than
        demands, or limits and locks that no plan can satisfy. The message says what to relax.
    """
    limits = limits or SessionLimits()
    locks = locks or PlanLocks()
    _check_limits(limits)
    lo, hi = limits.min_demands, limits.max_demands
    if not demands:
        raise PlanningError("没有选择任何需求：请至少选择 2 项需求再分场", "no_demands")
    if len(demands) == 1:
        raise PlanningError("只选择了 1 项需求，无需分场：请至少选择 2 项需求", "one_demand")
    ids = [d.id for d in demands]
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise PlanningError(f"需求 {dup} 被重复选择：每项需求只能选一次", "duplicate")
    if limits.n_sessions is not None and limits.n_sessions > len(demands):
        raise PlanningError(
            f"场次数（{limits.n_sessions}）多于需求数（{len(demands)}）：请把场次数减到至多 "
            f"{len(demands)}，或留空由系统自动确定",
            "too_many_sessions",
        )
    index = {d.id: i for i, d in enumerate(demands)}

    # locked sessions are kept whole
    locked_rows: set[int] = set()
    locked_keys: set[str] = set()
    for s in locks.sessions:
        if s.key in locked_keys:
            raise PlanningError(f"锁定的分场 {s.key} 出现了两次", "locks")
        locked_keys.add(s.key)
        for did in s.demand_ids:
            if did not in index:
                raise PlanningError(
                    f"锁定的分场 {s.key} 含有需求 {did}，但它不在本次所选需求中：请重新选入该需求"
                    "或解除锁定",
                    "locks",
                )
            if index[did] in locked_rows:
                raise PlanningError(f"需求 {did} 出现在两个锁定的分场中", "locks")
            locked_rows.add(index[did])
    pins: dict[str, list[int]] = defaultdict(list)
    pinned_rows: set[int] = set()
    for did, key in locks.placements:
        if did not in index:
            raise PlanningError(f"锁定位置的需求 {did} 不在本次所选需求中", "locks")
        row = index[did]
        if row in pinned_rows:
            raise PlanningError(f"需求 {did} 被锁定到了两个分场", "locks")
        if key in locked_keys:
            if row not in locked_rows or did not in next(
                s.demand_ids for s in locks.sessions if s.key == key
            ):
                raise PlanningError(
                    f"需求 {did} 被锁定到分场 {key}，但该分场已整体锁定且不含此需求", "locks"
                )
            continue
        if row in locked_rows:
            raise PlanningError(f"需求 {did} 已在另一个锁定的分场中，不能再锁定到 {key}", "locks")
        pins[key].append(row)
        pinned_rows.add(row)
    for key, rows in pins.items():
        if len(rows) > hi:
            raise PlanningError(
                f"分场 {key} 锁定了 {len(rows)} 项需求，超过每场上限 {hi}：请把每场最多需求数调到 "
                f"{len(rows)}，或解除部分锁定",
                "locks",
            )

    matrix, terms = vectorize(demands, analyzer)
    locked_sessions = tuple(s if s.locked else replace(s, locked=True) for s in locks.sessions)
    free_rows = [i for i in range(len(demands)) if i not in locked_rows]
    n_free = len(free_rows)
    k_free = None if limits.n_sessions is None else limits.n_sessions - len(locked_sessions)
    if n_free == 0:
        if k_free not in (None, 0):
            raise PlanningError(
                f"所有需求都在锁定的分场中，无法再排出 {k_free} 个新分场：请把场次数调到 "
                f"{len(locked_sessions)}",
                "too_many_sessions",
            )
        return SessionPlan(locked_sessions)
    if k_free is not None and k_free < 1:
        raise PlanningError(
            f"锁定的分场已有 {len(locked_sessions)} 个，还剩 {n_free} 项需求没有分场：请把场次数"
            f"调到至少 {len(locked_sessions) + math.ceil(n_free / hi)}",
            "too_few_sessions",
        )

    # feasible numbers of free sessions
    p = len(pins)
    k_min = max(math.ceil(n_free / hi), p, 1)
    pinned_free_need = sum(max(0, lo - len(rows)) for rows in pins.values())
    n_unpinned = n_free - len(pinned_rows)
    k_max = p + (n_unpinned - pinned_free_need) // lo if n_unpinned >= pinned_free_need else -1
    if k_max < k_min:
        if p:
            raise PlanningError(
                f"在锁定条件下，{n_free} 项需求无法分成每场 {lo}–{hi} 项：请把每场最少需求数调低"
                "或解除部分锁定",
                "limits",
            )
        raise PlanningError(
            f"{n_free} 项需求无法分成每场 {lo}–{hi} 项的分场：请把每场最少需求数调到至多 "
            f"{n_free // k_min}，或把每场最多需求数调到至少 "
            f"{math.ceil(n_free / max(n_free // lo, 1))}",
            "limits",
        )
    if k_free is not None and not k_min <= k_free <= k_max:
        hint = f"请把场次数调到 {k_min + len(locked_sessions)}–{k_max + len(locked_sessions)} 之间"
        raise PlanningError(
            f"{n_free} 项需求分成 {k_free} 场无法满足每场 {lo}–{hi} 项的限制：{hint}，"
            "或调整每场需求数上下限",
            "limits",
        )

    # industries: known ones, and unknown ones placed by the nearest industry centroid
    labelled: dict[Hashable, list[int]] = defaultdict(list)
    for i, d in enumerate(demands):
        if d.industry is not None:
            labelled[d.industry].append(i)
    industry = [d.industry for d in demands]
    inferred: list[tuple[Hashable, Hashable]] = []
    if labelled:
        names = list(labelled)
        centroids = np.vstack([centroid(matrix, rows) for rows in labelled.values()])
        for i, d in enumerate(demands):
            if d.industry is None:
                sims = centroids @ matrix[i].toarray().ravel()
                industry[i] = names[int(np.argmax(sims))]
                if i not in locked_rows:
                    inferred.append((d.id, industry[i]))
    else:
        industry = ["" for _ in demands]

    # seeds: pinned sessions, then k-means seeds per industry
    counts: dict[Hashable, int] = Counter(industry[i] for i in free_rows)
    pin_industry = {
        key: Counter(industry[r] for r in rows).most_common(1)[0][0] for key, rows in pins.items()
    }
    floor = Counter(pin_industry.values())
    unpinned_by_ind: dict[Hashable, list[int]] = defaultdict(list)
    for i in free_rows:
        if i not in pinned_rows:
            unpinned_by_ind[industry[i]].append(i)
    groups = sorted(counts, key=lambda g: (-counts[g], str(g)))
    floor_d = {g: floor.get(g, 0) for g in groups}
    cap = {g: floor_d[g] + len(unpinned_by_ind.get(g, ())) for g in groups}
    target = (lo + hi) / 2
    if k_free is None:
        share = _apportion(counts, floor_d, cap, target, lo, None)
        k_free = min(max(sum(share.values()), k_min), k_max)
    share = _apportion({g: counts[g] for g in groups}, floor_d, cap, target, lo, k_free)

    seed_vecs: list[np.ndarray] = []
    seed_industry: list[Hashable] = []
    seed_keys: list[str | None] = []
    for key in sorted(pins, key=lambda k: min(pins[k])):
        seed_vecs.append(centroid(matrix, pins[key]))
        seed_industry.append(pin_industry[key])
        seed_keys.append(key)
    for g in groups:
        n_new = share[g] - floor_d[g]
        if n_new <= 0:
            continue
        rows = unpinned_by_ind[g]
        if n_new == 1:
            seed_vecs.append(centroid(matrix, rows))
        else:
            sub = matrix[rows]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                # one k-means++ start: three cost 3x the time for ~3% of intra-session cosine
                km = KMeans(n_clusters=n_new, n_init=1, random_state=random_state).fit(sub)
            labels = km.labels_
            for c in range(n_new):
                members = [rows[j] for j in np.flatnonzero(labels == c)]
                seed_vecs.append(
                    centroid(matrix, members)
                    if members
                    else normalize(km.cluster_centers_[c : c + 1])[0]
                )
        seed_industry.extend([g] * n_new)
        seed_keys.extend([None] * n_new)
    seeds = np.vstack(seed_vecs)
    n_seeds = len(seed_vecs)

    # an industry without its own session is merged into the nearest session
    preferred: dict[Hashable, set[int]] = defaultdict(set)
    for s, g in enumerate(seed_industry):
        preferred[g].add(s)
    for g in groups:
        if not preferred[g]:
            sims = seeds @ centroid(matrix, [i for i in free_rows if industry[i] == g])
            preferred[g].add(int(np.argmax(sims)))

    # one capacity-constrained assignment of free demands to session seats
    sims = np.asarray(matrix[free_rows] @ seeds.T)
    gain = sims.copy()
    for r, i in enumerate(free_rows):
        gain[r, list(preferred[industry[i]])] += _INDUSTRY_BONUS
    pin_of_row = {row: seed_keys.index(key) for key, rows in pins.items() for row in rows}
    for r, i in enumerate(free_rows):
        if i in pin_of_row:
            keep = gain[r, pin_of_row[i]]
            gain[r, :] = -_FORBIDDEN
            gain[r, pin_of_row[i]] = keep
    slot_session = np.repeat(np.arange(n_seeds), hi)
    mandatory = np.tile(np.arange(hi) < lo, n_seeds)
    cost = -(gain[:, slot_session] + _MANDATORY_BONUS * mandatory[None, :])
    rows_idx, cols_idx = linear_sum_assignment(cost)
    members_of: list[list[int]] = [[] for _ in range(n_seeds)]
    for r, c in zip(rows_idx, cols_idx, strict=True):
        members_of[slot_session[c]].append(free_rows[r])
    if keep_enterprises_together:
        _gather_enterprises(demands, members_of, sims, free_rows, set(pin_of_row), lo, hi,
                            industry, seed_industry)
    for members in members_of:
        if not lo <= len(members) <= hi:  # pragma: no cover - guarded by the feasibility checks
            raise PlanningError("分场失败：无法满足每场需求数限制，请放宽上下限", "internal")
    for key, rows in pins.items():
        if not set(rows) <= set(members_of[seed_keys.index(key)]):  # pragma: no cover
            raise PlanningError(f"分场失败：无法保持分场 {key} 的锁定需求", "internal")

    used = set(locked_keys) | set(pins)
    counter = 0

    def next_key() -> str:
        nonlocal counter
        while True:
            counter += 1
            key = f"S{counter:02d}"
            if key not in used:
                used.add(key)
                return key

    sessions = list(locked_sessions)
    for s in range(n_seeds):
        members = sorted(members_of[s])
        ind_counts = Counter(industry[i] for i in members)
        inds = tuple(g for g, _ in sorted(ind_counts.items(), key=lambda x: (-x[1], str(x[0]))))
        sessions.append(
            Session(
                key=seed_keys[s] or next_key(),
                demand_ids=tuple(demands[i].id for i in members),
                theme_words=_themes(demands, members, matrix, terms, n_theme_words),
                industry=seed_industry[s] if labelled else None,
                industries=inds if labelled else (),
            )
        )
    return SessionPlan(tuple(sessions), tuple(inferred))
