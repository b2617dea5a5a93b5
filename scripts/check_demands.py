"""Check the effectiveness of demands in a JSON Lines file.

Usage:
    python scripts/check_demands.py FILE.jsonl
    python scripts/check_demands.py FILE.jsonl --labels LABELS.tsv [--cv 5]

Each line is {"id", "title", "text"}; prints one tab-separated line per demand: id, verdict
(specific|vague) and the hints joined by "；". With ``--labels`` (lines ``id<TAB>label<TAB>reason``)
it prints the agreement with the hand labels instead: balanced accuracy, recall per class and the
confusion table; ``--cv K`` adds a K-fold cross-validated figure, the thresholds being chosen on
the other folds from the grid in :data:`GRID`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching.quality import DEFAULT_PARAMS, CheckParams, check_demand  # noqa: E402

LABELS = ("specific", "vague")
#: The thresholds tried by ``--cv`` (every combination), stricter values first: on a tie in
#: balanced accuracy the first, stricter candidate is kept.
GRID = {
    "min_length": (30, 20, 10),
    "min_problem": (3, 2, 1),
    "min_outcome": (3, 2, 1),
    "min_concrete": (8, 6, 5, 4, 3),
    "max_generic": (0.4, 0.5, 0.6),
}


def read_demands(path: str) -> list[dict[str, str]]:
    """Return the rows of a JSON Lines file; raise ValueError naming the bad line."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"第 {number} 行不是合法的 JSON（{exc.msg}）") from None
            if not isinstance(row, dict) or not all(
                isinstance(row.get(key), str) for key in ("id", "title", "text")
            ):
                raise ValueError(f"第 {number} 行缺少字符串字段 id、title 或 text")
            rows.append(row)
    return rows


def read_labels(path: str) -> list[tuple[str, str]]:
    """Return (id, label) pairs of a hand-label file; raise ValueError naming the bad line."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in LABELS:
            raise ValueError(f"标注文件第 {number} 行应为“编号<TAB>specific|vague<TAB>理由”")
        out.append((parts[0], parts[1]))
    return out


def agreement(pairs: Iterable[tuple[str, str]]) -> dict[str, float | dict[tuple[str, str], int]]:
    """Return balanced accuracy, recall per class and the confusion counts of (label, verdict)."""
    table = {(a, b): 0 for a in LABELS for b in LABELS}
    for label, verdict in pairs:
        table[(label, verdict)] += 1
    recall = {}
    for label in LABELS:
        total = sum(table[(label, b)] for b in LABELS)
        recall[label] = table[(label, label)] / total if total else 0.0
    return {"balanced_accuracy": sum(recall.values()) / len(LABELS),
            "recall_specific": recall["specific"], "recall_vague": recall["vague"],
            "table": table}


def _verdicts(rows: Sequence[dict[str, str]], params: CheckParams) -> list[str]:
    return [check_demand(r["title"], r["text"], params=params).verdict for r in rows]


def cross_validate(rows: Sequence[dict[str, str]], labels: Sequence[str], folds: int = 5,
                   seed: int = 13) -> tuple[list[str], list[CheckParams]]:
    """Return out-of-fold verdicts and the thresholds chosen on each fold's training part."""
    grid = [replace(DEFAULT_PARAMS, **dict(zip(GRID, values, strict=True)))
            for values in itertools.product(*GRID.values())]
    verdicts = [_verdicts(rows, p) for p in grid]  # every candidate on every demand, once
    order = {label: [i for i, lab in enumerate(labels) if lab == label] for label in LABELS}
    rng = random.Random(seed)
    fold_of = [0] * len(labels)
    for members in order.values():  # stratified: both classes spread over the folds
        rng.shuffle(members)
        for n, i in enumerate(members):
            fold_of[i] = n % folds
    out = [""] * len(labels)
    chosen = []
    for k in range(folds):
        train = [i for i in range(len(labels)) if fold_of[i] != k]

        def score(c: int, train: list[int] = train) -> float:
            return float(agreement((labels[i], verdicts[c][i]) for i in train)["balanced_accuracy"])

        best = max(range(len(grid)), key=score)
        chosen.append(grid[best])
        for i in range(len(labels)):
            if fold_of[i] == k:
                out[i] = verdicts[best][i]
    return out, chosen


def _print_agreement(title: str, result: dict) -> None:
    table = result["table"]
    print(title)
    print(f"  平衡准确率 {result['balanced_accuracy']:.3f}；"
          f"召回率 具体 {result['recall_specific']:.3f}，不够具体 {result['recall_vague']:.3f}")
    print("  标注 \\ 检查\tspecific\tvague")
    for label in LABELS:
        print(f"  {label}\t{table[(label, 'specific')]}\t{table[(label, 'vague')]}")


def main(argv: list[str] | None = None) -> int:
    """Check every demand in the file and print one line each; return the exit status."""
    parser = argparse.ArgumentParser(description="检查技术需求是否具体、有效")
    parser.add_argument("file", help="JSON Lines 文件，每行 {\"id\", \"title\", \"text\"}")
    parser.add_argument("--labels", help="人工标注文件（编号、specific|vague、理由，制表符分隔）")
    parser.add_argument("--cv", type=int, default=0, help="交叉验证折数（需 --labels）")
    args = parser.parse_args(argv)
    try:
        rows = read_demands(args.file)
        labels = read_labels(args.labels) if args.labels else None
    except OSError as exc:
        print(f"错误：无法打开文件 {exc.filename}：{exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    if labels is None:
        out = []
        for row in rows:
            report = check_demand(row["title"], row["text"])
            hints = "；".join(h.message for h in report.hints)
            out.append(f"{row['id']}\t{report.verdict}\t{hints}")
        sys.stdout.write("".join(f"{line}\n" for line in out))
        return 0
    by_id = {row["id"]: row for row in rows}
    missing = [i for i, _ in labels if i not in by_id]
    if missing:
        print(f"错误：标注中的编号在数据文件中不存在：{'、'.join(missing[:5])}", file=sys.stderr)
        return 1
    picked = [by_id[i] for i, _ in labels]
    truth = [lab for _, lab in labels]
    _print_agreement(f"全部 {len(truth)} 条，当前阈值：",
                     agreement(zip(truth, _verdicts(picked, DEFAULT_PARAMS), strict=True)))
    if args.cv >= 2:
        verdicts, chosen = cross_validate(picked, truth, args.cv)
        _print_agreement(f"{args.cv} 折交叉验证（阈值在其余各折上选取）：",
                         agreement(zip(truth, verdicts, strict=True)))
        for k, params in enumerate(chosen, 1):
            print(f"  第 {k} 折选用：{params}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
