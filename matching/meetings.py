"""Matchmaking-meeting planner: sessions, expert invitations, other invitees, 1:1 timetables.

Four steps, each a pure function over the frozen records of :mod:`matching.meeting_records`:

1. :func:`plan_sessions` groups the picked demands into sessions: by industry first, a large
   industry split by topic (k-means on TF-IDF vectors), a small industry merged into the
   nearest session (centroid cosine), a demand without industry placed by its text. Sizes are
   enforced exactly by one capacity-constrained assignment of demands to session seeds.
2. :func:`assign_experts` fills the expert seats of every session in one global
   optimisation (a linear program over a bipartite b-matching, whose constraint matrix is
   totally unimodular, so its optimal vertex is integral; column generation from top-N pools
   keeps it small): each expert sits in at most ``max_sessions_per_expert`` sessions,
   conflicts are respected, the total affinity is maximal.
3. :func:`invite_others` lists related enterprises, fitting investors and the institutions.
4. :func:`schedule_meetings` places the kept demand-expert pairs of a session into time slots
   and tables.

Any input the planner cannot honour raises :class:`PlanningError`, never a partial result.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, linprog, milp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from matching.meeting_records import (
    ExpertAssignment,
    ExpertSeat,
    MeetingDemand,
    MeetingEnterprise,
    MeetingInvestor,
    OneToOne,
    PlanLocks,
    PlanningError,
    Session,
    SessionInvitees,
    SessionLimits,
    SessionPlan,
    SessionTimetable,
)

__all__ = [
    "PlanningError",
    "assign_experts",
    "bigram_analyze",
    "invite_others",
    "plan_sessions",
    "propose_pairs",
    "schedule_meetings",
    "session_affinity",
]

Analyzer = Callable[[str], Sequence[str]]

_CJK_OR_WORD = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PREFIX = re.compile(r"^[a-z]:")
#: Words of the form of a text, not of its topic ("（关键词：…）" marks keyword lists).
_THEME_STOPWORDS = frozenset({"关键词", "关键字", "研究", "基于", "关于", "探讨", "若干", "需求"})
_FUNCTION_CHARS = frozenset("的与和及于对在为是了其之以并或等及中下")

#: Bonus of a session of the demand's own (or merged-into) industry over a session of
#: another industry, on the scale of a cosine similarity.
_INDUSTRY_BONUS = 1.0
#: Bonus of a seat that must be filled for a session to reach ``min_demands``.
_MANDATORY_BONUS = 10.0
_FORBIDDEN = 1e6


def bigram_analyze(text: str) -> list[str]:
    """Split ``text`` into character bigrams of its Chinese runs and whole Latin/digit words.

    The default analyzer of the planner; the application passes ``matching.text.analyze``.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        Bigrams of each run of Chinese characters (a one-character run is kept whole) and
        each run of Latin letters or digits, lower-cased.
    """
    tokens: list[str] = []
    for run in _CJK_OR_WORD.findall(text or ""):
        if _CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run.lower())
    return tokens


def _passthrough(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def _vectorize(
    demands: Sequence[MeetingDemand], analyzer: Analyzer
) -> tuple[sp.csr_matrix, np.ndarray]:
    docs = [list(d.tokens) if d.tokens else list(analyzer(d.text)) for d in demands]
    if not any(docs):
        raise PlanningError(
            "所选需求都没有可用的文字内容，无法按主题分场：请补充需求描述", "empty_text"
        )
    vectorizer = TfidfVectorizer(analyzer=_passthrough, sublinear_tf=True)
    matrix = vectorizer.fit_transform(docs).tocsr()
    return matrix, vectorizer.get_feature_names_out()


def _centroid(matrix: sp.csr_matrix, rows: Sequence[int]) -> np.ndarray:
    vec = np.asarray(matrix[list(rows)].mean(axis=0)).ravel()
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


def _display(term: str) -> str:
    return _PREFIX.sub("", term)


def _readability(term: str) -> float:
    """Weight a term by how readable it is as a theme word: jieba words first, no single chars."""
    text = _display(term)
    if len(text) < 2 or text in _THEME_STOPWORDS:
        return 0.0
    if not term.startswith("w:") and any(ch in _FUNCTION_CHARS for ch in text):
        # a bigram across a function character ("与治", "的信") reads as noise
        return 0.0
    if term.startswith("w:") or not _PREFIX.match(term):
        return 1.5 if term.startswith("w:") else 1.0
    return 0.8 if term.startswith("b:") else 0.0


def _theme_words(
    matrix: sp.csr_matrix, rows: Sequence[int], terms: np.ndarray, n_words: int
) -> tuple[str, ...]:
    if not rows:
        return ()
    weights = np.asarray(matrix[list(rows)].sum(axis=0)).ravel()
    order = np.argsort(-weights, kind="stable")
    scored: list[tuple[float, int, str]] = []
    for rank, j in enumerate(order[: max(50, 10 * n_words)]):
        if weights[j] <= 0:
            break
        readability = _readability(str(terms[j]))
        if readability > 0:
            scored.append((-weights[j] * readability, rank, _display(str(terms[j]))))
    scored.sort()
    chosen: list[str] = []
    for _, _, word in scored:
        # a bigram that is part of a chosen word (or the reverse) adds nothing readable
        if any(word in c or c in word for c in chosen):
            continue
        chosen.append(word)
        if len(chosen) == n_words:
            break
    return tuple(chosen)


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


def plan_sessions(
    demands: Sequence[MeetingDemand],
    limits: SessionLimits | None = None,
    *,
    locks: PlanLocks | None = None,
    analyzer: Analyzer = bigram_analyze,
    n_theme_words: int = 5,
    random_state: int | None = 0,
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

    matrix, terms = _vectorize(demands, analyzer)
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
        centroids = np.vstack([_centroid(matrix, rows) for rows in labelled.values()])
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
        seed_vecs.append(_centroid(matrix, pins[key]))
        seed_industry.append(pin_industry[key])
        seed_keys.append(key)
    for g in groups:
        n_new = share[g] - floor_d[g]
        if n_new <= 0:
            continue
        rows = unpinned_by_ind[g]
        if n_new == 1:
            seed_vecs.append(_centroid(matrix, rows))
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
                    _centroid(matrix, members)
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
            sims = seeds @ _centroid(matrix, [i for i in free_rows if industry[i] == g])
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
                theme_words=_theme_words(matrix, members, terms, n_theme_words),
                industry=seed_industry[s] if labelled else None,
                industries=inds if labelled else (),
            )
        )
    return SessionPlan(tuple(sessions), tuple(inferred))


def _as_matrix(affinity: np.ndarray | sp.spmatrix | sp.sparray) -> np.ndarray | sp.csc_matrix:
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
    mat = _as_matrix(affinity)
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
    cap: int,
    locked: set[tuple[int, int]],
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray] | None:
    """Solve the seat LP on the candidate edges; return the edges and the duals.

    The constraint matrix (sessions x edges, experts x edges) is that of a bipartite
    b-matching, hence totally unimodular: a basic optimal solution is integral. The duals
    (one per session, one per expert; zero for experts outside the candidates) price the
    edges left out, so the caller can prove optimality over all experts.
    """
    e_arr, s_arr, experts, lower, a_sessions, a_experts = _seat_problem(scores, candidates, locked)
    weights = scores[e_arr, s_arr]
    result = linprog(
        -weights,
        A_ub=a_experts,
        b_ub=np.full(len(experts), float(cap)),
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
                LinearConstraint(a_experts, 0, cap),
            ],
            integrality=np.ones(len(e_arr)),
            bounds=Bounds(lower, np.ones(len(e_arr))),
        )
        x = exact.x
    expert_dual = np.zeros(scores.shape[0])
    expert_dual[experts] = result.ineqlin.marginals
    chosen = np.flatnonzero(x > 0.5)
    edges = [(int(e_arr[i]), int(s_arr[i])) for i in chosen]
    return edges, np.asarray(result.eqlin.marginals), expert_dual


def assign_experts(
    plan: SessionPlan,
    affinity: np.ndarray | sp.spmatrix | sp.sparray,
    expert_ids: Sequence[Hashable],
    demand_ids: Sequence[Hashable],
    *,
    seats: int | Mapping[str, int] = 3,
    max_sessions_per_expert: int = 1,
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
    if max_sessions_per_expert < 1:
        raise PlanningError("每位专家场次上限至少应为 1", "limits")
    if len(set(expert_ids)) != len(expert_ids):
        raise PlanningError("专家列表中有重复的专家", "duplicate")
    mat = _as_matrix(affinity)
    if mat.shape[0] != len(expert_ids):
        raise PlanningError("专家匹配度矩阵的行数与专家数不一致", "affinity")
    sessions = plan.sessions
    if not sessions:
        raise PlanningError("还没有分场：请先分场再邀请专家", "no_sessions")
    keys = [s.key for s in sessions]
    s_index = {k: i for i, k in enumerate(keys)}
    e_index = {e: i for i, e in enumerate(expert_ids)}
    seat_arr = np.array(
        [seats.get(k, 0) if isinstance(seats, Mapping) else seats for k in keys], dtype=float
    )
    if (seat_arr < 0).any():
        raise PlanningError("每场专家席位数不能为负数", "limits")
    n_experts, k = len(expert_ids), max_sessions_per_expert

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
    per_expert = Counter(e for e, _ in locked)
    if per_expert and max(per_expert.values()) > k:
        e, n = per_expert.most_common(1)[0]
        raise PlanningError(
            f"专家 {expert_ids[e]} 被锁定在 {n} 个分场，超过每位专家场次上限 {k}：请把上限调到 {n}",
            "limits",
        )
    per_session = Counter(s for _, s in locked)
    for s, n in per_session.items():
        if n > seat_arr[s]:
            raise PlanningError(
                f"分场 {keys[s]} 锁定了 {n} 位专家，但只有 {int(seat_arr[s])} 个席位：请把该场席位"
                f"调到 {n}",
                "limits",
            )
    need = int(seat_arr.sum())
    available = n_experts * k
    if need > available:
        k_needed = math.ceil(need / n_experts)
        per = available // len(sessions)
        raise PlanningError(
            f"需要 {need} 个专家席位，但可用 {available} 个：请把每位专家场次上限调到 {k_needed}，"
            f"或把每场专家席位减到 {per}，或减少场次",
            "seats",
        )
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
        solved = _solve_seats(scores, candidates, seat_arr, k, locked)
        if solved is not None:
            break
        if pool >= n_experts:
            raise PlanningError(
                f"在回避名单和每位专家至多 {k} 场的限制下，无法排满所有专家席位：请把每位专家"
                f"场次上限调到 {k + 1}，或减少每场席位或缩短回避名单",
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
        solved = _solve_seats(scores, candidates, seat_arr, k, locked)
        if solved is None:  # pragma: no cover - adding columns keeps it feasible
            raise PlanningError("专家席位求解失败：请稍后重试", "internal")
    seats_out = [
        ExpertSeat(keys[s], expert_ids[e], float(scores[e, s]), (e, s) in locked)
        for e, s in solution
    ]
    seats_out.sort(key=lambda x: (s_index[x.session_key], -x.affinity, e_index[x.expert_id]))
    return ExpertAssignment(tuple(seats_out), float(sum(x.affinity for x in seats_out)))


def _tokens_of(text: str, tokens: Sequence[str], analyzer: Analyzer) -> set[str]:
    raw = list(tokens) if tokens else list(analyzer(text))
    return {_display(t) for t in raw}


def invite_others(
    plan: SessionPlan,
    demands: Sequence[MeetingDemand],
    *,
    assignment: ExpertAssignment | None = None,
    expert_institutions: Mapping[Hashable, Hashable | None] | None = None,
    enterprises: Sequence[MeetingEnterprise] = (),
    investors: Sequence[MeetingInvestor] = (),
    analyzer: Analyzer = bigram_analyze,
    max_enterprises: int = 20,
    max_investors: int = 10,
) -> tuple[SessionInvitees, ...]:
    """List each session's related enterprises, fitting investors and experts' institutions.

    Parameters
    ----------
    plan : SessionPlan
        The sessions.
    demands : sequence of MeetingDemand
        At least the demands of the plan (for owners, industries, stages, investment).
    assignment : ExpertAssignment, optional
        Invited experts; their institutions are invited.
    expert_institutions : mapping of expert id to institution id, optional
    enterprises : sequence of MeetingEnterprise
        Candidate related enterprises. One is related to a session when it is in an industry of
        the session or its text shares theme words with the session; demand owners are left
        out. Ranked by shared theme words, then same industry, then input order.
    investors : sequence of MeetingInvestor
        An investor fits when its industries (if any) include an industry of the session, its
        stages (if any) include a stage of a session demand (or no demand has a stage), and
        its ticket range contains the session's total planned investment (when known). Ranked
        by how many of the three preferences it states and meets, then input order.
    analyzer : callable, default=bigram_analyze
        Tokenizes enterprise texts that have no stored tokens.
    max_enterprises, max_investors : int
        At most this many of each per session.

    Returns
    -------
    tuple of SessionInvitees
        One per session, in plan order.
    """
    by_id = {d.id: d for d in demands}
    expert_institutions = expert_institutions or {}
    ent_tokens = [_tokens_of(e.text or e.name, e.tokens, analyzer) for e in enterprises]
    ent_texts = [(e.name or "") + (e.text or "") for e in enterprises]
    out = []
    for session in plan.sessions:
        missing = [d for d in session.demand_ids if d not in by_id]
        if missing:
            raise PlanningError(f"分场 {session.key} 的需求 {missing[0]} 不在需求列表中", "input")
        sdemands = [by_id[d] for d in session.demand_ids]
        owners = {d.enterprise_id for d in sdemands if d.enterprise_id is not None}
        industries = set(session.industries) | {d.industry for d in sdemands}
        industries.discard(None)
        themes = set(session.theme_words)
        ranked = []
        for pos, ent in enumerate(enterprises):
            if ent.id in owners:
                continue
            shared = sum(1 for w in themes if w in ent_tokens[pos] or w in ent_texts[pos])
            same = ent.industry is not None and ent.industry in industries
            if shared or same:
                ranked.append((-shared, not same, pos, ent.id))
        ranked.sort()
        investment = [d.planned_investment for d in sdemands if d.planned_investment is not None]
        total = float(sum(investment)) if investment else None
        stages = {d.stage for d in sdemands if d.stage}
        fits = []
        for pos, inv in enumerate(investors):
            stated = 0
            if inv.industries:
                if not industries & set(inv.industries):
                    continue
                stated += 1
            if inv.stages and stages:
                if not stages & set(inv.stages):
                    continue
                stated += 1
            if total is not None and (inv.ticket_min is not None or inv.ticket_max is not None):
                if inv.ticket_min is not None and total < inv.ticket_min:
                    continue
                if inv.ticket_max is not None and total > inv.ticket_max:
                    continue
                stated += 1
            fits.append((-stated, pos, inv.id))
        fits.sort()
        institutions: list[Hashable] = []
        if assignment is not None:
            for expert in assignment.experts_of(session.key):
                inst = expert_institutions.get(expert)
                if inst is not None and inst not in institutions:
                    institutions.append(inst)
        out.append(
            SessionInvitees(
                session_key=session.key,
                enterprise_ids=tuple(r[-1] for r in ranked[:max_enterprises]),
                investor_ids=tuple(f[-1] for f in fits[:max_investors]),
                institution_ids=tuple(institutions),
            )
        )
    return tuple(out)


def propose_pairs(
    session: Session,
    assignment: ExpertAssignment,
    affinity: np.ndarray | sp.spmatrix | sp.sparray,
    expert_ids: Sequence[Hashable],
    demand_ids: Sequence[Hashable],
    *,
    per_demand: int = 2,
    min_affinity: float = 0.0,
) -> tuple[tuple[Hashable, Hashable], ...]:
    """Propose 1:1 pairs of a session: each demand with its best invited experts.

    Parameters
    ----------
    session : Session
    assignment : ExpertAssignment
    affinity : ndarray or sparse matrix of shape (n_experts, n_demands)
    expert_ids, demand_ids : sequence
        Row and column ids of ``affinity``.
    per_demand : int, default=2
        Experts per demand.
    min_affinity : float, default=0.0
        Pairs at or below this affinity are not proposed.

    Returns
    -------
    tuple of (demand_id, expert_id)
    """
    experts = assignment.experts_of(session.key)
    if not experts:
        return ()
    e_index = {e: i for i, e in enumerate(expert_ids)}
    d_index = {d: j for j, d in enumerate(demand_ids)}
    mat = _as_matrix(affinity)
    rows = [e_index[e] for e in experts]
    cols = [d_index[d] for d in session.demand_ids]
    sub = mat[rows][:, cols]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    pairs = []
    for j, did in enumerate(session.demand_ids):
        order = np.argsort(-sub[:, j], kind="stable")[:per_demand]
        pairs.extend((did, experts[i]) for i in order if sub[i, j] > min_affinity)
    return tuple(pairs)


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
    if max_per_expert is not None:
        for eid, v in parties_x.items():
            if deg_v[v] > max_per_expert:
                raise PlanningError(
                    f"专家 {eid} 安排了 {deg_v[v]} 场会谈，超过上限 {max_per_expert}：请删去 "
                    f"{deg_v[v] - max_per_expert} 场或把上限调到 {deg_v[v]}",
                    "limits",
                )
    if max_per_enterprise is not None:
        for party, u in parties_e.items():
            if deg_u[u] > max_per_enterprise:
                raise PlanningError(
                    f"企业 {party[1]} 安排了 {deg_u[u]} 场会谈，超过上限 {max_per_enterprise}："
                    f"请删去 {deg_u[u] - max_per_enterprise} 场或把上限调到 {deg_u[u]}",
                    "limits",
                )
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
