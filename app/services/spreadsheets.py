"""The one safe cell rule for every xlsx and csv the service writes.

User text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
by Excel as a formula (CSV/xlsx injection); it is written with a leading apostrophe, which Excel
shows as plain text. Importers strip that apostrophe again (:func:`unneutralise`), so an export
can be re-imported unchanged. Timestamps are written in Beijing time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .. import clock

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_COLUMN_WIDTH = 60


def neutralise(text: str) -> str:
    """Return text that no spreadsheet evaluates: illegal characters dropped, formulas quoted."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def unneutralise(text: str) -> str:
    """Undo :func:`neutralise` on a cell read back from one of our own files."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


def safe_value(value: Any) -> Any:
    """Return a value as a cell holds it: 是/否, Beijing time, joined lists, quoted formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):  # an instant becomes Beijing wall time; wall time stays
        return clock.local_naive(value) if value.tzinfo else value
    if isinstance(value, date):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    if isinstance(value, list | tuple | set):
        return neutralise("、".join(str(v) for v in value))
    return neutralise(str(value))


def write_table(ws: Worksheet, headers: Sequence[str], rows: Iterable[Sequence[Any]],
                limit: int | None = None) -> None:
    """Write a bold header row and safe rows (at most `limit`), fit the widths, freeze row 1."""
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
    widths = [_width(h) for h in headers]
    for row in islice(rows, limit):
        values = [safe_value(v) for v in row]
        ws.append(values)
        for i, v in enumerate(values[: len(widths)]):
            widths[i] = max(widths[i], min(_width(v), MAX_COLUMN_WIDTH))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w + 2
    ws.freeze_panes = "A2"


def workbook_bytes(wb: Workbook) -> bytes:
    """Return the saved .xlsx file of a workbook."""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _width(value: Any) -> int:
    """Return the display width of a cell: CJK characters count twice."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value if value is not None else ""))
