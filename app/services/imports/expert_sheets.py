"""Import and export of experts and their items (the 成果 sheet or CSV cell)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Expert, ExpertItem, Institution

from .. import expert_writer, tabular
from ..expert_writer import ITEM_KIND_LABELS, ITEM_KINDS
from ..indexing import EXPERTS, bump_version
from .cells import (
    CellError,
    Problems,
    _duplicates,
    _Lookup,
    _parse_rows,
    _present,
    _resolve,
    _tech_fields,
    parse_year,
)
from .columns import COLUMNS, ITEM_COLUMNS, ITEM_SHEET, SHEET_TITLES, _len
from .report import ImportResult, Progress, _rows_of

#: Separator between the fields of one item in the CSV "成果" cell: 类型|标题|年份|内容.
ITEM_FIELD_SEPARATOR = re.compile(r"[|｜]")


def _parse_csv_items(text: str | None) -> list[tuple[str, str, str | None, int | None]]:
    """Read the CSV "成果" cell: one item per line, 类型|标题|年份|内容."""
    items = []
    for line in (text or "").split("\n"):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in ITEM_FIELD_SEPARATOR.split(line, maxsplit=3)]
        parts += [""] * (4 - len(parts))
        label, title, year, body = parts
        if label not in ITEM_KINDS:
            raise CellError(f"成果 '{line[:30]}' 的类型 '{label}' 应为 项目、论文、专利 或 奖励"
                            "（格式：类型|标题|年份|内容）")
        if not title:
            raise CellError(f"成果 '{line[:30]}' 缺少标题（格式：类型|标题|年份|内容）")
        if len(title) > (_len(ExpertItem.title) or 300):
            raise CellError(f"成果标题过长：'{title[:30]}…'")
        try:
            year_value = parse_year(year)
        except CellError as exc:
            raise CellError(f"成果 '{title[:30]}' 的年份：{exc}") from None
        items.append((ITEM_KINDS[label], title, body or None, year_value))
    return items


def _format_csv_items(items: Sequence[ExpertItem]) -> str:
    return "\n".join(
        "|".join(p for p in (ITEM_KIND_LABELS.get(i.kind, i.kind), i.title,
                             str(i.year or ""), i.text or "")).rstrip("|")
        for i in items
    )


def _import_experts(session: Session, table: tabular.Table, items_table: tabular.Table | None,
                    problems: Problems, progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["experts"]
    records = _parse_rows(table, columns, problems)
    institutions = _Lookup(((i.name, i.id) for i in session.scalars(select(Institution))),
                           "高校院所")
    fields = _tech_fields(session)
    for row, rec in records:
        rec["institution_id"] = _resolve(institutions, rec.get("institution"), row, "所在单位",
                                         problems)
        rec["tech_field_id"] = _resolve(fields, rec.get("tech_field"), row, "技术领域", problems)
        if "items" in rec:
            try:
                rec["items"] = _parse_csv_items(rec["items"])
            except CellError as exc:
                problems.add(row, "成果", str(exc))
                rec["items"] = []
    _duplicates(records, lambda r: (r["institution_id"], r["name"]) if r.get("name") and
                r.get("institution_id") else None, "姓名", "所在单位和姓名", problems)

    if items_table is not None:
        keys = {(r["institution_id"], r["name"]): row for row, r in records}
        grouped: dict[tuple, list] = defaultdict(list)
        for row, it in _parse_rows(items_table, ITEM_COLUMNS, problems, ITEM_SHEET):
            kind = it.get("kind")
            if kind is not None and kind not in ITEM_KINDS:
                problems.add(row, "类型", f"'{kind}' 应为 项目、论文、专利 或 奖励", ITEM_SHEET)
            inst = it.get("institution")
            inst_id = None
            if inst:
                try:
                    inst_id = institutions.find(inst)
                except CellError as exc:
                    problems.add(row, "所在单位", str(exc), ITEM_SHEET)
            if inst_id and it.get("name"):
                if (inst_id, it["name"]) not in keys:
                    problems.add(row, "姓名", f"专家表中没有 {inst} 的 {it['name']}", ITEM_SHEET)
                grouped[(inst_id, it["name"])].append(
                    (ITEM_KINDS.get(kind or "", ""), it.get("title"), it.get("text"),
                     it.get("year")))
        for _row, rec in records:
            rec["items"] = grouped.get((rec["institution_id"], rec["name"]), [])
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns} | {"tech_field_id": "技术领域"}
    present = set(table.headers)
    with_items = items_table is not None or "成果" in present
    inst_ids = {rec["institution_id"] for _, rec in records}
    existing = {
        (e.institution_id, e.name): e
        for e in session.scalars(
            select(Expert).where(Expert.institution_id.in_(inst_ids))
            .options(selectinload(Expert.items))
        )
    }
    # The one expert validation (services/expert_writer.py), row by row, before anything is written.
    changes = []
    for row, rec in records:
        data = {"name": rec["name"]} | _present(rec, expert_writer.EXPERT_FIELDS, headers, present)
        if with_items:
            data["items"] = [{"kind": k, "title": t, "text": x, "year": y}
                             for k, t, x, y in rec["items"]]
        expert = existing.get((rec["institution_id"], rec["name"]))
        change = expert_writer.validate(session, data, institution_id=rec["institution_id"],
                                        expert=expert, partial=True)
        for key, message in change.errors.items():
            problems.add(row, headers.get(key.split("-")[0], "成果"), message)
        changes.append((change, expert))
    problems.raise_if_any()
    changed_any = False
    with session.no_autoflush:
        for _n, (change, expert) in _rows_of(list(enumerate(changes)), "experts", progress):
            _saved, changed = expert_writer.save(session, change, expert, log=False,
                                                 bump=False)
            changed_any = changed_any or changed
            result.count(expert is None, changed)
    session.flush()
    if changed_any:
        bump_version(session, EXPERTS)


def _export_experts(session: Session) -> bytes:
    experts = session.scalars(
        select(Expert).join(Expert.institution)
        .options(selectinload(Expert.items), selectinload(Expert.institution),
                 selectinload(Expert.tech_field))
        .order_by(Institution.name, Expert.name)
    ).all()
    columns = [c for c in COLUMNS["experts"] if c.key != "items"]
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["experts"], columns, (
        [e.name, e.institution.name, e.title, e.research_fields, e.summary,
         "是" if e.is_academician else "否", e.team, e.tech_field.name if e.tech_field else None,
         e.phone, e.email]
        for e in experts
    ))
    tabular.write_sheet(wb, ITEM_SHEET, ITEM_COLUMNS, (
        [e.name, e.institution.name, ITEM_KIND_LABELS.get(i.kind, i.kind), i.title, i.text,
         i.year]
        for e in experts for i in e.items
    ))
    return tabular.workbook_bytes(wb)
