"""The programme blueprint and what its pages share: scope, year, form errors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import District, Liaison

from ... import clock
from ...auth.decorators import roles_required
from ...errors import NotFound
from ...policy.roles import Role, is_city
from ...services.listing import field_errors
from ...services.programme import dashboard_figures as programme_dashboard
from ...services.programme import rules as programme_rules

bp = Blueprint("programme", __name__, url_prefix="/programme")
admins = roles_required(Role.CITY_ADMIN, Role.DISTRICT_ADMIN)

#: Status code of a page re-shown with field errors: the request's unit of work rolls back.
INVALID = 422


def city() -> bool:
    """Return whether the signed-in user is the city admin."""
    return is_city(current_user)


def scope(requested: object = None) -> int | None:
    """Return the district the page shows: the user's own, or for the city the one asked."""
    if not city():
        return current_user.district_id
    try:
        return int(requested) if requested not in (None, "") else None
    except (TypeError, ValueError):
        return None


def own(district_id: int | None) -> None:
    """Refuse a district admin anything outside their district."""
    if not city() and district_id != current_user.district_id:
        raise NotFound("记录不存在，或不属于本区。")


def year_arg(default: int | None = None) -> int:
    """Return the year asked for (this year in Beijing by default), clamped to 2000-2100."""
    try:
        y = int(request.values.get("year") or default or clock.this_year())
    except ValueError:
        y = clock.this_year()
    return min(max(y, 2000), 2100)


def int_arg(name: str) -> int | None:
    """Return a whole-number query or form value, or None."""
    v = str(request.values.get(name, "") or "")
    return int(v) if v.isdigit() else None


def ints(name: str) -> list[int]:
    """Return the whole numbers posted under `name` (checkbox lists)."""
    return [int(v) for v in request.form.getlist(name) if str(v).isdigit()]


def all_districts(session: Session) -> list[District]:
    """Return every district in the notice's order."""
    return list(session.scalars(select(District).order_by(District.seq)))


def liaison_or_404(session: Session, liaison_id: int | None) -> Liaison:
    """Return a liaison the user may handle (campus liaisons: the city only)."""
    li = session.get(Liaison, liaison_id) if liaison_id else None
    if li is None:
        raise NotFound("联络员不存在。")
    if li.kind == "campus":
        if not city():
            raise NotFound("联络员不存在。")
    else:
        own(li.district_id)
    return li


def years(session: Session) -> list[int]:
    """Return the years the books have data for."""
    return programme_dashboard.data_years(session)


def merge_errors(form_errors: dict[str, str], exc: Any) -> dict[str, str]:
    """Add a service's DomainError (field or form level) to the form's errors."""
    return {**form_errors, **field_errors(exc)}


@bp.app_template_global("programme_status_label")
def programme_status_label(status: str) -> str:
    """Return the Chinese label of a rule standing (达标, 进度正常 ...) for the templates."""
    return programme_rules.STATUS_LABELS[status]
