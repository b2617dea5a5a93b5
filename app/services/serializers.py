"""Plain dicts of demands, experts, matches and ranked hits for the JSON API (and htmx pages).

Privacy is decided here, once: published demands carry no personal contact data; a private
demand's contact is full only for those :func:`app.security.reveal_contact` allows (and that read
is audited outside the owning district), masked otherwise; expert phone and e-mail are masked
except for the campus liaison of the expert's own institution.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Demand, Expert, Match

from ..policy.statuses import DEMAND_STATUS_LABELS, MATCH_STATUS_LABELS
from ..security import PUBLIC_STATUSES, can_see_expert_contact, mask_email, mask_phone


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ref(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.id, "name": obj.name} if obj is not None else None


def is_public(demand: Demand) -> bool:
    """Return whether a demand is on the platform (publishable and published or matched)."""
    return bool(demand.publishable) and demand.status in PUBLIC_STATUSES


def _accepted_via_institution(session: Session, user: Any, demand: Demand) -> bool:
    inst = getattr(user, "institution_id", None)
    if getattr(user, "role", None) != "campus_liaison" or inst is None:
        return False
    return session.scalar(
        select(Match.id).join(Expert, Expert.id == Match.expert_id)
        .where(Match.demand_id == demand.id, Expert.institution_id == inst,
               Match.status.in_(("accepted", "introduced", "negotiating", "signed")))
        .limit(1)
    ) is not None


def demand_contact(session: Session, user: Any, demand: Demand) -> dict[str, Any] | None:
    """Return the enterprise contact a user may read for a demand (None for published ones)."""
    if user is None or is_public(demand):
        return None
    from ..security import reveal_contact

    ent = demand.enterprise
    full = reveal_contact(session, user, demand.district_id, "demand", demand.id,
                          via_match=_accepted_via_institution(session, user, demand))
    if full:
        return {"person": ent.contact_person, "phone": ent.contact_phone,
                "email": ent.contact_email, "masked": False}
    person = ent.contact_person or ""
    return {"person": (person[:1] + "*" * (len(person) - 1)) if person else "",
            "phone": mask_phone(ent.contact_phone), "email": mask_email(ent.contact_email),
            "masked": True}


def demand_dict(demand: Demand, *, contact: dict[str, Any] | None = None,
                detail: bool = True, actions: list[str] | None = None) -> dict[str, Any]:
    """Return a demand as a dict; `contact` comes from :func:`demand_contact`."""
    out: dict[str, Any] = {
        "id": demand.id,
        "code": demand.code,
        "title": demand.title,
        "status": demand.status,
        "status_label": DEMAND_STATUS_LABELS.get(demand.status, demand.status),
        "publishable": bool(demand.publishable),
        "district": _ref(demand.district),
        "enterprise": _ref(demand.enterprise),
        "industry": _ref(demand.industry),
        "tech_field": _ref(demand.tech_field),
        "keywords": list(demand.keywords or []),
        "investment": demand.investment,
        "published_at": _iso(demand.published_at),
        "updated_at": _iso(demand.updated_at),
    }
    if detail:
        out.update({
            "problem": demand.problem or "",
            "goals": demand.goals or "",
            "cooperation_mode": demand.cooperation_mode,
            "deadline": _iso(demand.deadline),
            "created_at": _iso(demand.created_at),
            "submitted_at": _iso(demand.submitted_at),
            "contact": contact,
        })
        if not is_public(demand):
            out["return_reason"] = demand.return_reason
    if actions is not None:
        out["actions"] = actions
    return out


def expert_dict(expert: Expert, user: Any = None, *, detail: bool = False) -> dict[str, Any]:
    """Return an expert as a dict with phone and e-mail masked unless the user keeps them."""
    full = user is not None and can_see_expert_contact(user, expert.institution_id)
    out: dict[str, Any] = {
        "id": expert.id,
        "name": expert.name,
        "institution": _ref(expert.institution),
        "title": expert.title,
        "research_fields": expert.research_fields,
        "is_academician": bool(expert.is_academician),
        "team": expert.team,
        "tech_field": _ref(expert.tech_field),
        "phone": (expert.phone or "") if full else mask_phone(expert.phone),
        "email": (expert.email or "") if full else mask_email(expert.email),
    }
    if detail:
        out["summary"] = expert.summary
        out["items"] = [{"kind": i.kind, "title": i.title, "text": i.text, "year": i.year}
                        for i in expert.items]
    return out


def explanation_text(terms: list | tuple, best_item: str | None, semantic: bool = False,
                     semantic_item: str | None = None) -> str:
    """Return a one-line Chinese explanation of why an expert was ranked."""
    parts = []
    words = [t for t, _s in terms][:5]
    if words:
        parts.append("命中关键词：" + "、".join(words))
    if best_item:
        parts.append(f"最相关成果：《{best_item}》")
    if semantic:
        parts.append("语义相近" + (f"：《{semantic_item}》" if semantic_item else ""))
    return "；".join(parts) or "无直接命中的关键词"


def hit_dict(hit: Any, expert: Expert, rank: int) -> dict[str, Any]:
    """Return one ranked expert with its score and explanation (no contact data)."""
    return {
        "rank": rank,
        "expert_id": hit.expert_id,
        "name": expert.name,
        "institution": _ref(expert.institution),
        "title": expert.title,
        "is_academician": bool(expert.is_academician),
        "tech_field": _ref(expert.tech_field),
        "score": round(float(hit.score), 6),
        "terms": [{"term": t, "share": round(float(s), 4)} for t, s in hit.terms],
        "best_item_title": hit.best_item_title,
        "semantic": bool(hit.semantic),
        "semantic_item_title": hit.semantic_item_title,
        "explanation": explanation_text(hit.terms, hit.best_item_title, hit.semantic,
                                        hit.semantic_item_title),
    }


def match_dict(match: Match, *, events: bool = False,
               actions: list[str] | None = None) -> dict[str, Any]:
    """Return a match as a dict (demand and expert by reference, no contact data)."""
    d, e = match.demand, match.expert
    expl = match.explanation or {}
    out: dict[str, Any] = {
        "id": match.id,
        "status": match.status,
        "status_label": MATCH_STATUS_LABELS.get(match.status, match.status),
        "demand": {"id": d.id, "code": d.code, "title": d.title},
        "expert": {"id": e.id, "name": e.name, "institution": _ref(e.institution)},
        "score": match.score,
        "explanation": expl,
        "explanation_text": explanation_text(expl.get("terms") or [], expl.get("best_item_title"),
                                             bool(expl.get("semantic")),
                                             expl.get("semantic_item_title")),
        "reason": match.reason,
        "contract_amount": match.contract_amount,
        "created_at": _iso(match.created_at),
        "updated_at": _iso(match.updated_at),
    }
    if events:
        out["events"] = [{"at": _iso(ev.at), "from_status": ev.from_status,
                          "to_status": ev.to_status, "reason": ev.reason,
                          "contract_amount": ev.contract_amount, "user_id": ev.user_id}
                         for ev in match.events]
    if actions is not None:
        out["actions"] = actions
    return out
