"""Bulk imports and exports of experts, demands, enterprises, the liaison roster, and the
registries of parks/incubators, venture-capital firms and universities/institutes.

Every import validates every row first and raises :class:`ImportFailed` with all problems
(spreadsheet row, column header, what is wrong, in Chinese) before anything is written. Rows
are upserted on a natural key, so importing the same file twice changes nothing; a row whose
values equal the stored ones is not touched. A column missing from the file leaves that field
of existing rows as it is; an empty cell in a present column clears it. Services never commit:
the caller's transaction commits or rolls back.

Each run writes one 操作日志 row with its counts (``record_run``, called by whoever runs it).

Modules: columns (file columns, sheet titles), cells (cell parsers, problems, lookups),
report (ImportResult, progress, the run's log row), reading (the file's tables), and one module
per kind (experts, demands, enterprises, roster, parks, investors, institutions) with its
import and export.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from ...errors import ImportFailed
from .. import tabular
from .cells import (
    CREDIT_CODE_CHARS,
    CellError,
    Problems,
    credit_code_problem,
    parse_bool,
    parse_cell,
    parse_date,
    parse_number,
    parse_year,
)
from .columns import (
    COLUMNS,
    ITEM_COLUMNS,
    ITEM_SHEET,
    KIND_LABELS,
    KINDS,
    NOTES_SHEET,
    SHEET_TITLES,
    Column,
)
from .demand_sheets import _export_demands, _import_demands
from .enterprises import _export_enterprises, _import_enterprises
from .expert_sheets import _export_experts, _import_experts
from .institutions import _export_institutions, _import_institutions
from .investors import _export_investors, _import_investors
from .parks import _export_parks, _import_parks
from .reading import _read
from .report import ImportResult, Progress, record_run
from .roster_sheets import _export_roster, _import_roster

__all__ = [
    "COLUMNS",
    "CREDIT_CODE_CHARS",
    "CellError",
    "Column",
    "ITEM_COLUMNS",
    "ITEM_SHEET",
    "ImportResult",
    "KINDS",
    "KIND_LABELS",
    "NOTES_SHEET",
    "Problems",
    "Progress",
    "SHEET_TITLES",
    "credit_code_problem",
    "export_xlsx",
    "import_file",
    "parse_bool",
    "parse_cell",
    "parse_date",
    "parse_number",
    "parse_year",
    "record_run",
    "template_xlsx",
]

#: The import of each kind but experts and demands (which read more than their main table).
_IMPORTERS = {"enterprises": _import_enterprises, "roster": _import_roster,
              "parks": _import_parks, "investors": _import_investors,
              "institutions": _import_institutions}
_EXPORTERS = {"experts": _export_experts, "demands": _export_demands,
              "enterprises": _export_enterprises, "roster": _export_roster,
              "parks": _export_parks, "investors": _export_investors,
              "institutions": _export_institutions}


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
    else:
        _IMPORTERS[kind](session, table, problems, progress, result)
    result.seconds = time.perf_counter() - started
    return result


def export_xlsx(session: Session, kind: str) -> bytes:
    """Export every row of a kind to .xlsx with the import columns (re-importable as is)."""
    if kind not in _EXPORTERS:
        raise ImportFailed(f"不支持的导出类型：{kind}")
    return _EXPORTERS[kind](session)


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
