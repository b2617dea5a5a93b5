"""Helpers shared by the tests split out of test_meetings.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from matching.planning.plan_records import (
    MeetingDemand,
    SessionLimits,
    SessionPlan,
)

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "nsfc-dev" / "demands.jsonl"

TOPICS = {
    "新能源": ["锂电池正极材料", "储能电池管理系统", "光伏组件效率", "氢燃料电池堆", "电池回收"],
    "生物医药": ["抗体药物筛选", "基因编辑细胞治疗", "医疗器械检测", "中药提取工艺", "疫苗佐剂"],
    "智能制造": ["工业机器人视觉", "数控机床精度", "激光焊接工艺", "工业互联网平台", "预测性维护"],
}
WORDS = [w for ws in TOPICS.values() for w in ws]
INDUSTRIES = list(TOPICS)


def make_demands(n: int, seed: int = 0, unknown: float = 0.0) -> list[MeetingDemand]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ind = INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]
        words = rng.choice(TOPICS[ind], size=2, replace=False)
        text = f"{words[0]}与{words[1]}技术攻关需求{i}"
        out.append(
            MeetingDemand(
                id=f"D{i}",
                text=text,
                industry=None if rng.random() < unknown else ind,
                planned_investment=float(rng.integers(1, 20) * 50),
                enterprise_id=f"E{i % max(1, n // 2)}",
                stage=["研发", "中试", "产业化"][i % 3],
            )
        )
    return out


def check_plan(plan: SessionPlan, demands: list[MeetingDemand], limits: SessionLimits) -> None:
    placed = [d for s in plan.sessions for d in s.demand_ids]
    assert Counter(placed) == Counter(d.id for d in demands)
    for s in plan.sessions:
        if not s.locked:
            assert limits.min_demands <= len(s.demand_ids) <= limits.max_demands
    if limits.n_sessions is not None:
        assert len(plan.sessions) == limits.n_sessions
    assert len({s.key for s in plan.sessions}) == len(plan.sessions)
