"""Import and export of demands."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import DEMAND_STATUSES, Demand, Enterprise, Liaison, utcnow

from ... import clock
from ...policy.statuses import DEMAND_STATUS_LABELS
from .. import tabular, workflow
from ..indexing import DEMANDS, bump_version, refresh_demand_tokens
from .cells import (
    CellError,
    Problems,
    _apply,
    _duplicates,
    _industries,
    _parse_rows,
    _present,
    _resolve,
    _tech_fields,
)
from .columns import COLUMNS, SHEET_TITLES
from .report import ImportResult, Progress, _rows_of

assert set(DEMAND_STATUS_LABELS) == set(DEMAND_STATUSES)


def _status(value: str) -> str:
    text = value.strip()
    if text.lower() in DEMAND_STATUS_LABELS:
        return text.lower()
    for code, label in DEMAND_STATUS_LABELS.items():
        if text in (label, label[1:]):  # 已发布 or 发布
            return code
    raise CellError(f"'{text}' 不是有效状态（应为 {'、'.join(DEMAND_STATUS_LABELS.values())}）")


DEMAND_FIELDS = ("title", "problem", "goals", "investment", "industry_id", "tech_field_id",
                 "keywords", "cooperation_mode", "deadline", "publishable", "liaison_id")


def _import_demands(session: Session, table: tabular.Table, filename: str, problems: Problems,
                    progress: Progress, result: ImportResult) -> None:
    columns = COLUMNS["demands"]
    records = _parse_rows(table, columns, problems)
    enterprises = {e.name: e for e in session.scalars(select(Enterprise))}
    industries = _industries(session)
    fields = _tech_fields(session)
    liaisons: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for li in session.scalars(select(Liaison).where(Liaison.kind == "district")):
        if li.end_date is None or li.end_date >= clock.today():
            liaisons[(li.district_id, li.name)].append(li.id)
    for row, rec in records:
        ent = enterprises.get(rec.get("enterprise") or "")
        if rec.get("enterprise") and ent is None:
            problems.add(row, "企业名称", f"系统中没有企业'{rec['enterprise']}'，请先导入企业")
        rec["enterprise_id"] = ent.id if ent else None
        rec["district_id"] = ent.district_id if ent else None
        rec["industry_id"] = _resolve(industries, rec.get("industry"), row, "所属行业", problems)
        rec["tech_field_id"] = _resolve(fields, rec.get("tech_field"), row, "技术领域", problems)
        kw = rec.get("keywords")
        if kw is not None:
            kw = list(dict.fromkeys(kw))
            rec["keywords"] = kw
            if len(kw) > 5:
                problems.add(row, "关键词", f"关键词最多 5 个，实际 {len(kw)} 个")
            for word in kw:
                if len(word) > 20:
                    problems.add(row, "关键词", f"关键词'{word[:20]}…'过长（最多 20 个字）")
        rec["problem"] = rec.get("problem") or ""
        rec["goals"] = rec.get("goals") or ""
        rec["publishable"] = bool(rec.get("publishable"))
        if rec.get("status") is not None:
            try:
                rec["status"] = _status(rec["status"])
            except CellError as exc:
                problems.add(row, "状态", str(exc))
                rec["status"] = None
        if rec.get("status") in ("published", "matched") and not rec["publishable"]:
            problems.add(row, "可公开发布", "状态为已发布的需求必须可公开发布（填 是）")
        rec["liaison_id"] = None
        name = rec.get("liaison")
        if name and ent is not None:
            found = liaisons.get((ent.district_id, name), [])
            if not found:
                problems.add(row, "记录联络员", f"{ent.district.name}没有在岗的区派联络员'{name}'")
            elif len(found) > 1:
                problems.add(row, "记录联络员", f"{ent.district.name}有多名联络员叫'{name}'，"
                             "请在系统中手工指定")
            else:
                rec["liaison_id"] = found[0]
    _duplicates(records, lambda r: r.get("code"), "需求编号", "需求编号", problems)
    problems.raise_if_any()

    headers = {c.key: c.header for c in columns} | {
        "industry_id": "所属行业", "tech_field_id": "技术领域", "liaison_id": "记录联络员"}
    present = set(table.headers)
    existing = {d.code: d for d in session.scalars(
        select(Demand).where(Demand.code.in_([r["code"] for _, r in records])))}
    changed_any = False
    reason = f"导入文件 {filename}"[:200]
    with session.no_autoflush:
        for _row, rec in _rows_of(records, "demands", progress):
            values = _present(rec, DEMAND_FIELDS, headers, present)
            values["enterprise_id"] = rec["enterprise_id"]
            values["district_id"] = rec["district_id"]
            demand = existing.get(rec["code"])
            status = rec.get("status")
            if demand is None:
                demand = Demand(code=rec["code"], **values)
                session.add(demand)
                workflow.import_demand_status(demand, status or "draft", reason=reason)
                result.created += 1
                changed = True
            else:
                changed = _apply(demand, values)
                if status is not None and status != demand.status:
                    workflow.import_demand_status(demand, status, reason=reason)
                    changed = True
                result.count(False, changed)
            if changed:
                _stamp(demand)
                refresh_demand_tokens(demand)
                changed_any = True
    session.flush()
    if changed_any:
        bump_version(session, DEMANDS)


def _stamp(demand: Demand) -> None:
    """Fill the timestamp that the status implies, when it is missing."""
    now = utcnow()
    if demand.status != "draft" and demand.submitted_at is None:
        demand.submitted_at = now
    if demand.status in ("published", "matched") and demand.published_at is None:
        demand.published_at = now
    if demand.status == "returned" and demand.returned_at is None:
        demand.returned_at = now
    if demand.status == "closed" and demand.closed_at is None:
        demand.closed_at = now


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and value.is_integer() else value


def _export_demands(session: Session) -> bytes:
    demands = session.scalars(
        select(Demand).options(selectinload(Demand.enterprise), selectinload(Demand.industry),
                               selectinload(Demand.tech_field), selectinload(Demand.liaison))
        .order_by(Demand.code)
    ).all()
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, SHEET_TITLES["demands"], COLUMNS["demands"], (
        [d.code, d.enterprise.name, d.title, d.problem, d.goals, _number(d.investment),
         d.industry.name if d.industry else None, d.tech_field.name if d.tech_field else None,
         "；".join(d.keywords or []), d.cooperation_mode, d.deadline,
         "是" if d.publishable else "否", DEMAND_STATUS_LABELS.get(d.status, d.status),
         d.liaison.name if d.liaison else None]
        for d in demands
    ))
    return tabular.workbook_bytes(wb)
