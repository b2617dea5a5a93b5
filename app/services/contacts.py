"""Reading personal contact data: the policy decides (app/policy/privacy.py), this audits.

Demand pages, match pages, the API and exports call these; every full read by someone outside
the owning district is written to the operation log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Demand, District, Expert, Match

from ..policy.privacy import ContactView, can_see_contact, contact_view
from ..policy.roles import role_label
from ..policy.statuses import ENGAGED_MATCH_STATUSES
from .audit import audit


def institution_link(session: Session, user: Any, demand: Demand) -> tuple[bool, bool]:
    """Return (sent, engaged): the demand was sent to / taken on by the user's institution."""
    institution_id = getattr(user, "institution_id", None)
    if institution_id is None:
        return False, False
    statuses = set(session.scalars(
        select(Match.status).join(Expert, Expert.id == Match.expert_id)
        .where(Match.demand_id == demand.id, Expert.institution_id == institution_id)))
    return bool(statuses), bool(statuses & set(ENGAGED_MATCH_STATUSES))


def _read_detail(session: Session, user: Any, district_id: int | None) -> dict[str, Any]:
    """The log detail of a contact read: the record's district by name, the reader's role."""
    district = session.get(District, district_id) if district_id else None
    return {"区": district.name if district else None,
            "role": role_label(getattr(user, "role", None))}


def _audited(session: Session, user: Any, view: ContactView | None, district_id: int | None,
             entity: str, entity_id: int | None) -> dict[str, Any] | None:
    if view is None:
        return None
    if view.audit:
        audit(session, "view_contact", entity, entity_id,
              _read_detail(session, user, district_id), user=user)
    return view.as_dict()


def demand_contact(session: Session, user: Any, demand: Demand, *,
                   reveal: bool = False) -> dict[str, Any] | None:
    """Return a demand's enterprise contact as `user` may read it (None: not shown at all)."""
    sent, engaged = institution_link(session, user, demand)
    view = contact_view(user, demand.enterprise, district_id=demand.district_id, sent=sent,
                        engaged=engaged, reveal=reveal)
    return _audited(session, user, view, demand.district_id, "demand", demand.id)


def match_contact(session: Session, user: Any, match: Match, *,
                  reveal: bool = False) -> dict[str, Any] | None:
    """Return the contact of a match's enterprise as `user` may read it."""
    institution_id = getattr(user, "institution_id", None)
    sent = institution_id is not None and match.expert.institution_id == institution_id
    engaged = sent and match.status in ENGAGED_MATCH_STATUSES
    demand = match.demand
    view = contact_view(user, demand.enterprise, district_id=demand.district_id, sent=sent,
                        engaged=engaged, reveal=reveal)
    return _audited(session, user, view, demand.district_id, "match", match.id)


def reveal_contact(session: Session, user: Any, district_id: int | None, entity: str,
                   entity_id: int | None, *, via_match: bool = False) -> bool:
    """Return whether `user` may read full contact data of a district's record; audit outsiders."""
    allowed = can_see_contact(user, district_id, via_match=via_match)
    if allowed and getattr(user, "district_id", None) != district_id:
        audit(session, "view_contact", entity, entity_id,
              _read_detail(session, user, district_id), user=user)
    return allowed
