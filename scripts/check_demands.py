"""Check the effectiveness of demands in a JSON Lines file.

Usage: python scripts/check_demands.py FILE.jsonl

Each line is {"id", "title", "text"}; prints one tab-separated line per demand: id, verdict
(specific|vague) and the hints joined by "；".
"""

from __future__ import annotations

import argparse
import json
import sys

from matching.quality import check_demand


def main(argv: list[str] | None = None) -> int:
    """Check every demand in the file and print one line each; return the exit status."""
    parser = argparse.ArgumentParser(description="检查技术需求是否具体、有效")
    parser.add_argument("file", help="JSON Lines 文件，每行 {\"id\", \"title\", \"text\"}")
    args = parser.parse_args(argv)
    try:
        handle = open(args.file, encoding="utf-8")
    except OSError as exc:
        print(f"错误：无法打开文件 {args.file}：{exc.strerror}", file=sys.stderr)
        return 2
    out: list[str] = []
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"错误：第 {number} 行不是合法的 JSON（{exc.msg}）", file=sys.stderr)
                return 1
            if not isinstance(row, dict) or not all(
                isinstance(row.get(key), str) for key in ("id", "title", "text")
            ):
                print(f"错误：第 {number} 行缺少字符串字段 id、title 或 text", file=sys.stderr)
                return 1
            report = check_demand(row["title"], row["text"])
            hints = "；".join(h.message for h in report.hints)
            out.append(f"{row['id']}\t{report.verdict}\t{hints}")
    sys.stdout.write("".join(f"{line}\n" for line in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
