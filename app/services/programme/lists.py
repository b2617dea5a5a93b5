"""The book lists (trainings, cases, assessments, replacements, the roster): one query per list
with its search, shared by the page (paginated) and its 导出 (all matching rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased, selectinload

from models import Assessment, Case, District, Liaison, Training

from ...policy.statuses import CASE_STATUS_LABELS
from ..listing import search


def trainings(year: int, district_id: int | None, q: str | None = None) -> Select:
    """Return the trainings of a year (one district or all), newest first; q: topic, notes."""
    stmt = (select(Training).options(selectinload(Training.attendees),
                                     selectinload(Training.district))
            .where(Training.held_on >= date(year, 1, 1), Training.held_on <= date(year, 12, 31))
            .order_by(Training.held_on.desc(), Training.id.desc()))
    if district_id is not None:
        stmt = stmt.where(Training.district_id == district_id)
    return search(stmt, q, Training.topic, Training.notes)


TRAINING_HEADERS = ["日期", "所属区", "培训主题", "参训联络员", "参训人数", "地点与内容"]


def training_rows(rows: Sequence[Training]) -> list[list[Any]]:
    """Return the export rows of trainings."""
    return [[t.held_on, t.district.name, t.topic, "、".join(a.name for a in t.attendees),
             t.attendee_count, t.notes or ""] for t in rows]


def cases(year: int, district_id: int | None, q: str | None = None,
          status: str | None = None) -> Select:
    """Return the cases of a year by district; q: title, enterprise, expert; status filter."""
    stmt = (select(Case).options(selectinload(Case.district), selectinload(Case.liaison))
            .where(Case.year == year).order_by(Case.district_id, Case.id))
    if district_id is not None:
        stmt = stmt.where(Case.district_id == district_id)
    if status in CASE_STATUS_LABELS:
        stmt = stmt.where(Case.status == status)
    return search(stmt, q, Case.title, Case.enterprise_name, Case.expert_name)


def assessments(year: int, district_id: int | None, q: str | None = None,
                result: str | None = None) -> Select:
    """Return the assessments of a year by district and name; q: name, reviewer."""
    stmt = (select(Assessment).join(Liaison, Liaison.id == Assessment.liaison_id)
            .options(selectinload(Assessment.liaison).selectinload(Liaison.district))
            .where(Assessment.year == year).order_by(Liaison.district_id, Liaison.name))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    if result:
        stmt = stmt.where(Assessment.result == result)
    return search(stmt, q, Liaison.name, Assessment.reviewer)


ASSESSMENT_HEADERS = ["所属区", "姓名", "考核结果", "分数", "考核人", "考核日期", "考核意见"]


def assessment_rows(rows: Sequence[Assessment]) -> list[list[Any]]:
    """Return the export rows of assessments."""
    return [[a.liaison.district.name if a.liaison.district else "", a.liaison.name, a.result,
             a.score if a.score is not None else "", a.reviewer, a.assessed_on, a.comment or ""]
            for a in rows]


def replacements(district_id: int | None, q: str | None = None,
                 filed: str | None = None) -> Select:
    """Return the successors (with `.replaces`), newest first; q: either name; filed: yes/no."""
    old = aliased(Liaison)
    stmt = (select(Liaison).join(old, old.id == Liaison.replaces_id)
            .options(selectinload(Liaison.replaces), selectinload(Liaison.district),
                     selectinload(Liaison.institution))
            .order_by(Liaison.start_date.desc(), Liaison.id.desc()))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    if filed == "yes":
        stmt = stmt.where(Liaison.filed_on.is_not(None))
    elif filed == "no":
        stmt = stmt.where(Liaison.filed_on.is_(None))
    return search(stmt, q, Liaison.name, old.name, old.end_reason)


REPLACEMENT_HEADERS = ["所属区", "离任联络员", "离任日期", "离任原因", "接替人员", "任职起始",
                       "备案日期"]


def replacement_rows(rows: Sequence[Liaison]) -> list[list[Any]]:
    """Return the export rows of replacements."""
    return [[r.district.name if r.district else (r.institution.name if r.institution else ""),
             r.replaces.name, r.replaces.end_date or "", r.replaces.end_reason or "", r.name,
             r.start_date or "", r.filed_on or "未备案"] for r in rows]


def city_roster(on: date, q: str | None = None, district_id: int | None = None,
                include_ended: bool = False) -> Select:
    """Return the district liaisons of the whole city serving on `on`, by district."""
    stmt = (select(Liaison).join(District, District.id == Liaison.district_id)
            .options(selectinload(Liaison.district), selectinload(Liaison.parks),
                     selectinload(Liaison.enterprises))
            .where(Liaison.kind == "district")
            .order_by(District.seq, Liaison.start_date, Liaison.id))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    if not include_ended:
        stmt = stmt.where((Liaison.start_date.is_(None)) | (Liaison.start_date <= on),
                          (Liaison.end_date.is_(None)) | (Liaison.end_date >= on))
    return search(stmt, q, Liaison.name, Liaison.employer_post)
