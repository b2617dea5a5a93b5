"""Tests for the demand effectiveness check and its command-line script."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from matching.quality import (
    MAX_KEYWORD_CHARS,
    MAX_KEYWORDS,
    MAX_LENGTH,
    Hint,
    QualityReport,
    check_deadline,
    check_demand,
    check_keywords,
    find_investment,
    find_targets,
    split_keywords,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "enterprise-demands" / "demands.jsonl"
LABELS = Path(__file__).resolve().parent / "data" / "demand_labels_effective.tsv"
SCRIPT = ROOT / "scripts" / "check_demands.py"

SPECIFIC = (
    "高韧性立方氮化硼单晶的研制",
    "需求内容：现有立方氮化硼产品韧性不足，需优化触媒自制工艺和高温高压合成工艺。\n"
    "预期目标：100/120粒度的抗冲击韧性≥67%，堆积密度≥1.80克/立方厘米，六方相到立方相的"
    "转变在73%以上。\n项目拟投入资金300万元。",
)
#: The issue's three publishable demands the old check called vague (prose, no sections).
PROSE = [
    ("喷涂废水处理工艺",
     "我司喷涂车间的喷涂废水目前每个月就要整槽更换一次，处理成本高。想购买高端的化学添加剂或"
     "高端工艺，使其喷涂废水在3个月更换一次。"),
    ("大型窑炉供风系统",
     "窑炉内径越大，供风越不容易均匀，炉内温度不均导致产品烧成质量不稳定。需求再寻找一种更适合于"
     "大型窑炉上用的供风系统。"),
    ("养殖场水泡粪固液分离",
     "养殖场水泡粪的固液分离，目标是降低分离后液体的含固率，现有的几种分离设备效果均不太理想。"),
]
#: One good sentence (problem and target): alone it is specific, 9,500 characters of it are not.
REPEATED_SENTENCE = ("目前锂电池隔膜涂覆不均匀，良品率偏低，希望把涂覆厚度偏差控制在2%以内，"
                     "良品率提高到99%以上。")


def test_specific_demand_passes() -> None:
    report = check_demand(*SPECIFIC, keywords=["立方氮化硼", "高温高压"], publishable=True)
    assert isinstance(report, QualityReport)
    assert report.verdict == "specific"
    assert report.hints == () and report.blocking == ()
    assert report.score == 100
    assert {"67%", "1.80克/立方厘米", "73%"} <= set(report.targets)
    assert "300万元" not in report.targets


@pytest.mark.parametrize(("title", "text"), PROSE)
def test_problem_and_goal_in_prose_are_read(title: str, text: str) -> None:
    report = check_demand(title, text)
    assert report.verdict == "specific", report.codes
    assert not {"no_problem", "no_goals"} & set(report.codes)


def test_indicator_and_investment_are_advice_not_required() -> None:
    report = check_demand(*PROSE[2])
    assert report.verdict == "specific"
    advice = {h.code: h for h in report.hints}
    assert not advice["no_measurable_target"].blocking
    assert not advice["no_investment"].blocking
    assert "不是必填" in advice["no_investment"].message


@pytest.mark.parametrize(
    ("title", "text", "codes"),
    [
        ("技术需求", "提高产品质量，解决技术难题。", {"too_short"}),
        (
            "产品升级",
            "我公司希望通过技术合作提高产品质量、提高生产效率、降低生产成本，解决技术难题，"
            "实现转型升级，提高市场竞争力，具有重要意义，经济效益和社会效益显著，需要专家技术支持。",
            {"generic"},
        ),
        ("工业窑炉用耐火材料", "需要合作人才专家、技术人才、管理人才等", {"too_short"}),
        (
            "电热电器智能化信息化技术",
            "采用物联网技术，实现电热电器的终端智能化控制。通过先进组网技术、软件编程技术、"
            "无线电通讯技术联合实现电热电器的智能化、信息化控制。",
            {"no_problem"},
        ),
    ],
)
def test_vague_demands_are_flagged(title: str, text: str, codes: set[str]) -> None:
    report = check_demand(title, text)
    assert report.verdict == "vague"
    assert codes <= set(report.codes)
    assert all(isinstance(h, Hint) and h.message for h in report.hints)
    assert report.score <= 59


def test_a_short_text_with_problem_and_goal_is_not_too_short() -> None:
    report = check_demand("膜生物反应器膜污染控制", "膜污染导致通量下降", goals="通量衰减≤10%")
    assert report.verdict == "specific" and "too_short" not in report.codes
    assert "too_short" in check_demand("膜生物反应器膜污染控制", "膜污染导致通量下降").codes


def test_a_problem_without_an_outcome_is_vague() -> None:
    report = check_demand("车门锁铆接开裂",
                          "目前我公司车门锁热铆工艺过程中铆点部位开裂，金属线材表面处理出现黑斑，原因不明。")
    assert report.verdict == "vague"
    assert "no_goals" in report.codes and "no_problem" not in report.codes


def test_repeated_sentence_of_9500_characters_is_vague() -> None:
    text = REPEATED_SENTENCE * (9500 // len(REPEATED_SENTENCE) + 1)
    text = text[:9500]
    assert len(text) == 9500
    assert check_demand("锂电池隔膜涂覆", REPEATED_SENTENCE).verdict == "specific"
    report = check_demand("锂电池隔膜涂覆", text)
    assert report.verdict == "vague"
    assert {"repeated", "too_long"} <= set(report.codes)
    assert report.score <= 30  # the old check gave this text 90 and "specific"
    assert REPEATED_SENTENCE[:12] in report.hints[0].message
    once = check_demand("锂电池隔膜涂覆", REPEATED_SENTENCE * 3)
    assert "repeated" in once.codes  # three copies are already caught, not only 9,500 characters


def test_over_long_text_is_told_to_condense() -> None:
    varied = "".join(f"第{i}号工位的焊缝气孔率为{i % 7 + 2}%，超出工艺要求。" for i in range(260))
    report = check_demand("焊缝气孔控制", varied + "目标是把气孔率降到1%以下。")
    assert "too_long" in report.codes and report.verdict == "vague"
    hint = next(h for h in report.hints if h.code == "too_long")
    assert f"上限{MAX_LENGTH}字" in hint.message and "精简" in hint.message


def test_filler_and_buzzword_lists_are_caught() -> None:
    filler = check_demand("需求详见附件",
                          "详见附件。详见附件。同上。啊啊啊啊啊啊啊啊。暂无。待补充。测试测试。")
    assert filler.verdict == "vague" and "filler" in filler.codes
    buzz = check_demand("智能制造升级",
                        "人工智能、大数据、云计算、物联网、区块链、5G、智能制造、工业互联网、"
                        "数字孪生、边缘计算、机器视觉、新材料、新能源")
    assert buzz.verdict == "vague" and "buzzwords" in buzz.codes
    # a list inside a sentence about a real problem is not a buzzword list
    real = check_demand("垃圾焚烧炉耐火材料",
                        "目前焚烧炉使用高铬、镁铬、铝铬、高铝、碳化硅等耐火材料，受熔渣侵蚀很难"
                        "达到预期寿命，希望研发抗熔渣侵蚀的耐火浇注料，使内衬寿命同步。")
    assert "buzzwords" not in real.codes and real.verdict == "specific"


def test_company_profile_instead_of_a_problem() -> None:
    report = check_demand(
        "企业技术合作",
        "我公司成立于2005年，注册资金5000万元，占地200亩，是一家国家高新技术企业，拥有发明专利30项，"
        "建有省级企业技术中心和院士工作站，年产值2亿元，产品远销海外，多次荣获省科技进步奖。",
    )
    assert report.verdict == "vague"
    assert "company_profile" in report.codes
    assert "企业简介" in next(h.message for h in report.hints if h.code == "company_profile")


def test_goals_copied_from_the_problem_do_not_count() -> None:
    text = "现有涂层在盐雾环境下三个月即起泡脱落，防腐效果不理想。"
    report = check_demand("海洋环境防腐涂层", text, goals=text)
    assert "copied_goals" in report.codes
    own = check_demand("海洋环境防腐涂层", text, goals="盐雾试验1000小时无起泡、无脱落。")
    assert own.verdict == "specific" and "copied_goals" not in own.codes


def test_keyword_rule_is_one_to_five_of_at_most_twenty_characters() -> None:
    assert (MAX_KEYWORDS, MAX_KEYWORD_CHARS) == (5, 20)
    assert split_keywords("热失控、电池管理系统, 气体传感器；热失控") == [
        "热失控", "电池管理系统", "气体传感器"]
    assert check_keywords(["固液分离"]) == []
    assert check_keywords(["甲", "乙乙", "丙丙", "丁丁", "戊戊"]) == []
    assert [h.code for h in check_keywords([])] == ["no_keywords"]
    six = check_keywords(["甲甲", "乙乙", "丙丙", "丁丁", "戊戊", "己己"])
    assert [h.code for h in six] == ["too_many_keywords"] and "现有 6 个" in six[0].message
    assert check_keywords(["长" * 20]) == []
    long = check_keywords(["长" * 21])
    assert [h.code for h in long] == ["keyword_too_long"] and "21字" in long[0].message
    generic = check_keywords(["技术", "创新", "固液分离"])
    assert [h.code for h in generic] == ["generic_keywords"]
    assert "技术、创新" in generic[0].message and generic[0].blocking
    assert "1至5个" in check_keywords(None)[0].message


def test_generic_keywords_make_a_specific_text_vague() -> None:
    assert check_demand(*PROSE[2], keywords=["固液分离", "水泡粪"]).verdict == "specific"
    report = check_demand(*PROSE[2], keywords=["技术", "创新"])
    assert report.verdict == "vague" and "generic_keywords" in report.codes


def test_deadline_rule() -> None:
    today = date(2026, 12, 1)
    assert check_deadline(None, today) is None
    assert check_deadline(today, today) is None
    late = check_deadline(date(2026, 11, 30), today)
    assert late is not None and late.field == "deadline" and late.blocking
    assert "2026-11-30" in late.message and "2026-12-01" in late.message
    report = check_demand(*SPECIFIC, deadline=date(2026, 11, 30), today=today)
    # blocks the submission, but a date says nothing about the content
    assert report.verdict == "specific" and [h.code for h in report.blocking] == ["deadline_passed"]


def test_hint_fields_are_known_and_blocking_hints_come_first() -> None:
    report = check_demand("", "", keywords=[], publishable=False, deadline=date(2020, 1, 1),
                          today=date(2026, 1, 1))
    fields = {h.field for h in report.hints}
    assert fields <= {"title", "problem", "goals", "investment", "keywords", "deadline",
                      "publishable"}
    assert {"vague_title", "no_keywords", "not_publishable", "deadline_passed"} <= set(report.codes)
    flags = [h.blocking for h in report.hints]
    assert flags == sorted(flags, reverse=True)


def test_not_publishable_blocks_and_none_means_not_asked() -> None:
    assert check_demand(*SPECIFIC, publishable=False).verdict == "vague"
    assert "not_publishable" not in check_demand(*SPECIFIC).codes
    assert "no_keywords" not in check_demand(*SPECIFIC).codes


def test_explicit_goals_field_is_used() -> None:
    title = "汽车减振橡胶部件疲劳分析"
    text = "橡胶减振产品疲劳耐久性能难以快速分析，开发周期长。"
    assert "no_goals" in check_demand(title, text).codes
    report = check_demand(title, text, goals="建立疲劳寿命预测方法，预测误差不大于15%",
                          investment=80)
    assert report.verdict == "specific"
    assert "no_investment" not in report.codes and "15%" in report.targets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("希望把烧损率降低到1.0%以下。", ["1.0%"]),
        ("实现投矿量由目前的290t/h提升至330t/h。", ["330t/h"]),
        ("通过数值模拟优化模具设计，将模具寿命提高两倍以上。", ["两倍"]),
        ("要求成品达到GJB2837标准要求。", ["GJB2837"]),
        ("我国矿山90%以上都是井下开采。", []),
        ("炉内温度通常在1400-1600℃，局部达1700℃。", []),
        ("投产后可增加销售收入55%。", []),
    ],
)
def test_find_targets(text: str, expected: list[str]) -> None:
    assert find_targets(text) == expected


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("项目拟投入资金300万元。", 300.0),
        ("计划投资1.4亿，配套建设产业链。", 14000.0),
        ("已投入资金100 多万元，样机处于验证阶段。", 100.0),
        ("公司2018年度实现销售收入2002万元。", None),
    ],
)
def test_find_investment(text: str, amount: float | None) -> None:
    assert find_investment(text) == amount


def _labelled() -> list[tuple[str, str, str]]:
    if not DATA.exists():
        pytest.skip("shared demand data not available")
    rows = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["id"]] = row
    out = []
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        ident, label, reason = line.split("\t")
        assert label in ("specific", "vague") and reason.strip(), line
        out.append((rows[ident]["title"], rows[ident]["text"], label))
    return out


def test_hand_labels_are_many_and_balanced() -> None:
    labels = [line.split("\t")[1] for line in LABELS.read_text("utf-8").splitlines()]
    assert len(labels) >= 150
    assert min(labels.count("specific"), labels.count("vague")) >= 0.4 * len(labels)


def test_agreement_with_hand_labels() -> None:
    labelled = _labelled()
    verdicts = [(label, check_demand(t, x).verdict) for t, x, label in labelled]
    recall = {}
    for cls in ("specific", "vague"):
        mine = [v for lab, v in verdicts if lab == cls]
        recall[cls] = sum(v == cls for v in mine) / len(mine)
    # Measured 0.886 / 0.698 (balanced 0.792) with the committed thresholds; 5-fold
    # cross-validated 0.786 (docs/quality.md). The floors leave room for small rule changes.
    assert (recall["specific"] + recall["vague"]) / 2 >= 0.76
    assert recall["specific"] >= 0.8 and recall["vague"] >= 0.65


def _run(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path), *extra], capture_output=True, text=True,
        check=False,
    )


def _write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "demands.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return path


def test_cli_prints_one_line_per_demand(tmp_path: Path) -> None:
    title, text = SPECIFIC
    path = _write(tmp_path, [{"id": "D1", "title": title, "text": text},
                             {"id": "D2", "title": "车门锁", "text": "有问题"}])
    result = _run(path)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [len(cols) for cols in lines] == [3, 3]
    assert [(cols[0], cols[1]) for cols in lines] == [("D1", "specific"), ("D2", "vague")]
    assert lines[0][2] == ""
    assert "；" in lines[1][2] and "过短" in lines[1][2]


def test_cli_reports_agreement_with_labels(tmp_path: Path) -> None:
    title, text = SPECIFIC
    path = _write(tmp_path, [{"id": "D1", "title": title, "text": text},
                             {"id": "D2", "title": "车门锁", "text": "有问题"},
                             {"id": "D3", "title": PROSE[2][0], "text": PROSE[2][1]}])
    labels = tmp_path / "labels.tsv"
    labels.write_text("D1\tspecific\t有指标\nD2\tvague\t一句话\nD3\tvague\t故意标错\n", "utf-8")
    result = _run(path, "--labels", str(labels))
    assert result.returncode == 0, result.stderr
    assert "平衡准确率 0.750" in result.stdout  # specific 1 of 1, vague 1 of 2
    assert "specific\t1\t0" in result.stdout and "vague\t1\t1" in result.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"id": "D1", "title": "t", "text": "x"}\nnot json\n', "第 2 行"),
        ('{"id": "D1", "title": "t"}\n', "第 1 行"),
    ],
)
def test_cli_rejects_bad_lines(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    result = _run(path)
    assert result.returncode != 0
    assert needle in result.stderr and "错误" in result.stderr
    assert result.stdout == ""
