"""Attachment 2: the roster of liaisons, their assignments and replacements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    Enterprise,
    Liaison,
    Park,
)

from ... import clock
from ...errors import Conflict, DomainError
from ..fields import FieldError, check_phone


# --- roster and replacements -----------------------------------------------------------------
def roster(session: Session, district_id: int, *, on: date | None = None,
           include_ended: bool = False) -> list[Liaison]:
    """Return a district's liaisons serving on `on` (or all of them, ended ones included)."""
    on = on or clock.today()
    stmt = (select(Liaison).options(selectinload(Liaison.parks), selectinload(Liaison.enterprises))
            .where(Liaison.kind == "district", Liaison.district_id == district_id)
            .order_by(Liaison.start_date, Liaison.id))
    if not include_ended:
        stmt = stmt.where((Liaison.start_date.is_(None)) | (Liaison.start_date <= on),
                          (Liaison.end_date.is_(None)) | (Liaison.end_date >= on))
    return list(session.scalars(stmt))


def campus_roster(session: Session, *, include_ended: bool = False) -> list[Liaison]:
    """Return the campus liaisons ordered by institution."""
    stmt = (select(Liaison).options(selectinload(Liaison.institution))
            .where(Liaison.kind == "campus").order_by(Liaison.institution_id, Liaison.id))
    if not include_ended:
        stmt = stmt.where(Liaison.end_date.is_(None) | (Liaison.end_date >= clock.today()))
    return list(session.scalars(stmt))


@dataclass
class LiaisonInput:
    """The roster fields of attachment 2 (plus the dates the rules need)."""

    name: str
    employer_post: str = ""
    phone: str = ""
    email: str = ""
    start_date: date | None = None
    park_ids: Sequence[int] = ()
    enterprise_ids: Sequence[int] = ()
    institution_id: int | None = None


def _check_input(data: LiaisonInput) -> None:
    errors = {}
    if not data.name.strip():
        errors["name"] = "请填写姓名"
    elif len(data.name.strip()) > 40:
        errors["name"] = "姓名过长"
    try:
        check_phone(data.phone)
    except FieldError as exc:
        errors["phone"] = exc.message
    if data.start_date is None:
        errors["start_date"] = "请填写任职起始日期"
    if errors:
        first = next(iter(errors))
        raise DomainError(errors[first], field=first,
                          errors=[{"field": k, "message": v} for k, v in errors.items()])


def _assign(session: Session, li: Liaison, data: LiaisonInput) -> None:
    parks = list(session.scalars(select(Park).where(Park.id.in_(list(data.park_ids)))))
    ents = list(session.scalars(select(Enterprise).where(
        Enterprise.id.in_(list(data.enterprise_ids)))))
    if li.kind == "district":
        if any(p.district_id != li.district_id for p in parks):
            raise DomainError("只能分配本区的产业园区、孵化器。", field="park_ids")
        if any(e.district_id != li.district_id for e in ents):
            raise DomainError("只能分配本区的重点企业。", field="enterprise_ids")
    li.parks = parks
    li.enterprises = ents


def save_liaison(session: Session, data: LiaisonInput, *, liaison: Liaison | None = None,
                 kind: str = "district", district_id: int | None = None) -> Liaison:
    """Create or update a liaison with the roster fields and assignments."""
    _check_input(data)
    if liaison is None:
        if kind == "district" and district_id is None:
            raise DomainError("请选择所属区。", field="district_id")
        if kind == "campus" and data.institution_id is None:
            raise DomainError("请选择所驻高校院所。", field="institution_id")
        liaison = Liaison(kind=kind, district_id=district_id if kind == "district" else None)
        session.add(liaison)
    liaison.name = data.name.strip()
    liaison.employer_post = data.employer_post.strip() or None
    liaison.phone = data.phone.strip() or None
    liaison.email = data.email.strip() or None
    liaison.start_date = data.start_date
    if liaison.kind == "campus":
        liaison.institution_id = data.institution_id
    _assign(session, liaison, data)
    session.flush()
    return liaison


def replace_liaison(session: Session, old: Liaison, *, end_date: date, end_reason: str,
                    new: LiaisonInput, filed_on: date | None = None,
                    keep_assignments: bool = True) -> Liaison:
    """End a liaison's service and appoint the successor; the filing date may come later."""
    if old.end_date is not None:
        raise Conflict(f"{old.name}已于{old.end_date:%Y-%m-%d}离任，不能重复替换。")
    if not end_reason.strip():
        raise DomainError("请填写离任原因。", field="end_reason")
    if old.start_date and end_date < old.start_date:
        raise DomainError("离任日期不能早于任职起始日期。", field="end_date")
    if new.start_date is None:
        new.start_date = end_date + timedelta(days=1)
    if new.start_date < end_date:
        raise DomainError("接替人员的任职日期不能早于原联络员离任日期。", field="start_date")
    if filed_on is not None and filed_on < end_date:
        raise DomainError("备案日期不能早于离任日期。", field="filed_on")
    if keep_assignments and not new.park_ids and not new.enterprise_ids:
        new.park_ids = [p.id for p in old.parks]
        new.enterprise_ids = [e.id for e in old.enterprises]
    successor = save_liaison(session, new, kind=old.kind, district_id=old.district_id)
    if old.kind == "campus":
        successor.institution_id = old.institution_id
    successor.replaces = old
    successor.filed_on = filed_on
    old.end_date = end_date
    old.end_reason = end_reason.strip()
    session.flush()
    return successor


def file_replacement(session: Session, successor: Liaison, filed_on: date) -> Liaison:
    """Record the day a replacement was filed with the city bureau."""
    if successor.replaces_id is None:
        raise Conflict("该联络员不是接替人员，无需备案。")
    ended = successor.replaces.end_date if successor.replaces else None
    if ended and filed_on < ended:
        raise DomainError("备案日期不能早于离任日期。", field="filed_on")
    successor.filed_on = filed_on
    session.flush()
    return successor


def replacements(session: Session, district_id: int | None = None) -> list[Liaison]:
    """Return the successors (with `.replaces`), newest first; filter by district."""
    stmt = (select(Liaison).options(selectinload(Liaison.replaces), selectinload(Liaison.district))
            .where(Liaison.replaces_id.is_not(None))
            .order_by(Liaison.start_date.desc(), Liaison.id.desc()))
    if district_id is not None:
        stmt = stmt.where(Liaison.district_id == district_id)
    return list(session.scalars(stmt))
