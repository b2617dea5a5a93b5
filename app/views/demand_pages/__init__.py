"""需求管理: demand list, intake form with live effectiveness check, detail, review, shortlist.

The blueprint and what its pages share live here; the pages are in ``browse`` (list, export),
``intake`` (form, live check), ``review`` (detail, transitions, review queue) and ``shortlist``
(ranked experts, sending a shortlist). Every page goes through the services for scope and state
rules; the request commits once; lists are scoped by :func:`app.policy.scope.demand_scope`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Blueprint
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from matching import text as mtext
from models import District, Industry, TechField, User

from ...forms.demand_intake import LABELS
from ...policy.roles import ALL_ROLES as _ALL
from ...policy.roles import Role
from ...policy.statuses import DEMAND_STATUS_LABELS
from ...services.workflow import COOPERATION_MODES

bp = Blueprint("demands", __name__, url_prefix="/demands")

ALL_ROLES = tuple(sorted(_ALL))
#: Roles that search experts for a demand and send shortlists.
SEARCH_ROLES = (Role.DISTRICT_LIAISON, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
#: Cosine above which an existing demand is called similar at intake (DemandIndex scores).
SIMILAR_THRESHOLD = 0.4
#: What the pages call each field of a demand (the intake form's labels).
FIELD_LABELS = LABELS


def _user() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _options(session: Session) -> dict[str, Any]:
    return {
        "industries": [(i.id, f"{i.code} {i.name}") for i in session.scalars(
            select(Industry).order_by(Industry.code))],
        "tech_fields": [(t.id, t.name) for t in session.scalars(
            select(TechField).order_by(TechField.id))],
        "districts": [(d.id, d.name) for d in session.scalars(
            select(District).order_by(District.seq))],
        "statuses": list(DEMAND_STATUS_LABELS.items()),
        "modes": [(m, m) for m in COOPERATION_MODES],
    }


def highlight(text: str | None, terms: Iterable[str]) -> Markup:
    """Return `text` HTML-escaped with every matched term wrapped in <mark>."""
    text = text or ""
    words = sorted({mtext.token_text(t) for t in terms if t and mtext.token_text(t).strip()},
                   key=len, reverse=True)
    if not words or not text:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def init_app(app) -> None:
    """Register the pages on the blueprint, the blueprint, and the `highlight` filter."""
    from . import browse, intake, review, shortlist  # noqa: F401 (their routes join bp)

    app.register_blueprint(bp)
    app.jinja_env.filters.setdefault("highlight", highlight)
