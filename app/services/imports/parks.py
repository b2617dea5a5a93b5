"""Parks and incubators: their import and export, and the parks the enterprise and roster
imports create on demand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import District, Park

from .. import tabular
from ..registry_writer import PARK_KINDS, clean_name
from .cells import Problems, _apply, _districts, _duplicates, _parse_rows, _resolve
from .columns import COLUMNS, SHEET_TITLES
from .report import ImportResult, Progress, _rows_of

#: A type cell read as its code: the label (产业园区, 孵化器) or the code itself.
PARK_KIND_CODES = {label: code for code, label in PARK_KINDS.items()} | {
    code: code for code in PARK_KINDS} | {"园区": "park"}


def park_kind(name: str) -> str:
    """Return the type of a new park guessed from its name (孵化器, 众创空间, 加速器)."""
    return "incubator" if any(w in name for w in ("孵化", "众创", "加速器")) else "park"


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
            park = Park(name=name, district_id=district_id, kind=park_kind(name))
            self.session.add(park)
            self.by_key[(district_id, name)] = park
            self.created += 1
        return park


def _import_parks(session: Session, table: tabular.Table, problems: Problems,
                  progress: Progress, result: ImportResult) -> None:
    records = _parse_rows(table, COLUMNS["parks"], problems)
    districts = _districts(session)
    for row, rec in records:
        rec["name"] = clean_name(rec.get("name")) or None
        rec["district_id"] = _resolve(districts, rec.get("district"), row, "所属区", problems)
        kind = rec.get("kind")
        if kind is not None:
            rec["kind"] = PARK_KIND_CODES.get(kind)
            if rec["kind"] is None:
                problems.add(row, "类型", f"'{kind}' 应为“产业园区”或“孵化器”")
    _duplicates(records, lambda r: (r["district_id"], r["name"])
                if r["district_id"] and r["name"] else None, "名称", "所属区和名称", problems)
    problems.raise_if_any()

    existing = {(p.district_id, clean_name(p.name)): p for p in session.scalars(select(Park))}
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "parks", progress):
            key = (rec["district_id"], rec["name"])
            park = existing.get(key)
            if park is None:
                park = Park(name=rec["name"], district_id=rec["district_id"],
                            kind=rec.get("kind") or park_kind(rec["name"]))
                session.add(park)
                existing[key] = park
                result.created += 1
            else:
                result.count(False, bool(rec.get("kind")) and _apply(park, {"kind": rec["kind"]}))
    session.flush()


def _export_parks(session: Session) -> bytes:
    rows = session.scalars(select(Park).join(Park.district).options(selectinload(Park.district))
                           .order_by(District.seq, Park.name)).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["parks"], COLUMNS["parks"], (
        [p.name, PARK_KINDS.get(p.kind, p.kind), p.district.name] for p in rows))
    return tabular.workbook_bytes(wb)
