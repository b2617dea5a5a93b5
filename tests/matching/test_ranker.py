"""Expert ranker on a small handmade set, and a smoke test of scripts/evaluate.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from matching.ranker import EmptyQueryError, ExpertRanker, TokenIndex
from matching.ranker.explain import fold_terms as _fold_terms
from matching.ranker.explain import pair_runs as _pair_runs
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
    # The whole stretch of the query the expert shares, rather than its words apart.
    assert best.terms[0][0] == "锂离子电池正极材料"
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


def reference_scores(docs: list[ExpertDoc], query: list[str], max_df: float = 1.0) -> np.ndarray:
    """Score every expert straight from the stored tokens, without any index (default params)."""
    counts = [Counter(d.tokens) for d in docs]
    known = set().union(*counts, *(item.tokens for d in docs for item in d.items))
    n, n_text = len(docs), sum(1 for c in counts if c)
    df = Counter(t for c in counts for t in c)
    cf = Counter()
    for c in counts:
        cf.update(c)
    total = sum(cf.values())
    q = sorted({t for t in query if t in known})
    kept = [t for t in q if df[t] <= max(max_df * n_text, 50)]
    q = kept if any(df[t] for t in kept) else q
    tw = {t: {"w": 1.0, "c": 1.5, "b": 1.0}[t[0]] for t in q}
    idf = {t: math.log((1 + n) / (1 + df[t])) + 1 for t in set(df) | set(q)}
    a, b = np.zeros(n), np.zeros(n)
    for i, c in enumerate(counts):
        norm = math.sqrt(sum(((1 + math.log(f)) * idf[t]) ** 2 for t, f in c.items())) or 1.0
        q_norm = math.sqrt(sum((tw[t] * idf[t]) ** 2 for t in q))
        a[i] = sum(tw[t] * idf[t] * (1 + math.log(c[t])) * idf[t] for t in q if c[t])
        a[i] /= norm * q_norm
        length = sum(c.values())
        b[i] = sum(tw[t] * math.log(1 + c[t] / (200 * max(cf[t], 0.5) / total)) for t in q)
        b[i] += sum(tw.values()) * math.log(200 / (length + 200))
    has_text = np.array([bool(c) for c in counts])
    score = 0.5 * (a - a[has_text].mean()) / a[has_text].std()
    score += 0.5 * (b - b[has_text].mean()) / b[has_text].std()
    score[~has_text] = score[has_text].min() - 1.0
    return score


@pytest.mark.parametrize("query", ["锂离子电池正极材料的改性", "污水处理与机器人", "电池"])
@pytest.mark.parametrize("max_df", [1.0, 0.4])
def test_scores_match_a_direct_computation(
    docs: list[ExpertDoc], query: str, max_df: float
) -> None:
    # The ranker gets z statistics in closed form from the touched experts only; this
    # recomputes every expert's cosine and query likelihood the slow way.
    tokens = analyze(query)
    got = ExpertRanker(max_df=max_df).fit(docs).scores(tokens)
    np.testing.assert_allclose(got, reference_scores(docs, tokens, max_df), rtol=1e-5, atol=1e-5)


def test_max_df_drops_tokens_found_in_most_profiles() -> None:
    others = [ExpertDoc(id=f"x{i}", tokens=(f"w:x{i}", "c:的", "c:和")) for i in range(60)]
    docs = [ExpertDoc(id="li", tokens=("w:锂", "c:锂", "c:的")), *others]
    query = ["w:锂", "c:锂", "c:的"]
    assert len(ExpertRanker(max_df=1.0).fit(docs).rank(query, top=100)) == 61
    pruned = ExpertRanker(max_df=0.5).fit(docs)
    ranked = pruned.rank(query, top=100)
    assert [r.expert_id for r in ranked] == ["li"]
    assert [t for t, _ in ranked[0].terms] == ["锂"]
    # Only common tokens known: they are scored rather than leaving the query empty.
    assert len(pruned.rank(["w:钙", "c:的"], top=100)) == 61
    # Among a few experts nothing is skipped: 的 is in 2 of 3 profiles but in fewer than 50.
    small = ExpertRanker(max_df=0.5).fit(docs[:3])
    assert len(small.rank(query)) == 3
    with pytest.raises(ValueError, match="max_df"):
        ExpertRanker(max_df=0.0).fit(docs)


@pytest.mark.parametrize("query", ["的 了", "我公司 需求 研发"])
def test_stopword_only_query_raises(ranker: ExpertRanker, query: str) -> None:
    with pytest.raises(EmptyQueryError):
        ranker.rank(analyze(query))
    with pytest.raises(EmptyQueryError):
        ranker.scores(analyze(query))
    # Tokens stored before analyze() dropped such texts: characters without any word.
    with pytest.raises(EmptyQueryError):
        ranker.rank(["c:的", "c:了", "b:研发"])


def test_single_character_query(ranker: ExpertRanker) -> None:
    ranked = ranker.rank(analyze("锂"))
    assert [r.expert_id for r in ranked] == [1]
    assert ranked[0].terms[0][0] == "锂"


def test_scores_and_rank_agree_with_filters_and_semantic(ranker: ExpertRanker) -> None:
    q = analyze("离子电池负极材料")
    scores = ranker.scores(q)
    ranked = ranker.rank(q, top=10)
    assert [r.score for r in ranked] == pytest.approx([scores[r.expert_id - 1] for r in ranked])
    assert [r.expert_id for r in ranker.rank(q, exclude_ids=[4], institution_id=10)] == [1]
    sem = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    fused = ranker.rank(q, top=10, semantic_scores=sem, semantic_weight=0.5)
    assert {r.expert_id for r in fused} == {1, 2, 3, 4}  # semantic scores reach unmatched ones


def test_token_index_grows_and_skips_unknown_tokens() -> None:
    vocabulary: dict[str, int] = {"b": 0}
    index = TokenIndex.build([["a", "b", "a"], [], ["c"]], vocabulary, grow=True)
    assert vocabulary == {"b": 0, "a": 1, "c": 2}
    assert index.counts.toarray().tolist() == [[1, 2, 0], [0, 0, 0], [0, 0, 1]]
    assert index.lengths.tolist() == [3, 0, 1]
    other = TokenIndex.build([["x", "c", "c"], ["y"]], vocabulary, grow=False)
    assert other.counts.toarray().tolist() == [[0, 0, 2], [0, 0, 0]]
    assert other.lengths.tolist() == [2, 0] and len(vocabulary) == 3


# ---------------------------------------------------------------- readable explanation terms
BATTERY = {
    "pack": "电池包热失控早期气体检测方法",
    "cathode": "锂离子电池正极材料",
    "water": "城市污水处理脱氮除磷",
    "robot": "工业机器人视觉伺服控制",
}


@pytest.fixture(scope="module")
def battery_ranker() -> ExpertRanker:
    docs = [ExpertDoc(id=k, tokens=tuple(expert_tokens("", v, "", []))) for k, v in BATTERY.items()]
    return ExpertRanker().fit(docs)


def test_explanation_joins_pairs_adjacent_in_the_query(battery_ranker: ExpertRanker) -> None:
    query = analyze("高镍三元锂电池包热失控预警系统开发")
    ranked = {r.expert_id: r for r in battery_ranker.rank(query, top=4)}
    terms = [t for t, _ in ranked["pack"].terms]
    assert any("热失控" in t for t in terms)
    assert "电池包热失控" in terms  # the longest stretch of the query the expert shares
    assert "包热" not in terms and "池包" not in terms and "失控" not in terms
    assert sum(s for _, s in ranked["pack"].terms) == pytest.approx(1.0, abs=1e-6)
    # Display only: the scores are those of scores(), whatever the explanation.
    scores = battery_ranker.scores(query)
    order = list(BATTERY)
    for r in ranked.values():
        assert r.score == pytest.approx(scores[order.index(r.expert_id)])
    # A one-pass iterator of tokens is explained the same way as the list.
    again = battery_ranker.rank(iter(query), top=4)
    assert [r.terms for r in again] == [r.terms for r in battery_ranker.rank(query, top=4)]


def test_pair_runs_follow_the_query_text() -> None:
    runs = _pair_runs(analyze("电池包热失控，电池包热失控；锂电"))
    assert runs == (("电池", "池包", "包热", "热失", "失控"),)  # repeated, single pairs dropped
    assert _pair_runs(["w:ab", "c:a", "c:b", "b:ab", "c:b", "c:c", "b:bc"]) == ()


def test_fold_terms_spans_and_words() -> None:
    runs = (("电池", "池包", "包热", "热失", "失控"),)
    tokens = ["w:热失控", "b:电池", "b:池包", "b:包热", "b:热失", "b:失控", "c:电", "c:包"]
    values = [4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    assert _fold_terms(tokens, values, 8, runs) == (("电池包热失控", 1.0),)
    # Without the query order the pairs stay on their own (the former behaviour).
    old = dict(_fold_terms(tokens, values, 8))
    assert "包热" in old and "热失控" in old
    # A gap in the query (包热 not matched) splits the span; the word keeps what it contains.
    gap = [(t, v) for t, v in zip(tokens, values, strict=True) if t != "b:包热"]
    terms = dict(_fold_terms([t for t, _ in gap], [v for _, v in gap], 8, runs))
    assert set(terms) == {"电池包", "热失控"}
    assert terms["热失控"] == pytest.approx(6.0 / 9.0)  # word, 热失, 失控
    assert sum(terms.values()) == pytest.approx(1.0)
    # A span inside a longer matched word folds into the word.
    terms = dict(_fold_terms(["w:锂电池包", "b:电池", "b:池包"], [1.0, 1.0, 1.0], 8, runs))
    assert terms == {"锂电池包": pytest.approx(1.0)}
    # Words alone still keep their own chips, even when one contains the other.
    terms = dict(_fold_terms(["w:电池", "w:锂电池"], [1.0, 3.0], 8, runs))
    assert terms == {"电池": pytest.approx(0.25), "锂电池": pytest.approx(0.75)}


def test_fold_terms_keeps_the_cap_and_shares() -> None:
    runs = (("ab", "bc", "cd"), ("wx", "xy", "yz"))
    tokens = ["b:ab", "b:bc", "b:wx", "b:xy", "c:q", "c:r", "c:s"]
    values = [1.0, 1.0, 2.0, 2.0, 0.5, 0.25, 0.25]
    terms = _fold_terms(tokens, values, 2, runs)
    assert terms == (("wxy", pytest.approx(4.0 / 7.0)), ("abc", pytest.approx(2.0 / 7.0)))
    assert sum(s for _, s in _fold_terms(tokens, values, 8, runs)) == pytest.approx(1.0)


def test_common_pair_not_scored_still_joins_a_span() -> None:
    # 研究 is in every profile: above max_df it is not scored, but the expert has it.
    others = [
        ExpertDoc(id=f"x{i}", tokens=tuple(analyze(f"研究课题{chr(0x4E00 + 7 * i)}")))
        for i in range(60)
    ]
    li = ExpertDoc(id="li", tokens=tuple(analyze("正极材料研究方法")))
    ranker = ExpertRanker(max_df=0.5).fit([li, *others])
    query = analyze("正极材料研究方法改进")
    assert "b:研究" in query and ranker.df_[ranker.vocabulary_["b:研究"]] == 61
    best = ranker.rank(query, top=1)[0]
    assert best.expert_id == "li"
    terms = [t for t, _ in best.terms]
    assert "正极材料研究方法" in terms and "正极材料研" not in terms
    assert sum(s for _, s in best.terms) == pytest.approx(1.0, abs=1e-6)


def test_rank_of_gives_the_places_of_the_full_ranking(ranker: ExpertRanker) -> None:
    q = analyze("离子电池负极材料")
    full = ranker.rank(q, top=10)
    places = ranker.rank_of(q, [r.expert_id for r in full][::-1] + ["unknown"])
    assert {eid: n for eid, (n, _line) in places.items()} == {
        r.expert_id: n for n, r in enumerate(full, 1)
    }
    assert all(line.score == pytest.approx(r.score) for r in full
               for n, line in [places[r.expert_id]])


def test_fused_cascade_agrees_with_the_exact_scores() -> None:
    from matching.vectors import ExpertVectors

    rng = np.random.default_rng(0)
    n = 300
    docs = [ExpertDoc(id=i, tokens=tuple(analyze(["锂电池涂布", "污水处理", "机器人视觉"][i % 3])),
                      items=tuple(ItemDoc(str(k), ()) for k in range(i % 4))) for i in range(n)]
    model = ExpertRanker().fit(docs)
    profiles = rng.normal(size=(n, 16)).astype(np.float32)
    owner = np.repeat(np.arange(n), [i % 4 for i in range(n)])
    items = rng.normal(size=(owner.size, 16)).astype(np.float32)
    qv = rng.normal(size=16).astype(np.float32)
    exact = ExpertVectors(profiles, items, owner)
    cascade = ExpertVectors(profiles, items, owner, exact_below=10, sample_size=n, stage_dims=4)
    q = analyze("锂电池极片涂布")
    kw = {"query_vector": qv, "semantic_weight": 0.75}
    want = model.rank(q, top=10, vectors=exact, **kw)
    got = model.rank(q, top=10, vectors=cascade, **kw)
    # a sample of everyone gives the exact statistics; candidates get their exact scores
    # (at scale profiles are float16 and items int8 with a scale per row)
    assert [r.expert_id for r in got] == [r.expert_id for r in want]
    assert [r.score for r in got] == pytest.approx([r.score for r in want], rel=5e-3)
    assert [r.semantic_item for r in want] == [
        None if i % 4 < 2 else r.semantic_item for r, i in ((r, r.expert_id) for r in want)]
    sem = exact.scores(qv)
    assert [r.expert_id for r in model.rank(q, top=10, semantic_scores=sem, **kw)] == [
        r.expert_id for r in want]


# ---------------------------------------------------------------- chips a person reads as reasons
COATING = "锂电池极片涂布面密度在线检测与闭环控制系统开发"


def test_chips_are_words_phrases_and_words_inside_words() -> None:
    from matching.ranker.reasons import readable

    q = analyze(COATING + "，精度60μm，2014年")
    terms = [("锂电池", 0.2), ("面密度", 0.1), ("密度", 0.1), ("片涂", 0.05), ("在线检测", 0.1),
             ("60", 0.05), ("2014年", 0.05), ("锂", 0.1), ("μm", 0.05), ("控制", 0.1),
             ("环控", 0.05), ("检测与", 0.05)]
    chips, minor, share = readable(terms, q)
    # 检测与 runs past the word 检测: its share goes to the chip 在线检测 that holds 检测
    assert [t for t, _ in chips] == ["锂电池", "在线检测", "面密度", "密度", "控制"]
    assert dict(chips)["在线检测"] == pytest.approx(0.15)
    # the grey line: single Chinese characters only, never numbers, units or fragments
    assert minor == ("锂",)
    assert share == pytest.approx(0.35)  # every term that is not a chip still counts here
    chips, minor, _ = readable([("car", 0.3), ("car-t", 0.3), ("包热", 0.2), ("电池包热失控", 0.2)],
                               analyze("CAR-T细胞治疗与电池包热失控"))
    assert [t for t, _ in chips] == ["car-t", "电池包热失控"] and minor == ()


def test_grey_line_holds_only_single_characters_that_mean_something() -> None:
    from matching.ranker.reasons import readable

    # what the coating demand's grey line showed: 机、面、6、分、检测与
    q = analyze(COATING + "，涂布机面密度偏差6分钟内报警，精度t级")
    terms = [("机", 0.1), ("面", 0.1), ("6", 0.1), ("分", 0.1), ("检测与", 0.1), ("t", 0.1),
             ("与", 0.1), ("级", 0.05), ("性", 0.05), ("一", 0.05), ("涂布机", 0.15)]
    chips, minor, share = readable(terms, q)
    assert [t for t, _ in chips] == ["涂布机", "检测"]  # 检测 of the span 检测与
    assert minor == ("机", "面")
    assert share == pytest.approx(0.75)
    # nothing meaningful left: no grey line at all
    assert readable([("6", 0.5), ("片涂", 0.5)], q)[1] == ()


def test_chips_are_never_numbers_units_or_phrases_ending_on_numbers() -> None:
    from matching.ranker.reasons import readable

    q = analyze("热失控提前10分钟预警，3D打印与5G通信，2014年起，功率60kW，误报率低于1%")
    terms = [("提前10", 0.1), ("10分钟", 0.1), ("分钟", 0.1), ("2014年", 0.1), ("60kw", 0.1),
             ("1%", 0.1), ("3d打印", 0.1), ("5g", 0.1), ("预警", 0.1), ("误报率", 0.1)]
    chips, minor, _ = readable(terms, q)
    words = [t for t, _ in chips]
    assert "提前10" not in words and "10分钟" not in words and "分钟" not in words
    assert "2014年" not in words and "60kw" not in words and "1%" not in words
    assert {"预警", "误报率", "3d打印"} <= set(words)  # 3D打印: a number inside a whole word
    assert all(len(t.replace(" ", "")) >= 2 for t in words)
    assert not any(t.isdigit() for t in minor) and minor == ()


def test_industry_funded_project_is_no_reason_to_match() -> None:
    # 横向 of 横向项目 (an industry-funded project) must not match 横向 of a demand
    docs = [ExpertDoc(id="chip", tokens=tuple(expert_tokens("", "低功耗芯片设计", "", [
                ("横向项目：高速接口", "横向项目：高速接口芯片")]))),
            ExpertDoc(id="coat", tokens=tuple(expert_tokens("", "涂布面密度在线测量", "", [])))]
    ranked = ExpertRanker().fit(docs).rank(analyze("横向纠偏与涂布面密度检测"), top=2)
    assert [r.expert_id for r in ranked] == ["coat"]
    assert all("横向" not in t for r in ranked for t, _ in r.chips)
    line = ranked[0]
    assert line.chips and all(len(t) >= 2 for t, _ in line.chips)
    assert 0 <= line.percent <= 100
