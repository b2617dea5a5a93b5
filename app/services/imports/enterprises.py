"""Import and export of enterprises."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Enterprise, Park

from .. import tabular
from .cells import (
    Problems,
    _apply,
    _districts,
    _duplicates,
    _industries,
    _parse_rows,
    _present,
    _resolve,
    credit_code_problem,
)
from .columns import COLUMNS, SHEET_TITLES, _len
from .parks import _Parks
from .report import ImportResult, Progress, _rows_of

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
            result.count(ent is None, ent is not None and _apply(ent, values))
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
