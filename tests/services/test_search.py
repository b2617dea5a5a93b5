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
