"""Reading and writing spreadsheets: .xlsx and .csv (UTF-8, GBK/GB18030), header mapping.

Nothing here knows about the models: a table is a list of header cells and of data rows, each
row keeping the number the user sees in the spreadsheet, so that every message can point at it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from .spreadsheets import neutralise, unneutralise

#: How many leading rows are searched for the header row (forms carry a title above it).
HEADER_SEARCH_ROWS = 10

_SPACES = re.compile(r"\s+")
_HEADER_FOLD = str.maketrans({"（": "(", "）": ")", "＊": "", "*": "", "：": "", ":": ""})


class TableError(Exception):
    """The file cannot be read as a table; ``message`` is shown to the user in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Row:
    """One data row: its spreadsheet row number and its cells keyed by canonical header."""

    number: int
    values: dict[str, Any]


@dataclass
class Table:
    """The rows of one sheet under a recognised header row."""

    name: str
    header_row: int
    headers: list[str]  # canonical headers present, in file order
    rows: list[Row] = field(default_factory=list)


def fold_header(text: Any) -> str:
    """Return a header cell folded for comparison (no spaces, ASCII brackets, no stars)."""
    return _SPACES.sub("", str(text or "")).translate(_HEADER_FOLD).lower()


def clean_text(value: Any) -> str:
    """Return a cell as stripped text; numbers lose a spurious ``.0``; None becomes ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value.isoformat()
    text = unneutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    return text.replace("\r\n", "\n").strip().strip("\u3000").strip()


def is_blank(values: Iterable[Any]) -> bool:
    """Return whether every cell of a row is empty."""
    return all(clean_text(v) == "" for v in values)


# ---------------------------------------------------------------------------------------------
# Reading


def decode_csv(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (GBK)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise TableError(
        "无法识别文件编码：文件既不是 UTF-8 也不是 GBK/GB18030 编码的文本。"
        "请在 Excel 中“另存为”CSV UTF-8 或 .xlsx 后重新导入。"
    )


def _csv_rows(data: bytes) -> list[list[Any]]:
    text = decode_csv(data)
    if "\x00" in text:
        raise TableError("文件内容不是文本表格（含有二进制数据），请上传 .xlsx 或 .csv 文件。")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise TableError(f"CSV 格式有误：{exc}。") from exc


def _xlsx_sheets(data: bytes) -> dict[str, list[list[Any]]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise TableError("文件不是有效的 .xlsx 工作簿（可能已损坏，或扩展名与内容不符）。") from exc
    try:
        sheets = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers store a wrong dimension; read every row
            sheets[ws.title] = [list(r) for r in ws.iter_rows(values_only=True)]
        return sheets
    finally:
        wb.close()


def read_workbook(filename: str, data: bytes) -> dict[str, list[list[Any]]]:
    """Return the raw cell rows of every sheet; a CSV file is one sheet named after the file."""
    name = filename.lower()
    if not data or not data.strip():
        raise TableError("文件为空。")
    if name.endswith(".csv") or name.endswith(".txt"):
        return {"": _csv_rows(data)}
    if name.endswith((".xlsx", ".xlsm")):
        return _xlsx_sheets(data)
    if name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError("不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV 后重新导入。")
    if data.startswith(b"PK"):
        return _xlsx_sheets(data)
    raise TableError("只支持 .xlsx 和 .csv 文件。")


def header_lookup(columns: Sequence[Any]) -> dict[str, str]:
    """Map every folded header and alias of ``columns`` (objects with header/aliases) to header."""
    lookup: dict[str, str] = {}
    for col in columns:
        for text in (col.header, *col.aliases):
            lookup[fold_header(text)] = col.header
    return lookup


def to_table(
    name: str, raw: list[list[Any]], columns: Sequence[Any]
) -> tuple[Table | None, list[dict]]:
    """Find the header row, map headers to ``columns`` and return the table and header errors.

    The header row is the first of the leading rows that names the most known columns, so a
    form with a title and a "所属区：" line above the header (attachment 2) reads as is.
    Unknown, repeated and missing required columns are errors at the header row.
    """
    lookup = header_lookup(columns)
    best, best_hits = None, 0
    for i, cells in enumerate(raw[:HEADER_SEARCH_ROWS]):
        hits = len({lookup[f] for c in cells if (f := fold_header(c)) in lookup})
        if hits > best_hits:
            best, best_hits = i, hits
    if best is None:
        if all(is_blank(r) for r in raw):
            return None, []
        expected = "、".join(c.header for c in columns)
        return None, [{"row": 1, "column": "表头",
                       "message": f"找不到表头行；第一行应为列名：{expected}"}]
    errors: list[dict] = []
    header_cells = raw[best]
    positions: dict[str, int] = {}
    for pos, cell in enumerate(header_cells):
        text = clean_text(cell)
        if not text:
            continue
        canonical = lookup.get(fold_header(text))
        if canonical is None:
            letter = get_column_letter(pos + 1)
            errors.append({"row": best + 1, "column": text,
                           "message": f"无法识别的列“{text}”（第 {letter} 列）"})
        elif canonical in positions:
            errors.append({"row": best + 1, "column": canonical, "message": "该列重复出现"})
        else:
            positions[canonical] = pos
    for col in columns:
        if col.required and col.header not in positions:
            errors.append({"row": best + 1, "column": col.header, "message": "缺少必填列"})
    table = Table(name=name, header_row=best + 1, headers=list(positions))
    for i in range(best + 1, len(raw)):
        cells = raw[i]
        if is_blank(cells):
            continue
        values = {h: (cells[p] if p < len(cells) else None) for h, p in positions.items()}
        table.rows.append(Row(number=i + 1, values=values))
    return table, errors


# ---------------------------------------------------------------------------------------------
# Writing

_HEAD_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")


def _cell(ws: Any, value: Any) -> Any:
    """Return a plain value, or a cell when the value needs care (formula-like text, dates)."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def _width(header: str, hint: int | None) -> float:
    return float(hint or max(10, len(header) * 2 + 4))


def write_sheet(
    wb: Workbook, title: str, columns: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> None:
    """Append a sheet to a write-only workbook: styled header with notes, then the rows."""
    ws = wb.create_sheet(title)
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _width(col.header, col.width)
    ws.freeze_panes = "A2"
    head = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=col.header)
        cell.font = _HEAD_FONT
        cell.fill = _REQUIRED_FILL if col.required else _OPTIONAL_FILL
        if col.note:
            cell.comment = Comment(("必填。" if col.required else "选填。") + col.note, "系统")
        head.append(cell)
    ws.append(head)
    for row in rows:
        ws.append([_cell(ws, v) for v in row])


def write_notes(wb: Workbook, title: str, sections: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Append a "填写说明" sheet listing every column: required or not, and what to write."""
    ws = wb.create_sheet(title)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 8
    ws.column_dimensions["D"].width = 80
    head = [WriteOnlyCell(ws, value=v) for v in ("工作表", "列名", "是否必填", "填写要求")]
    for c in head:
        c.font = _HEAD_FONT
    ws.append(head)
    for sheet, columns in sections:
        for col in columns:
            ws.append([sheet, col.header, "必填" if col.required else "选填", col.note or ""])


def new_workbook() -> Workbook:
    """Return an empty write-only workbook."""
    return Workbook(write_only=True)


def workbook_bytes(wb: Workbook) -> bytes:
    """Serialise a workbook to .xlsx bytes."""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
