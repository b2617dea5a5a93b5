"""Import and export of the universities and research institutes (高校院所)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Institution

from .. import tabular
from ..registry_writer import INSTITUTION_KINDS, clean_name
from .cells import Problems, _apply, _duplicates, _parse_rows, _present
from .columns import COLUMNS, SHEET_TITLES
from .report import ImportResult, Progress, _rows_of

#: A type cell read as its code: the label (高校, 科研院所) or the code itself.
INSTITUTION_KIND_CODES = {label: code for code, label in INSTITUTION_KINDS.items()} | {
    code: code for code in INSTITUTION_KINDS} | {"高等院校": "university", "院所": "institute"}


def institution_kind(name: str) -> str:
    """Return the type of a new institution guessed from its name (大学, 学院: 高校)."""
    return "university" if any(w in name for w in ("大学", "学院")) else "institute"


def _import_institutions(session: Session, table: tabular.Table, problems: Problems,
                         progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["institutions"]
    records = _parse_rows(table, columns, problems)
    for row, rec in records:
        rec["name"] = clean_name(rec.get("name")) or None
        kind = rec.get("kind")
        if kind is not None:
            rec["kind"] = INSTITUTION_KIND_CODES.get(kind)
            if rec["kind"] is None:
                problems.add(row, "类型", f"'{kind}' 应为“高校”或“科研院所”")
        if rec.get("city") is not None:
            rec["city"] = clean_name(rec["city"]) or None
    _duplicates(records, lambda r: r["name"], "名称", "名称", problems)
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns}
    present = set(table.headers)
    existing = {clean_name(i.name): i for i in session.scalars(select(Institution))}
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "institutions", progress):
            values = _present(rec, ("city",), headers, present)
            if rec.get("kind"):
                values["kind"] = rec["kind"]
            inst = existing.get(rec["name"])
            if inst is None:
                inst = Institution(name=rec["name"], kind=values.pop("kind", None)
                                   or institution_kind(rec["name"]), **values)
                session.add(inst)
                existing[rec["name"]] = inst
                result.created += 1
            else:
                result.count(False, _apply(inst, values))
    session.flush()


def _export_institutions(session: Session) -> bytes:
    rows = session.scalars(select(Institution).order_by(Institution.name)).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["institutions"], COLUMNS["institutions"], (
        [i.name, INSTITUTION_KINDS.get(i.kind, i.kind), i.city] for i in rows))
    return tabular.workbook_bytes(wb)
