"""Reading an import file into its main table (and the experts' 成果 sheet)."""

from __future__ import annotations

from typing import Any

from ...errors import ImportFailed
from .. import tabular
from .cells import Problems
from .columns import COLUMNS, ITEM_COLUMNS, ITEM_SHEET, NOTES_SHEET, SHEET_TITLES


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
