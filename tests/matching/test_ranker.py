"""Expert ranker on a small handmade set, and a smoke test of scripts/evaluate.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from matching.ranker import EmptyQueryError, ExpertRanker
from matching.records import ExpertDoc, ItemDoc
from matching.text import analyze, expert_tokens

ROOT = Path(__file__).resolve().parents[2]

PROFILES = {
    1: ("锂离子电池", ["锂离子电池正极材料", "固态电解质界面稳定性"], 10, (1,), False),
    2: ("污水处理", ["城市污水处理脱氮除磷", "膜分离技术在废水处理中的应用"], 20, (2,), True),
    3: ("工业机器人", ["工业机器人视觉伺服控制", "机械臂轨迹规划"], 10, (3,), False),
    4: ("钠离子电池", ["钠离子电池负极材料", "电池管理系统"], 30, (1,), True),
}


def make_doc(eid: int) -> ExpertDoc:
    fields, titles, inst, field_ids, acad = PROFILES[eid]
    items = [(t, t) for t in titles]
    return ExpertDoc(
        id=eid,
        tokens=tuple(expert_tokens("", fields, "", items)),
        items=tuple(ItemDoc(t, tuple(analyze(t))) for t in titles),
        institution_id=inst,
        field_ids=field_ids,
        is_academician=acad,
    )


@pytest.fixture(scope="module")
def docs() -> list[ExpertDoc]:
    return [make_doc(i) for i in PROFILES] + [ExpertDoc(id=99)]  # 99 has no text


@pytest.fixture(scope="module")
def ranker(docs: list[ExpertDoc]) -> ExpertRanker:
    return ExpertRanker().fit(docs)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("我公司需要提高锂离子电池正极材料的能量密度", 1),
        ("印染废水的脱氮处理工艺", 2),
        ("机器人视觉引导的装配", 3),
        ("钠离子电池负极", 4),
    ],
)
def test_right_expert_first(ranker: ExpertRanker, query: str, expected: int) -> None:
    assert ranker.rank(analyze(query), top=3)[0].expert_id == expected


def test_filters(ranker: ExpertRanker) -> None:
    q = analyze("锂离子电池材料")
    assert [r.expert_id for r in ranker.rank(q, field_id=1)] == [1, 4]
    assert {r.expert_id for r in ranker.rank(q, institution_id=30)} == {4}
    assert all(r.expert_id in (2, 4) for r in ranker.rank(q, academician_only=True))
    assert 1 not in [r.expert_id for r in ranker.rank(q, exclude_ids=[1])]
    assert ranker.rank(q, field_id=12345) == []


def test_expert_without_text_never_outranks_a_match(ranker: ExpertRanker) -> None:
    q = analyze("锂离子电池")
    ranked = [r.expert_id for r in ranker.rank(q, top=10)]
    assert 99 not in ranked
    scores = ranker.scores(q)
    assert scores[-1] < scores[:-1].min()


def test_empty_query_raises_domain_error(ranker: ExpertRanker) -> None:
    with pytest.raises(EmptyQueryError, match="没有可用于匹配的关键词"):
        ranker.rank(analyze("我公司技术需求："))
    assert ranker.rank(analyze("天文望远镜")) == []  # tokens, but none known: no match


def test_explanation(ranker: ExpertRanker) -> None:
    best = ranker.rank(analyze("锂离子电池正极材料的改性"), top=1)[0]
    shares = [s for _, s in best.terms]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)
    assert shares == sorted(shares, reverse=True)
    assert best.terms[0][0] in ("锂离子电池", "正极材料", "正极")
    assert best.best_item == 0 and best.best_item_title == "锂离子电池正极材料"


def test_semantic_fusion_hook(ranker: ExpertRanker) -> None:
    q = analyze("电池材料")
    sem = np.array([0.0, 0.0, 0.0, 1.0, np.nan])
    assert ranker.rank(q, top=1, semantic_scores=sem, semantic_weight=0.9)[0].expert_id == 4
    # NaN semantic scores keep the lexical score; weight 0 ignores semantic scores entirely.
    assert [r.expert_id for r in ranker.rank(q, semantic_scores=sem)] == [
        r.expert_id for r in ranker.rank(q)
    ]
    with pytest.raises(ValueError):
        ranker.rank(q, semantic_scores=np.zeros(2), semantic_weight=0.5)


@pytest.mark.parametrize("aggregation", ["max", "mean", "top3"])
def test_item_level_scoring(docs: list[ExpertDoc], aggregation: str) -> None:
    model = ExpertRanker(item_weight=0.5, item_aggregation=aggregation).fit(docs)
    assert model.rank(analyze("固态电解质界面"), top=1)[0].expert_id == 1


def test_estimator_contract(docs: list[ExpertDoc]) -> None:
    model = ExpertRanker(mu=100.0, cosine_weight=0.3)
    copy = clone(model)
    assert copy.get_params()["mu"] == 100.0 and copy.get_params()["cosine_weight"] == 0.3
    with pytest.raises(NotFittedError):
        copy.rank(analyze("电池"))
    assert copy.fit(docs) is copy
    with pytest.raises(ValueError):
        ExpertRanker(item_aggregation="median").fit(docs)


def test_evaluate_script_smoke(tmp_path: Path) -> None:
    experts = [
        {
            "id": "E1",
            "text": "锂离子电池正极材料",
            "items": [
                {"kind": "project", "title": "锂离子电池正极材料", "text": "锂离子电池正极材料"}
            ],
        },
        {"id": "E2", "text": "城市污水处理脱氮除磷"},
        {"id": "E3", "text": "工业机器人视觉伺服控制"},
    ]
    demands = [
        {"id": "D1", "text": "锂电池正极材料", "source": "X"},
        {"id": "D2", "text": "污水脱氮", "source": "Y"},
    ]
    (tmp_path / "e.jsonl").write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for e in experts), "utf-8"
    )
    (tmp_path / "d.jsonl").write_text(
        "\n".join(json.dumps(d, ensure_ascii=False) for d in demands), "utf-8"
    )
    (tmp_path / "q.tsv").write_text("demand_id\texpert_id\trelevance\nD1\tE1\t1\nD2\tE3\t1\n")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "evaluate.py"),
            "--experts",
            str(tmp_path / "e.jsonl"),
            "--demands",
            str(tmp_path / "d.jsonl"),
            "--qrels",
            str(tmp_path / "q.tsv"),
            "--run",
            str(tmp_path / "run.tsv"),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["ndcg@10"] == pytest.approx(0.5)  # D1 found first, D2's expert is not listed
    assert last["mrr"] == pytest.approx(0.5) and last["recall@10"] == pytest.approx(0.5)
    assert (tmp_path / "run.tsv").read_text().splitlines()[1].startswith("D1\tE1\t1\t")
