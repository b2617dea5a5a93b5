"""Reading cells: value parsers, the credit-code check, problem collection, reference lookups."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import District, Industry, TechField

from ...errors import ImportFailed
from .. import fields, tabular
from .columns import Column

YES = {"是", "y", "yes", "true", "1", "√", "✓", "t"}
NO = {"否", "n", "no", "false", "0", "×", "✗", "f"}
LIST_SEPARATORS = re.compile(r"[；;,，、\n]+")


class CellError(ValueError):
    """A cell value is wrong; the message is Chinese."""


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def _shown(raw: Any) -> str:
    return tabular.clean_text(raw)


def parse_bool(raw: Any) -> bool | None:
    """Read 是/否 (also Y/N, TRUE/FALSE, 1/0); blank is None."""
    if isinstance(raw, bool):
        return raw
    text = _shown(raw).lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise CellError(f"'{_shown(raw)}' 应填“是”或“否”")


def parse_number(raw: Any) -> float | None:
    """Read a finite non-negative number (the service's one number rule); blank is None."""
    if isinstance(raw, bool):
        raise CellError(f"'{_shown(raw)}' 不是数字")
    value = raw if isinstance(raw, int | float) else _shown(raw).replace(",", "").replace("，", "")
    try:
        return fields.check_number(value, "number", "数值")
    except fields.FieldError as exc:
        if "小于" in exc.message:
            raise CellError(f"'{_shown(raw)}' 不能为负数") from None
        if "大于" in exc.message:
            raise CellError(f"'{_shown(raw)}' 超出范围（{exc.message}）") from None
        raise CellError(f"'{_shown(raw)}' 不是数字") from None


def parse_date(raw: Any) -> date | None:
    """Read an Excel date or a text date such as 2025-12-31, 2025/12/31 or 2025年12月31日."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _shown(raw)
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date)
        except ValueError:
            continue
    raise CellError(f"'{text}' 不是有效日期（应为 2025-12-31 这样的格式）")


def parse_year(raw: Any) -> int | None:
    """Read a four-digit year (the service's one year rule)."""
    text = _shown(raw)
    if not text:
        return None
    try:
        return fields.check_year(text if re.fullmatch(r"\d{4}", text) else "x")
    except fields.FieldError as exc:
        raise CellError(f"'{text}' 不是有效年份（{exc.message.rstrip('。')}）") from None


def parse_cell(col: Column, raw: Any) -> Any:
    """Read one cell according to its column; raise CellError with a Chinese message."""
    if col.type == "bool":
        return parse_bool(raw)
    if col.type == "number":
        return parse_number(raw)
    if col.type == "date":
        return parse_date(raw)
    if col.type == "year":
        return parse_year(raw)
    if col.type == "seq":
        return None
    text = _shown(raw)
    problem = fields.bad_characters(text)
    if problem:
        raise CellError(f"内容{problem}")
    if col.type == "list":
        return [p.strip() for p in LIST_SEPARATORS.split(text) if p.strip()]
    if not text:
        return None
    if col.type == "phone":
        text = re.sub(r"\s+", "", text)
        if not fields.PHONE_RE.match(text):
            raise CellError(f"'{_shown(raw)}' 不是有效的电话号码")
    elif col.type == "email" and not fields.EMAIL_RE.match(text):
        raise CellError(f"'{text}' 不是有效的电子邮箱")
    if col.max_len and len(text) > col.max_len:
        raise CellError(f"内容过长：最多 {col.max_len} 个字，实际 {len(text)} 个字")
    return text


# ---------------------------------------------------------------------------------------------
# GB 32100-2015 unified social credit code

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_problem(code: str) -> str | None:
    """Return what is wrong with a unified social credit code, or None when it is valid."""
    if len(code) != 18:
        return f"'{code}' 应为 18 位，实际 {len(code)} 位"
    bad = sorted({c for c in code if c not in CREDIT_CODE_CHARS})
    if bad:
        return f"'{code}' 含有不允许的字符：{''.join(bad)}（不使用 I、O、Z、S、V 和小写字母）"
    pairs = zip(code[:17], _CREDIT_WEIGHTS, strict=True)
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in pairs)
    expected = CREDIT_CODE_CHARS[(31 - total % 31) % 31]
    if code[17] != expected:
        return f"'{code}' 校验位错误（按 GB 32100 最后一位应为 {expected}）"
    return None


# ---------------------------------------------------------------------------------------------
# Validation context


class Problems:
    """Collects every problem of a file before anything is written."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, row: int, column: str, message: str, sheet: str | None = None) -> None:
        """Record one problem at a spreadsheet row and column header."""
        entry = {"row": row, "column": column, "message": message}
        if sheet:
            entry["sheet"] = sheet
            entry["column"] = f"{sheet}表/{column}"
        self.items.append(entry)

    def extend(self, errors: Iterable[dict], sheet: str | None = None) -> None:
        """Record header problems found while reading the table."""
        for e in errors:
            self.add(e["row"], e["column"], e["message"], sheet)

    def raise_if_any(self) -> None:
        """Raise ImportFailed with every problem, ordered by sheet and row."""
        if self.items:
            self.items.sort(key=lambda e: (e.get("sheet", ""), e["row"]))
            raise ImportFailed(
                f"导入失败：文件中有 {len(self.items)} 处问题，未写入任何数据。请修改后重新导入。",
                errors=self.items,
            )


def _parse_rows(
    table: tabular.Table, columns: Sequence[Column], problems: Problems, sheet: str | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Read every cell of every row; an empty required cell or a bad value is a problem."""
    by_header = {c.header: c for c in columns}
    out = []
    for row in table.rows:
        values: dict[str, Any] = {}
        for header, raw in row.values.items():
            col = by_header[header]
            try:
                value = parse_cell(col, raw)
            except CellError as exc:
                problems.add(row.number, header, str(exc), sheet)
                values[col.key] = None
                continue
            if col.required and (value is None or value == []):
                problems.add(row.number, header, "不能为空", sheet)
            values[col.key] = value
        out.append((row.number, values))
    return out


class _Lookup:
    """Names (and codes) of a reference table mapped to ids, for one import."""

    def __init__(self, pairs: Iterable[tuple[str, int]], what: str) -> None:
        self.what = what
        self.ids: dict[str, set[int]] = defaultdict(set)
        for key, id_ in pairs:
            if key:
                self.ids[fields.normalise_name(key).lower()].add(id_)

    def find(self, value: str) -> int:
        """Return the id for a name or code; raise CellError naming the value."""
        found = self.ids.get(fields.normalise_name(value).lower())
        if not found:
            raise CellError(f"系统中没有{self.what}'{value}'")
        if len(found) > 1:
            raise CellError(f"{self.what}'{value}' 不唯一，请填写代码")
        return next(iter(found))


def _industries(session: Session) -> _Lookup:
    pairs: list[tuple[str, int]] = []
    for ind in session.scalars(select(Industry)):
        pairs += [(ind.code, ind.id), (ind.name, ind.id), (f"{ind.code}{ind.name}", ind.id),
                  (f"{ind.code} {ind.name}", ind.id)]
        if ind.code.isdigit():  # Excel turns 06 into 6
            pairs.append((str(int(ind.code)), ind.id))
    return _Lookup(pairs, "行业")


def _tech_fields(session: Session) -> _Lookup:
    pairs: list[tuple[str, int]] = []
    for tf in session.scalars(select(TechField)):
        pairs += [(tf.code, tf.id), (tf.name, tf.id)]
    return _Lookup(pairs, "技术领域")


def _districts(session: Session) -> _Lookup:
    return _Lookup(((d.name, d.id) for d in session.scalars(select(District))), "区")


def _resolve(lookup: _Lookup, value: str | None, row: int, header: str,
             problems: Problems) -> int | None:
    if value is None:
        return None
    try:
        return lookup.find(value)
    except CellError as exc:
        problems.add(row, header, str(exc))
        return None


def _duplicates(records: Sequence[tuple[int, dict]], key: Callable[[dict], Any | None],
                header: str, what: str, problems: Problems, sheet: str | None = None) -> None:
    seen: dict[Any, int] = {}
    for row, rec in records:
        k = key(rec)
        if k is None:
            continue
        if k in seen:
            problems.add(row, header, f"与第 {seen[k]} 行重复（{what}相同）", sheet)
        else:
            seen[k] = row


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    """Set attributes that differ; return whether any did."""
    changed = False
    for attr, value in values.items():
        if getattr(obj, attr) != value:
            setattr(obj, attr, value)
            changed = True
    return changed


def _present(values: dict[str, Any], keys: Iterable[str], headers: dict[str, str],
             present: set[str]) -> dict[str, Any]:
    """Keep the values whose column is in the file (an absent column changes nothing)."""
    return {k: values.get(k) for k in keys if headers[k] in present}
