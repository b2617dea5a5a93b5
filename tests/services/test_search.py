"""The matching index in the app: built from stored tokens, rebuilt when the data version moves."""

import pytest

from app.errors import DomainError
from app.services import search
from tests import factories as f


@pytest.fixture
def experts(app, session):
    a = f.expert(session, "张锂", ["动力锂电池热失控预警与电池管理系统", "锂离子电池正极材料"],
                 fields="锂电池 储能", field="新能源与节能")
    b = f.expert(session, "王膜", ["反渗透膜污染控制与水处理工艺", "工业废水膜分离"],
                 fields="膜分离 水处理", field="资源与环境", inst="另一大学")
    c = f.expert(session, "李空", [], fields="")
    session.commit()
    return a, b, c


def test_rank_text_puts_the_right_expert_first_with_explanation(app, session, experts):
    a, b, c = experts
    with app.test_request_context():
        hits, snap = search.rank_text(session, "锂电池热失控预警 电池管理系统", top=3)
    assert hits[0].expert_id == a.id
    assert any("电池" in term for term, _ in hits[0].terms)
    assert hits[0].best_item_title.startswith("动力锂电池")
    assert c.id not in [h.expert_id for h in hits]  # no text: never above matching text
    assert snap.n_experts == 3


def test_filters_and_empty_query(app, session, experts):
    a, b, _c = experts
    with app.test_request_context():
        hits, _ = search.rank_text(session, "电池 水处理", institution_id=b.institution_id)
        assert {h.expert_id for h in hits} == {b.id}
        with pytest.raises(DomainError) as err:
            search.rank_text(session, "。，！ ……")
    assert "关键词" in err.value.message


def test_index_notices_new_data_version(app, session, experts):
    with app.test_request_context():
        app.config["INDEX_CHECK_SECONDS"] = 0
        _, snap1 = search.rank_text(session, "锂电池")
        new = f.expert(session, "赵氢", ["质子交换膜燃料电池电堆"], fields="燃料电池 氢能")
        session.commit()
        hits, snap2 = search.rank_text(session, "燃料电池电堆")
    assert snap2.version != snap1.version
    assert hits[0].expert_id == new.id


def test_similar_demands_flags_a_duplicate(app, session):
    d1 = f.demand(session, "高镍三元锂电池热失控防护", "电池包热失控蔓延", "热失控预警时间≥5分钟")
    f.demand(session, "污水处理厂除磷工艺优化", "出水总磷超标", "总磷≤0.3mg/L")
    session.commit()
    with app.test_request_context():
        tokens = search.query_tokens("三元锂电池包热失控蔓延防护")
        found = search.similar_demands(session, tokens)
    assert found[0][0] == d1.id


def test_a_new_domain_term_resegments_only_the_rows_that_contain_it(app, session):
    from app.services.indexing import apply_domain_term, current_version
    from matching import text as mtext

    hit = f.expert(session, "孙钠电", ["钠电正极包覆改性研究"], fields="钠离子电池")
    other = f.expert(session, "周光伏", ["光伏组件衰减检测"], fields="光伏")
    dem = f.demand(session, "钠电正极材料循环寿命提升", "容量衰减快", "循环≥3000次")
    hit.vector, hit.vector_model = b"\x00" * 8, "m"
    session.commit()
    before_other = other.tokens
    experts_v, demands_v = current_version(session, "experts"), current_version(session, "demands")
    assert "w:钠电正极" not in mtext.split_tokens(hit.tokens)

    assert apply_domain_term(session, "钠电正极") == (1, 1)
    session.commit()
    assert "w:钠电正极" in mtext.split_tokens(hit.tokens)
    assert "w:钠电正极" in mtext.split_tokens(hit.items[0].tokens)
    assert "w:钠电正极" in mtext.split_tokens(dem.tokens)
    assert hit.vector == b"\x00" * 8  # same text, so the sentence vector stays valid
    assert other.tokens == before_other
    assert current_version(session, "experts") == experts_v + 1
    assert current_version(session, "demands") == demands_v + 1


def test_rank_of_experts_agrees_with_the_full_ranking(app, session):
    for n in range(12):
        f.expert(session, f"专家{n}", [f"锂电池{'热失控' if n % 2 else '正极材料'}研究{n}",
                                       "电池管理系统" if n % 3 else "污水处理"],
                 fields="锂电池" if n % 4 else "水处理")
    d = f.demand(session, "锂电池热失控预警", "电池包热失控", "预警时间≥5分钟")
    session.commit()
    full, snap = search.rank_text(session, d.text, top=snap_size(app, session), demand=d)
    want = {h.expert_id: (n, h) for n, h in enumerate(full, 1)}
    chosen = [full[0].expert_id, full[5].expert_id, full[-1].expert_id]
    got = search.rank_of_experts(session, d, chosen)
    assert got.version == list(snap.version)
    for eid in chosen:
        rank, hit = got.ranks[eid]
        assert rank == want[eid][0]
        assert hit.terms == want[eid][1].terms and hit.score == pytest.approx(want[eid][1].score)


def snap_size(app, session):
    return search.expert_snapshot(session).n_experts


def test_saving_a_demand_never_rebuilds_the_expert_index(app, session, experts):
    from app.services.indexing import DEMANDS, EXPERTS, bump_version

    app.config["INDEX_CHECK_SECONDS"] = 0
    _, before = search.rank_text(session, "锂电池")
    f.demand(session, "锂电池热失控防护", "热失控", "预警≥5分钟")
    bump_version(session, DEMANDS)
    session.commit()
    assert search.similar_demands(session, search.query_tokens("锂电池热失控"))  # rebuilt
    _, after = search.rank_text(session, "锂电池")
    assert after is before  # the same expert snapshot object: not rebuilt
    bump_version(session, EXPERTS)
    session.commit()
    _, moved = search.rank_text(session, "锂电池")
    assert moved is not before and moved.version != before.version


def test_the_snapshot_maps_ids_to_rows_once(app, session, experts):
    snap = search.expert_snapshot(session)
    rows = snap.ranker.id_index_  # a sorted-array lookup, no dict per process
    assert [rows.get(int(e)) for e in snap.expert_ids] == list(range(snap.expert_ids.size))
    assert rows.get(10**9) is None


def test_a_query_is_read_up_to_max_query_text_characters(app, session, experts):
    from app.services.fields import MAX_QUERY_TEXT
    from matching import text as mtext

    _a, b, _c = experts
    beyond = "锂" * MAX_QUERY_TEXT + " 反渗透膜污染控制 水处理"
    assert not any("膜" in t or "水" in t for t in search.query_tokens(beyond))
    # a stored demand longer than the cap: its stored tokens cover the same first
    # MAX_QUERY_TEXT characters as the ranking of a free text reads, nothing beyond
    d = f.demand(session, "锂电池", "锂" * MAX_QUERY_TEXT, "反渗透膜污染控制 水处理")
    session.commit()
    stored = mtext.split_tokens(d.tokens)
    assert stored == search.query_tokens(d.text)
    assert not any("膜" in t or "水" in t for t in stored)
    with app.test_request_context():
        hits, _ = search.rank_text(session, d.text, demand=d,
                                   tokens=mtext.split_tokens(d.tokens))
        short, _ = search.rank_text(session, "反渗透膜污染控制 水处理")
    assert b.id not in {h.expert_id for h in hits}
    assert short[0].expert_id == b.id  # the same words within the cap do find the expert
