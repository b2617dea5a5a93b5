"""Similar demands."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from matching.ranker import EmptyQueryError
from matching.records import DemandDoc
from matching.similar import DemandIndex
from matching.text import analyze

TEXTS = {
    1: "锂离子电池正极材料的循环寿命提升",
    2: "污水处理厂的脱氮除磷工艺优化",
    3: "工业机器人视觉引导的精密装配",
    4: "锂离子电池正极材料循环寿命",
}


@pytest.fixture(scope="module")
def index() -> DemandIndex:
    return DemandIndex().fit([DemandDoc(i, tuple(analyze(t))) for i, t in TEXTS.items()])


def test_near_duplicate_comes_first(index: DemandIndex) -> None:
    pairs = index.similar(analyze(TEXTS[1]), top=2, exclude_ids=[1])
    assert pairs[0][0] == 4
    assert 0.5 < pairs[0][1] <= 1.0
    assert all(i != 1 for i, _ in pairs)


def test_identical_text_scores_one(index: DemandIndex) -> None:
    pairs = index.similar(analyze(TEXTS[2]), top=1)
    assert pairs[0][0] == 2 and pairs[0][1] == pytest.approx(1.0)


def test_unrelated_query_and_empty_query(index: DemandIndex) -> None:
    assert index.similar(analyze("天文望远镜"), top=3) == []
    with pytest.raises(EmptyQueryError):
        index.similar([])


def test_clone() -> None:
    assert clone(DemandIndex(idf_power=1.0)).get_params()["idf_power"] == 1.0
