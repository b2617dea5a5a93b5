"""The one safe cell rule for every xlsx and csv the service writes.

User text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
by Excel as a formula (CSV/xlsx injection); it is written with a leading apostrophe, which Excel
shows as plain text. Importers strip that apostrophe again (:func:`unneutralise`), so an export
can be re-imported unchanged. Timestamps are written in Beijing time.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .. import clock

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
