"""Import and export of the venture-capital firms (创投机构) and their preferences."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Industry, Investor

from .. import tabular
from ..registry_writer import INVESTMENT_STAGES, clean_name
from .cells import (
    CellError,
    Problems,
    _apply,
    _duplicates,
    _industries,
    _Lookup,
    _parse_rows,
    _present,
)
from .columns import COLUMNS, SHEET_TITLES
from .report import ImportResult, Progress, _rows_of

INVESTOR_FIELDS = ("stages", "ticket_min", "ticket_max", "focus", "contact_person",
                   "contact_phone")
#: Industries are separated by ；, ; or a line break; 、 only where the pieces are industries
#: ("计算机、通信和其他电子设备制造业" is one industry).
_INDUSTRY_SEPARATORS = re.compile(r"[；;,，\n]+")


def _industry_ids(lookup: _Lookup, text: str | None) -> list[int]:
    """Return the industries of a cell, raising CellError naming the first unknown one."""
    ids: list[int] = []
    for part in (p.strip() for p in _INDUSTRY_SEPARATORS.split(text or "") if p.strip()):
        try:
            ids.append(lookup.find(part))
        except CellError:
            pieces = [p.strip() for p in part.split("、") if p.strip()]
            if len(pieces) < 2:
                raise
            ids += [lookup.find(p) for p in pieces]
    return list(dict.fromkeys(ids))


def _import_investors(session: Session, table: tabular.Table, problems: Problems,
                      progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["investors"]
    headers = {c.key: c.header for c in columns}
    present = set(table.headers)
    records = _parse_rows(table, columns, problems)
    industries = _industries(session)
    existing = {clean_name(v.name): v for v in session.scalars(
        select(Investor).options(selectinload(Investor.industries)))}
    for row, rec in records:
        rec["name"] = clean_name(rec.get("name")) or None
        if headers["industries"] in present:
            try:
                rec["industry_ids"] = _industry_ids(industries, rec.get("industries"))
            except CellError as exc:
                problems.add(row, headers["industries"], str(exc))
        wrong = [s for s in rec.get("stages") or [] if s not in INVESTMENT_STAGES]
        if wrong:
            problems.add(row, headers["stages"], f"'{wrong[0]}' 不是投资阶段，应为 "
                                                 f"{'、'.join(INVESTMENT_STAGES)} 之一")
        stored = existing.get(rec["name"] or "")
        low, high = (rec[k] if headers[k] in present else getattr(stored, k, None)
                     for k in ("ticket_min", "ticket_max"))
        if low is not None and high is not None and low > high:
            problems.add(row, headers["ticket_max"],
                         f"单笔投资上限 {high:g} 万元不能小于下限 {low:g} 万元")
    _duplicates(records, lambda r: r["name"], "机构名称", "机构名称", problems)
    problems.raise_if_any()

    by_id = {i.id: i for i in session.scalars(select(Industry))}
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "investors", progress):
            values = _present(rec, INVESTOR_FIELDS, headers, present)
            if "stages" in values:
                values["stages"] = list(dict.fromkeys(values["stages"] or []))
            investor = existing.get(rec["name"])
            created = investor is None
            if investor is None:
                investor = Investor(name=rec["name"], stages=[])
                session.add(investor)
                existing[rec["name"]] = investor
            changed = _apply(investor, values)
            if "industry_ids" in rec and {i.id for i in investor.industries} != set(
                    rec["industry_ids"]):
                investor.industries = [by_id[i] for i in rec["industry_ids"]]
                changed = True
            result.count(created, changed)
    session.flush()


def _export_investors(session: Session) -> bytes:
    rows = session.scalars(select(Investor).options(selectinload(Investor.industries))
                           .order_by(Investor.name)).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["investors"], COLUMNS["investors"], (
        [v.name, "；".join(i.name for i in v.industries), "、".join(v.stages or []),
         v.ticket_min, v.ticket_max, v.focus, v.contact_person, v.contact_phone]
        for v in rows))
    return tabular.workbook_bytes(wb)
