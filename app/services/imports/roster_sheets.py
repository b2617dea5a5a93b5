"""Import and export of the district liaison roster (attachment 2)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import District, Enterprise, Liaison, Park

from .. import tabular
from .cells import Problems, _apply, _districts, _duplicates, _parse_rows, _present, _resolve
from .columns import COLUMNS, SHEET_TITLES, _len
from .parks import _Parks
from .report import ImportResult, Progress, _rows_of

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
            result.count(created, changed)
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
