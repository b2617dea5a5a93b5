"""Tokenizer: user dictionary, stopwords, boilerplate, determinism, storage round trip."""

from __future__ import annotations

import pickle

import pytest

from matching import text


def words(tokens: list[str]) -> list[str]:
    return [t[2:] for t in tokens if t.startswith("w:")]


def test_user_dictionary_term_is_kept_whole() -> None:
    assert "钙钛矿太阳能电池" in text.load_user_terms()
    assert "钙钛矿太阳能电池" in words(text.analyze("高效钙钛矿太阳能电池的界面调控"))


def test_extra_terms_are_added_idempotently() -> None:
    text.initialize(extra_terms=["锂硫软包"])
    text.initialize(extra_terms=["锂硫软包"])
    assert "锂硫软包" in words(text.analyze("锂硫软包电池的循环寿命"))


@pytest.mark.parametrize("stop", ["我公司", "需求", "研发", "提高", "解决", "问题", "项目", "企业"])
def test_boilerplate_words_are_removed(stop: str) -> None:
    tokens = text.analyze(f"我公司有一个{stop}：提高锂离子电池的能量密度，解决问题")
    assert stop not in words(tokens)
    assert "锂离子电池" in words(tokens)


def test_boilerplate_phrases_leave_no_characters() -> None:
    tokens = text.analyze("我公司技术需求：光纤通信")
    assert "c:司" not in tokens and "b:需求" not in tokens
    assert "b:光纤" in tokens


def test_token_types_and_non_word_characters() -> None:
    tokens = text.analyze("石墨烯，涂层")
    assert {"w:石墨烯", "c:石", "b:石墨", "b:墨烯", "w:涂层"} <= set(tokens)
    assert "b:烯涂" not in tokens  # no pair across punctuation
    assert all(" " not in t for t in tokens)


def test_analyze_is_deterministic_and_handles_empty() -> None:
    sample = "基于深度学习的工业机器人故障诊断（关键词：故障诊断；深度学习）"
    assert text.analyze(sample) == text.analyze(sample)
    assert text.analyze("") == []
    assert text.analyze("，。！") == []


def test_join_split_round_trip_and_pickle() -> None:
    tokens = text.analyze("高超声速飞行器气动弹性分析")
    assert text.split_tokens(text.join_tokens(tokens)) == tokens
    assert text.split_tokens(None) == [] and text.split_tokens("") == []
    assert pickle.loads(pickle.dumps(text.analyze)) is text.analyze


def test_expert_tokens_weights_fields_above_summary() -> None:
    tokens = text.expert_tokens("张三 教授", "碳纤维", "长期从事材料研究", [("复合材料", "")])
    assert tokens.count("w:碳纤维") == text.FIELD_REPEATS["fields"]
    assert tokens.count("w:碳纤维") > tokens.count("w:材料")
    assert "w:复合材料" in tokens
    assert "c:张" not in tokens  # the name line contributes words only


@pytest.mark.parametrize("sample", ["的 了", "我公司 需求 研发", "我公司技术需求：", "的。了！中"])
def test_text_of_stopwords_only_has_no_tokens(sample: str) -> None:
    # Without the rule, c:的 / b:研发 would be kept and match nearly every expert.
    assert text.analyze(sample) == []


def test_single_meaningful_character_is_kept() -> None:
    assert {"w:锂", "c:锂"} <= set(text.analyze("锂"))
    assert "c:的" in text.analyze("锂的")  # stop characters stay next to a real word


def test_hyphenated_ascii_words_stay_whole_and_fixed_expressions_go() -> None:
    words = [t for t in text.analyze("CAR-T细胞治疗与Li-ion电池") if t.startswith("w:")]
    assert "w:car-t" in words and "w:li-ion" in words and "w:car" not in words
    tokens = text.analyze("主持横向项目3项、纵向课题2项，研究高速接口")
    assert "w:横向" not in tokens and "b:横向" not in tokens and "b:纵向" not in tokens
    assert "sub" not in text.sub_words("面密度") and "密度" in text.sub_words("面密度")


def test_a_long_unbroken_run_reaches_jieba_in_bounded_pieces(monkeypatch) -> None:
    text.initialize()
    seen: list[int] = []
    real = text._TOKENIZER.lcut

    def recording(sentence, *args, **kwargs):
        seen.append(len(sentence))
        return real(sentence, *args, **kwargs)

    monkeypatch.setattr(text._TOKENIZER, "lcut", recording)
    prose = "锂电池热失控预警，多传感器融合与早期气体检测。"
    assert text.analyze(prose) == text.analyze(prose)  # no run over MAX_RUN: one piece
    assert seen == [len(prose), len(prose)]
    seen.clear()
    tokens = text.analyze("锂" * (5 * text.MAX_RUN + 7) + "，" + prose)
    assert max(seen) <= text.MAX_RUN  # jieba's HMM is quadratic in the length of a run
    # characters and pairs still come from the whole run
    assert tokens.count("c:锂") == 5 * text.MAX_RUN + 7 + prose.count("锂")
    assert tokens.count("b:锂锂") == 5 * text.MAX_RUN + 6
