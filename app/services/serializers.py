"""Plain dicts of demands, experts, matches and ranked hits for the JSON API (and htmx pages).

Privacy is decided by app/policy/privacy.py (the contact rule) and read through
app/services/contacts.py (which audits full reads); this module only shapes the dicts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from models import Demand, Expert, Match

from ..policy.access import is_public
from ..policy.privacy import expert_contact
from ..policy.statuses import DEMAND_STATUS_LABELS, MATCH_STATUS_LABELS
from . import contacts


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ref(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.id, "name": obj.name} if obj is not None else None


def demand_contact(session: Session, user: Any, demand: Demand) -> dict[str, Any] | None:
    """Return the enterprise contact a user may read for a demand (masked where revealable)."""
    if user is None:
        return None
    return contacts.demand_contact(session, user, demand)


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
    contact = expert_contact(user, expert)
    out: dict[str, Any] = {
        "id": expert.id,
        "name": expert.name,
        "institution": _ref(expert.institution),
        "title": expert.title,
        "research_fields": expert.research_fields,
        "is_academician": bool(expert.is_academician),
        "team": expert.team,
        "tech_field": _ref(expert.tech_field),
        "phone": contact["phone"],
        "email": contact["email"],
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
