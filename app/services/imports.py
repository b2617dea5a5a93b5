"""Bulk imports and exports of experts, demands, enterprises and the liaison roster.

Every import validates every row first and raises :class:`ImportFailed` with all problems
(spreadsheet row, column header, what is wrong, in Chinese) before anything is written. Rows
are upserted on a natural key, so importing the same file twice changes nothing; a row whose
values equal the stored ones is not touched. A column missing from the file leaves that field
of existing rows as it is; an empty cell in a present column clears it. Services never commit:
the caller's transaction commits or rolls back.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload
from tqdm import tqdm

from models import (
    DEMAND_STATUSES,
    Demand,
    District,
    Enterprise,
    Expert,
    ExpertItem,
    Industry,
    Institution,
    Liaison,
    Park,
    TechField,
    utcnow,
)

from .. import clock
from ..errors import ImportFailed
from ..policy.statuses import DEMAND_STATUS_LABELS
from . import experts as expert_writer
from . import fields, tabular, workflow
from .experts import ITEM_KIND_LABELS, ITEM_KINDS
from .indexing import DEMANDS, EXPERTS, bump_version, refresh_demand_tokens

__all__ = [
    "COLUMNS",
    "ITEM_COLUMNS",
    "KINDS",
    "Column",
    "ImportResult",
    "export_xlsx",
    "import_file",
    "template_xlsx",
]

Progress = bool | Callable[[int, int], None]


def _len(attr: InstrumentedAttribute) -> int | None:
    return getattr(attr.property.columns[0].type, "length", None)


@dataclass(frozen=True)
class Column:
    """One column of an import file: its Chinese header, how its cells are read."""

    header: str
    key: str
    required: bool = False
    type: str = "text"  # text | bool | number | date | year | phone | email | list | seq
    max_len: int | None = None
    note: str = ""
    aliases: tuple[str, ...] = ()
    width: int | None = None


YES = {"是", "y", "yes", "true", "1", "√", "✓", "t"}
NO = {"否", "n", "no", "false", "0", "×", "✗", "f"}
LIST_SEPARATORS = re.compile(r"[；;,，、\n]+")
assert set(DEMAND_STATUS_LABELS) == set(DEMAND_STATUSES)
#: Separator between the fields of one item in the CSV "成果" cell: 类型|标题|年份|内容.
ITEM_FIELD_SEPARATOR = re.compile(r"[|｜]")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "experts": (
        Column("姓名", "name", True, max_len=_len(Expert.name), width=12),
        Column("所在单位", "institution", True, note="系统中已有的高校院所全称",
               aliases=("工作单位", "单位", "所在高校院所"), width=24),
        Column("职称/职务", "title", max_len=_len(Expert.title), aliases=("职称", "职务")),
        Column("研究方向", "research_fields", note="多个方向用；分隔", width=30),
        Column("简介", "summary", width=50),
        Column("是否院士", "is_academician", type="bool", note="填 是 或 否，空白视为否"),
        Column("团队", "team", max_len=_len(Expert.team), width=20),
        Column("技术领域", "tech_field", note="国家重点支持的高新技术领域名称，如 电子信息",
               width=16),
        Column("联系电话", "phone", type="phone", max_len=_len(Expert.phone), aliases=("电话",),
               width=16),
        Column("电子邮箱", "email", type="email", max_len=_len(Expert.email),
               aliases=("邮箱", "email", "e-mail"), width=24),
        Column("成果", "items", type="text",
               note="仅 CSV 使用：每项一行（单元格内换行），格式 类型|标题|年份|内容，"
                    "类型为 项目/论文/专利/奖励，年份和内容可省略；.xlsx 请用“成果”工作表",
               width=40),
    ),
    "demands": (
        Column("需求编号", "code", True, max_len=_len(Demand.code), aliases=("编号",), width=16),
        Column("企业名称", "enterprise", True, note="系统中已有的企业全称", width=24),
        Column("需求名称", "title", True, max_len=_len(Demand.title), width=30),
        Column("技术难题", "problem", width=50),
        Column("预期目标", "goals", width=40),
        Column("计划投入（万元）", "investment", type="number", note="数字，单位万元",
               aliases=("计划投入", "投入资金（万元）", "投入资金")),
        Column("所属行业", "industry", note="国民经济行业分类大类代码或名称，如 39 或 "
                                        "计算机、通信和其他电子设备制造业", width=20),
        Column("技术领域", "tech_field", note="国家重点支持的高新技术领域名称", width=16),
        Column("关键词", "keywords", True, type="list", note="1 至 5 个，用；或 , 分隔",
               width=24),
        Column("合作方式", "cooperation_mode", max_len=_len(Demand.cooperation_mode),
               note="如 技术开发、技术转让、技术许可、技术咨询、技术服务、合作研发"),
        Column("截止日期", "deadline", type="date", note="如 2025-12-31"),
        Column("可公开发布", "publishable", type="bool", note="填 是 或 否，空白视为否"),
        Column("状态", "status", note="草稿/已提交/已退回/已发布/已对接/已关闭，新需求空白为草稿"),
        Column("记录联络员", "liaison", note="企业所在区的区派联络员姓名", width=12),
    ),
    "enterprises": (
        Column("企业名称", "name", True, max_len=_len(Enterprise.name), width=28),
        Column("统一社会信用代码", "credit_code", note="18 位，校验位按 GB 32100 检查",
               aliases=("信用代码",), width=22),
        Column("所属区", "district", True, note="如 东湖高新区", aliases=("所在区",)),
        Column("所在园区", "park", max_len=_len(Park.name), note="系统中没有的园区会在所属区下新建",
               aliases=("所在园区、孵化器", "园区"), width=24),
        Column("所属行业", "industry", note="国民经济行业分类大类代码或名称", width=20),
        Column("是否重点企业", "is_key", type="bool", note="填 是 或 否，空白视为否",
               aliases=("重点企业",)),
        Column("联系人", "contact_person", max_len=_len(Enterprise.contact_person)),
        Column("联系电话", "contact_phone", type="phone", max_len=_len(Enterprise.contact_phone),
               aliases=("电话",), width=16),
    ),
    "roster": (
        Column("序号", "seq", type="seq", note="可留空，导入时忽略", width=6),
        Column("姓名", "name", True, max_len=_len(Liaison.name)),
        Column("工作单位及职务", "employer_post", max_len=_len(Liaison.employer_post), width=30),
        Column("联系电话", "phone", True, type="phone", max_len=_len(Liaison.phone),
               aliases=("电话",), width=16),
        Column("对接产业园区、孵化器", "parks", type="list",
               note="多个用、或；分隔，系统中没有的园区会在所属区下新建",
               aliases=("对接产业园区孵化器", "对接产业园区"), width=36),
        Column("对接本区重点企业", "enterprises", type="list",
               note="多个用、或；分隔，须为系统中已有的本区企业", aliases=("对接重点企业",),
               width=36),
        Column("所属区", "district", True, note="如 江岸区", aliases=("所在区",)),
        Column("起始日期", "start_date", type="date", note="开始担任联络员的日期，如 2022-03-10",
               aliases=("开始日期",)),
    ),
}

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("姓名", "name", True, max_len=_len(Expert.name), width=12),
    Column("所在单位", "institution", True, aliases=("工作单位", "单位"), width=24),
    Column("类型", "kind", True, note="项目、论文、专利 或 奖励"),
    Column("标题", "title", True, max_len=_len(ExpertItem.title), width=40),
    Column("内容", "text", note="摘要、关键词等", width=60),
    Column("年份", "year", type="year", note="四位年份，如 2021"),
)

KINDS = tuple(COLUMNS)
SHEET_TITLES = {"experts": "专家", "demands": "需求", "enterprises": "企业", "roster": "联络员"}
ITEM_SHEET = "成果"
NOTES_SHEET = "填写说明"
KIND_LABELS = {"experts": "专家", "demands": "需求", "enterprises": "企业",
               "roster": "区派联络员"}


@dataclass
class ImportResult:
    """What an import did."""

    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    parks_created: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line Chinese summary."""
        text = (f"{KIND_LABELS[self.kind]}导入完成：共 {self.rows} 行，新增 {self.created} 条，"
                f"更新 {self.updated} 条，未变 {self.unchanged} 条")
        if self.parks_created:
            text += f"，新建园区 {self.parks_created} 个"
        return text + "。" + "".join(self.notes)


# ---------------------------------------------------------------------------------------------
# Cell values


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


def _bar(total: int, kind: str, progress: Progress) -> tuple[Any, Callable[[int], None]]:
    """Return a tqdm bar (or None) and a function to call with the rows done."""
    bar = None
    if progress is True:
        bar = tqdm(total=total, desc=f"导入{KIND_LABELS[kind]}", unit="行")

    def tick(done: int) -> None:
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(done, total)

    return bar, tick


def _rows_of(records: Sequence[tuple[int, dict]], kind: str,
             progress: Progress) -> Iterator[tuple[int, dict]]:
    """Yield the records while moving the progress bar or calling the progress callback."""
    bar, tick = _bar(len(records), kind, progress)
    try:
        for done, (_row, rec) in enumerate(records, start=1):
            yield _row, rec
            tick(done)
    finally:
        if bar is not None:
            bar.close()


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


# ---------------------------------------------------------------------------------------------
# Reading the file


def _pick_sheet(sheets: dict[str, list[list[Any]]], title: str) -> tuple[str, list[list[Any]]]:
    if title in sheets:
        return title, sheets[title]
    for name, rows in sheets.items():
        if name not in (ITEM_SHEET, NOTES_SHEET):
            return name, rows
    raise ImportFailed(f"文件中没有“{title}”工作表。")


def _read(kind: str, filename: str, data: bytes, problems: Problems
          ) -> tuple[tabular.Table, tabular.Table | None]:
    try:
        sheets = tabular.read_workbook(filename, data)
    except tabular.TableError as exc:
        raise ImportFailed(f"无法读取文件：{exc.message}") from None
    columns = COLUMNS[kind]
    name, raw = _pick_sheet(sheets, SHEET_TITLES[kind])
    table, errors = tabular.to_table(name, raw, columns)
    if table is None and not errors:
        raise ImportFailed("文件为空：没有表头，也没有数据行。")
    problems.extend(errors)
    problems.raise_if_any()  # without the right columns the rows cannot be read
    assert table is not None
    items = None
    if kind == "experts" and ITEM_SHEET in sheets:
        items, errors = tabular.to_table(ITEM_SHEET, sheets[ITEM_SHEET], ITEM_COLUMNS)
        problems.extend(errors, ITEM_SHEET)
        if items is None:  # an empty 成果 sheet means: these experts have no items
            items = tabular.Table(name=ITEM_SHEET, header_row=1, headers=[])
        if "成果" in table.headers:
            problems.add(table.header_row, "成果", "已有“成果”工作表时，专家表中不能再有“成果”列")
    if not table.rows:
        problems.add(table.header_row + 1, "", "文件没有数据行（只有表头）")
    problems.raise_if_any()
    return table, items


# ---------------------------------------------------------------------------------------------
# Experts


def _parse_csv_items(text: str | None) -> list[tuple[str, str, str | None, int | None]]:
    """Read the CSV "成果" cell: one item per line, 类型|标题|年份|内容."""
    items = []
    for line in (text or "").split("\n"):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in ITEM_FIELD_SEPARATOR.split(line, maxsplit=3)]
        parts += [""] * (4 - len(parts))
        label, title, year, body = parts
        if label not in ITEM_KINDS:
            raise CellError(f"成果 '{line[:30]}' 的类型 '{label}' 应为 项目、论文、专利 或 奖励"
                            "（格式：类型|标题|年份|内容）")
        if not title:
            raise CellError(f"成果 '{line[:30]}' 缺少标题（格式：类型|标题|年份|内容）")
        if len(title) > (_len(ExpertItem.title) or 300):
            raise CellError(f"成果标题过长：'{title[:30]}…'")
        try:
            year_value = parse_year(year)
        except CellError as exc:
            raise CellError(f"成果 '{title[:30]}' 的年份：{exc}") from None
        items.append((ITEM_KINDS[label], title, body or None, year_value))
    return items


def _format_csv_items(items: Sequence[ExpertItem]) -> str:
    return "\n".join(
        "|".join(p for p in (ITEM_KIND_LABELS.get(i.kind, i.kind), i.title,
                             str(i.year or ""), i.text or "")).rstrip("|")
        for i in items
    )




def _import_experts(session: Session, table: tabular.Table, items_table: tabular.Table | None,
                    problems: Problems, progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["experts"]
    records = _parse_rows(table, columns, problems)
    institutions = _Lookup(((i.name, i.id) for i in session.scalars(select(Institution))),
                           "高校院所")
    fields = _tech_fields(session)
    for row, rec in records:
        rec["institution_id"] = _resolve(institutions, rec.get("institution"), row, "所在单位",
                                         problems)
        rec["tech_field_id"] = _resolve(fields, rec.get("tech_field"), row, "技术领域", problems)
        if "items" in rec:
            try:
                rec["items"] = _parse_csv_items(rec["items"])
            except CellError as exc:
                problems.add(row, "成果", str(exc))
                rec["items"] = []
    _duplicates(records, lambda r: (r["institution_id"], r["name"]) if r.get("name") and
                r.get("institution_id") else None, "姓名", "所在单位和姓名", problems)

    if items_table is not None:
        keys = {(r["institution_id"], r["name"]): row for row, r in records}
        grouped: dict[tuple, list] = defaultdict(list)
        for row, it in _parse_rows(items_table, ITEM_COLUMNS, problems, ITEM_SHEET):
            kind = it.get("kind")
            if kind is not None and kind not in ITEM_KINDS:
                problems.add(row, "类型", f"'{kind}' 应为 项目、论文、专利 或 奖励", ITEM_SHEET)
            inst = it.get("institution")
            inst_id = None
            if inst:
                try:
                    inst_id = institutions.find(inst)
                except CellError as exc:
                    problems.add(row, "所在单位", str(exc), ITEM_SHEET)
            if inst_id and it.get("name"):
                if (inst_id, it["name"]) not in keys:
                    problems.add(row, "姓名", f"专家表中没有 {inst} 的 {it['name']}", ITEM_SHEET)
                grouped[(inst_id, it["name"])].append(
                    (ITEM_KINDS.get(kind or "", ""), it.get("title"), it.get("text"),
                     it.get("year")))
        for _row, rec in records:
            rec["items"] = grouped.get((rec["institution_id"], rec["name"]), [])
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns} | {"tech_field_id": "技术领域"}
    present = set(table.headers)
    with_items = items_table is not None or "成果" in present
    inst_ids = {rec["institution_id"] for _, rec in records}
    existing = {
        (e.institution_id, e.name): e
        for e in session.scalars(
            select(Expert).where(Expert.institution_id.in_(inst_ids))
            .options(selectinload(Expert.items))
        )
    }
    # The one expert validation (services/experts.py), row by row, before anything is written.
    changes = []
    for row, rec in records:
        data = {"name": rec["name"]} | _present(rec, expert_writer.EXPERT_FIELDS, headers, present)
        if with_items:
            data["items"] = [{"kind": k, "title": t, "text": x, "year": y}
                             for k, t, x, y in rec["items"]]
        expert = existing.get((rec["institution_id"], rec["name"]))
        change = expert_writer.validate(session, data, institution_id=rec["institution_id"],
                                        expert=expert, partial=True)
        for key, message in change.errors.items():
            problems.add(row, headers.get(key.split("-")[0], "成果"), message)
        changes.append((change, expert))
    problems.raise_if_any()
    changed_any = False
    with session.no_autoflush:
        for _n, (change, expert) in _rows_of(list(enumerate(changes)), "experts", progress):
            _saved, changed = expert_writer.save(session, change, expert, audit_action=None,
                                                 bump=False)
            changed_any = changed_any or changed
            if expert is None:
                result.created += 1
            elif changed:
                result.updated += 1
            else:
                result.unchanged += 1
    session.flush()
    if changed_any:
        bump_version(session, EXPERTS)


def _export_experts(session: Session) -> bytes:
    experts = session.scalars(
        select(Expert).join(Expert.institution)
        .options(selectinload(Expert.items), selectinload(Expert.institution),
                 selectinload(Expert.tech_field))
        .order_by(Institution.name, Expert.name)
    ).all()
    columns = [c for c in COLUMNS["experts"] if c.key != "items"]
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["experts"], columns, (
        [e.name, e.institution.name, e.title, e.research_fields, e.summary,
         "是" if e.is_academician else "否", e.team, e.tech_field.name if e.tech_field else None,
         e.phone, e.email]
        for e in experts
    ))
    tabular.write_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, (
        [e.name, e.institution.name, ITEM_KIND_LABELS.get(i.kind, i.kind), i.title, i.text,
         i.year]
        for e in experts for i in e.items
    ))
    return tabular.workbook_bytes(wb)


# ---------------------------------------------------------------------------------------------
# Demands


def _status(value: str) -> str:
    text = value.strip()
    if text.lower() in DEMAND_STATUS_LABELS:
        return text.lower()
    for code, label in DEMAND_STATUS_LABELS.items():
        if text in (label, label[1:]):  # 已发布 or 发布
            return code
    raise CellError(f"'{text}' 不是有效状态（应为 {'、'.join(DEMAND_STATUS_LABELS.values())}）")


DEMAND_FIELDS = ("title", "problem", "goals", "investment", "industry_id", "tech_field_id",
                 "keywords", "cooperation_mode", "deadline", "publishable", "liaison_id")


def _import_demands(session: Session, table: tabular.Table, filename: str, problems: Problems,
                    progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["demands"]
    records = _parse_rows(table, columns, problems)
    enterprises = {e.name: e for e in session.scalars(select(Enterprise))}
    industries = _industries(session)
    fields = _tech_fields(session)
    liaisons: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for li in session.scalars(select(Liaison).where(Liaison.kind == "district")):
        if li.end_date is None or li.end_date >= clock.today():
            liaisons[(li.district_id, li.name)].append(li.id)
    for row, rec in records:
        ent = enterprises.get(rec.get("enterprise") or "")
        if rec.get("enterprise") and ent is None:
            problems.add(row, "企业名称", f"系统中没有企业'{rec['enterprise']}'，请先导入企业")
        rec["enterprise_id"] = ent.id if ent else None
        rec["district_id"] = ent.district_id if ent else None
        rec["industry_id"] = _resolve(industries, rec.get("industry"), row, "所属行业", problems)
        rec["tech_field_id"] = _resolve(fields, rec.get("tech_field"), row, "技术领域", problems)
        kw = rec.get("keywords")
        if kw is not None:
            kw = list(dict.fromkeys(kw))
            rec["keywords"] = kw
            if len(kw) > 5:
                problems.add(row, "关键词", f"关键词最多 5 个，实际 {len(kw)} 个")
            for word in kw:
                if len(word) > 20:
                    problems.add(row, "关键词", f"关键词'{word[:20]}…'过长（最多 20 个字）")
        rec["problem"] = rec.get("problem") or ""
        rec["goals"] = rec.get("goals") or ""
        rec["publishable"] = bool(rec.get("publishable"))
        if rec.get("status") is not None:
            try:
                rec["status"] = _status(rec["status"])
            except CellError as exc:
                problems.add(row, "状态", str(exc))
                rec["status"] = None
        if rec.get("status") in ("published", "matched") and not rec["publishable"]:
            problems.add(row, "可公开发布", "状态为已发布的需求必须可公开发布（填 是）")
        rec["liaison_id"] = None
        name = rec.get("liaison")
        if name and ent is not None:
            found = liaisons.get((ent.district_id, name), [])
            if not found:
                problems.add(row, "记录联络员", f"{ent.district.name}没有在岗的区派联络员'{name}'")
            elif len(found) > 1:
                problems.add(row, "记录联络员", f"{ent.district.name}有多名联络员叫'{name}'，"
                             "请在系统中手工指定")
            else:
                rec["liaison_id"] = found[0]
    _duplicates(records, lambda r: r.get("code"), "需求编号", "需求编号", problems)
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns} | {
        "industry_id": "所属行业", "tech_field_id": "技术领域", "liaison_id": "记录联络员"}
    present = set(table.headers)
    existing = {d.code: d for d in session.scalars(
        select(Demand).where(Demand.code.in_([r["code"] for _, r in records])))}
    changed_any = False
    reason = f"导入文件 {filename}"[:200]
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "demands", progress):
            values = _present(rec, DEMAND_FIELDS, headers, present)
            values["enterprise_id"] = rec["enterprise_id"]
            values["district_id"] = rec["district_id"]
            demand = existing.get(rec["code"])
            status = rec.get("status")
            if demand is None:
                demand = Demand(code=rec["code"], **values)
                session.add(demand)
                workflow.import_demand_status(demand, status or "draft", reason=reason)
                result.created += 1
                changed = True
            else:
                changed = _apply(demand, values)
                if status is not None and status != demand.status:
                    workflow.import_demand_status(demand, status, reason=reason)
                    changed = True
                if changed:
                    result.updated += 1
                else:
                    result.unchanged += 1
            if changed:
                _stamp(demand)
                refresh_demand_tokens(demand)
                changed_any = True
    session.flush()
    if changed_any:
        bump_version(session, DEMANDS)


def _stamp(demand: Demand) -> None:
    """Fill the timestamp that the status implies, when it is missing."""
    now = utcnow()
    if demand.status != "draft" and demand.submitted_at is None:
        demand.submitted_at = now
    if demand.status in ("published", "matched") and demand.published_at is None:
        demand.published_at = now
    if demand.status == "returned" and demand.returned_at is None:
        demand.returned_at = now
    if demand.status == "closed" and demand.closed_at is None:
        demand.closed_at = now


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and value.is_integer() else value


def _export_demands(session: Session) -> bytes:
    demands = session.scalars(
        select(Demand).options(selectinload(Demand.enterprise), selectinload(Demand.industry),
                               selectinload(Demand.tech_field), selectinload(Demand.liaison))
        .order_by(Demand.code)
    ).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["demands"], COLUMNS["demands"], (
        [d.code, d.enterprise.name, d.title, d.problem, d.goals, _number(d.investment),
         d.industry.name if d.industry else None, d.tech_field.name if d.tech_field else None,
         "；".join(d.keywords or []), d.cooperation_mode, d.deadline,
         "是" if d.publishable else "否", DEMAND_STATUS_LABELS.get(d.status, d.status),
         d.liaison.name if d.liaison else None]
        for d in demands
    ))
    return tabular.workbook_bytes(wb)


# ---------------------------------------------------------------------------------------------
# Parks (created on demand by the enterprise and roster imports)


class _Parks:
    """Parks by (district, name); missing ones are created once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_key = {(p.district_id, p.name): p for p in session.scalars(select(Park))}
        self.created = 0

    def known(self, district_id: int, name: str) -> bool:
        """Return whether the park exists already."""
        return (district_id, name) in self.by_key

    def get(self, district_id: int, name: str) -> Park:
        """Return the park, creating it in the district when missing."""
        park = self.by_key.get((district_id, name))
        if park is None:
            kind = "incubator" if any(w in name for w in ("孵化", "众创", "加速器")) else "park"
            park = Park(name=name, district_id=district_id, kind=kind)
            self.session.add(park)
            self.by_key[(district_id, name)] = park
            self.created += 1
        return park


# ---------------------------------------------------------------------------------------------
# Enterprises

ENTERPRISE_FIELDS = ("credit_code", "district_id", "industry_id", "is_key", "contact_person",
                     "contact_phone")


def _import_enterprises(session: Session, table: tabular.Table, problems: Problems,
                        progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["enterprises"]
    records = _parse_rows(table, columns, problems)
    districts = _districts(session)
    industries = _industries(session)
    owners = {e.credit_code: e.name for e in session.scalars(
        select(Enterprise).where(Enterprise.credit_code.is_not(None)))}
    park_len = _len(Park.name) or 100
    for row, rec in records:
        rec["district_id"] = _resolve(districts, rec.get("district"), row, "所属区", problems)
        rec["industry_id"] = _resolve(industries, rec.get("industry"), row, "所属行业", problems)
        rec["is_key"] = bool(rec.get("is_key"))
        code = rec.get("credit_code")
        if code is not None:
            code = code.upper().replace(" ", "")
            rec["credit_code"] = code
            problem = credit_code_problem(code)
            if problem:
                problems.add(row, "统一社会信用代码", problem)
            elif owners.get(code, rec.get("name")) != rec.get("name"):
                problems.add(row, "统一社会信用代码", f"'{code}' 已属于企业'{owners[code]}'")
        if rec.get("park") and len(rec["park"]) > park_len:
            problems.add(row, "所在园区", f"园区名称过长（最多 {park_len} 个字）")
    _duplicates(records, lambda r: r.get("name"), "企业名称", "企业名称", problems)
    _duplicates(records, lambda r: r.get("credit_code"), "统一社会信用代码",
                "统一社会信用代码", problems)
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns} | {"district_id": "所属区",
                                                   "industry_id": "所属行业"}
    present = set(table.headers)
    existing = {e.name: e for e in session.scalars(
        select(Enterprise).where(Enterprise.name.in_([r["name"] for _, r in records])))}
    parks = _Parks(session)
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "enterprises", progress):
            values = _present(rec, ENTERPRISE_FIELDS, headers, present)
            if "park" in rec:
                values["park"] = (parks.get(rec["district_id"], rec["park"])
                                  if rec["park"] else None)
            ent = existing.get(rec["name"])
            if ent is None:
                session.add(Enterprise(name=rec["name"], **values))
                result.created += 1
            elif _apply(ent, values):
                result.updated += 1
            else:
                result.unchanged += 1
    result.parks_created = parks.created
    session.flush()


def _export_enterprises(session: Session) -> bytes:
    rows = session.scalars(
        select(Enterprise).options(selectinload(Enterprise.district),
                                   selectinload(Enterprise.park),
                                   selectinload(Enterprise.industry))
        .order_by(Enterprise.name)
    ).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["enterprises"], COLUMNS["enterprises"], (
        [e.name, e.credit_code, e.district.name, e.park.name if e.park else None,
         e.industry.name if e.industry else None, "是" if e.is_key else "否",
         e.contact_person, e.contact_phone]
        for e in rows
    ))
    return tabular.workbook_bytes(wb)


# ---------------------------------------------------------------------------------------------
# Roster (attachment 2)

ROSTER_FIELDS = ("employer_post", "start_date")


def _import_roster(session: Session, table: tabular.Table, problems: Problems,
                   progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["roster"]
    records = _parse_rows(table, columns, problems)
    districts = _districts(session)
    enterprises = {e.name: e for e in session.scalars(
        select(Enterprise).options(selectinload(Enterprise.district)))}
    park_len = _len(Park.name) or 100
    for row, rec in records:
        rec["district_id"] = district_id = _resolve(districts, rec.get("district"), row,
                                                    "所属区", problems)
        for name in rec.get("parks") or []:
            if len(name) > park_len:
                problems.add(row, "对接产业园区、孵化器", f"园区名称'{name[:20]}…'过长")
        ids = []
        for name in rec.get("enterprises") or []:
            ent = enterprises.get(name)
            if ent is None:
                problems.add(row, "对接本区重点企业", f"系统中没有企业'{name}'，请先导入企业")
            elif district_id is not None and ent.district_id != district_id:
                problems.add(row, "对接本区重点企业",
                             f"企业'{name}'属于{ent.district.name}，不是{rec['district']}")
            else:
                ids.append(ent)
        rec["enterprise_objs"] = list(dict.fromkeys(ids))
        if rec.get("parks") is not None:
            rec["parks"] = list(dict.fromkeys(rec["parks"]))
    _duplicates(records, lambda r: (r["district_id"], r.get("name"), r.get("phone"))
                if r["district_id"] and r.get("name") and r.get("phone") else None,
                "姓名", "所属区、姓名和联系电话", problems)
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns}
    present = set(table.headers)
    existing = {
        (li.district_id, li.name, li.phone): li
        for li in session.scalars(
            select(Liaison).where(Liaison.kind == "district")
            .options(selectinload(Liaison.parks), selectinload(Liaison.enterprises)))
    }
    parks = _Parks(session)
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "roster", progress):
            values = _present(rec, ROSTER_FIELDS, headers, present)
            key = (rec["district_id"], rec["name"], rec["phone"])
            li = existing.get(key)
            created = li is None
            if li is None:
                li = Liaison(kind="district", name=rec["name"], phone=rec["phone"],
                             district_id=rec["district_id"], **values)
                session.add(li)
                existing[key] = li
                changed = True
            else:
                changed = _apply(li, values)
            if headers["parks"] in present:
                wanted = {(rec["district_id"], n) for n in rec["parks"]}
                if {(p.district_id, p.name) for p in li.parks} != wanted:
                    li.parks = [parks.get(rec["district_id"], n) for n in rec["parks"]]
                    changed = True
            if headers["enterprises"] in present:
                new_ents = rec["enterprise_objs"]
                if {e.id for e in li.enterprises} != {e.id for e in new_ents}:
                    li.enterprises = new_ents
                    changed = True
            if created:
                result.created += 1
            elif changed:
                result.updated += 1
            else:
                result.unchanged += 1
    result.parks_created = parks.created
    session.flush()


def _export_roster(session: Session) -> bytes:
    rows = session.scalars(
        select(Liaison).join(Liaison.district).where(Liaison.kind == "district")
        .options(selectinload(Liaison.district), selectinload(Liaison.parks),
                 selectinload(Liaison.enterprises))
        .order_by(District.seq, Liaison.name, Liaison.phone)
    ).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["roster"], COLUMNS["roster"], (
        [n, li.name, li.employer_post, li.phone, "、".join(p.name for p in li.parks),
         "、".join(e.name for e in li.enterprises), li.district.name, li.start_date]
        for n, li in enumerate(rows, start=1)
    ))
    return tabular.workbook_bytes(wb)


# ---------------------------------------------------------------------------------------------
# Public API


def import_file(session: Session, kind: str, filename: str, data: bytes,
                progress: Progress = False) -> ImportResult:
    """Validate a whole .xlsx/.csv file, then upsert its rows; raise ImportFailed on any error.

    ``progress`` is True for a tqdm bar (CLI), or a callable ``(done, total)`` (a background
    job), or False. Nothing is committed here; on ImportFailed nothing has been written.
    """
    if kind not in COLUMNS:
        raise ImportFailed(f"不支持的导入类型：{kind}")
    started = time.perf_counter()
    problems = Problems()
    table, items = _read(kind, filename, data, problems)
    result = ImportResult(kind=kind, rows=len(table.rows))
    if kind == "experts":
        _import_experts(session, table, items, problems, progress, result)
    elif kind == "demands":
        _import_demands(session, table, filename, problems, progress, result)
    elif kind == "enterprises":
        _import_enterprises(session, table, problems, progress, result)
    else:
        _import_roster(session, table, problems, progress, result)
    result.seconds = time.perf_counter() - started
    return result


def export_xlsx(session: Session, kind: str) -> bytes:
    """Export every row of a kind to .xlsx with the import columns (re-importable as is)."""
    exporters = {"experts": _export_experts, "demands": _export_demands,
                 "enterprises": _export_enterprises, "roster": _export_roster}
    if kind not in exporters:
        raise ImportFailed(f"不支持的导出类型：{kind}")
    return exporters[kind](session)


def template_xlsx(kind: str) -> bytes:
    """Return an empty import template: headers (required ones highlighted) and a notes sheet."""
    if kind not in COLUMNS:
        raise ImportFailed(f"不支持的模板类型：{kind}")
    columns = [c for c in COLUMNS[kind] if c.key != "items"]
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES[kind], columns, [])
    sections: list[tuple[str, Sequence[Column]]] = [(SHEET_TITLES[kind], columns)]
    if kind == "experts":
        tabular.write_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, [])
        sections.append((ITEM_SHEET, ITEM_COLUMNS))
    tabular.write_notes(wb, NOTES_SHEET, sections)
    return tabular.workbook_bytes(wb)
