"""匹配专家: the ranked experts of a demand and sending a shortlist to campus liaisons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from matching import text as mtext
from models import (
    Demand,
    Expert,
    Institution,
    Liaison,
    Match,
    TechField,
    User,
)

from ... import clock
from ...auth.decorators import roles_required
from ...db import get_session
from ...errors import DomainError, Forbidden, NotFound
from ...policy.access import can_manage_demand
from ...policy.roles import Role
from ...services import match_writer, search
from ...services import workflow as wf
from ...services.listing import to_int as _int
from . import (
    SEARCH_ROLES,
    _user,
    bp,
    highlight,
)


# --- 匹配专家 ---------------------------------------------------------------------------------
def _rank(session: Session, demand: Demand, args: Mapping[str, str]) -> dict[str, Any]:
    """Rank experts for a demand with the page's filters; `error` when the text is unusable."""
    filters = {
        "field": _int(args.get("field")),
        "institution": _int(args.get("institution")),
        "academician": args.get("academician") in ("1", "on", "true"),
        "top": min(max(_int(args.get("top")) or 20, 5), 100),
    }
    tokens = mtext.split_tokens(demand.tokens) if demand.tokens else None
    try:
        hits, _snap = search.rank_text(
            session,
            demand.text,
            filters["top"],
            field_id=filters["field"],
            institution_id=filters["institution"],
            academician_only=filters["academician"],
            tokens=tokens,
            demand=demand,
        )
    except DomainError as exc:
        return {"filters": filters, "error": exc.message, "rows": []}
    ids = [h.expert_id for h in hits]
    experts = (
        {
            e.id: e
            for e in session.scalars(
                select(Expert)
                .where(Expert.id.in_(ids))
                .options(
                    selectinload(Expert.institution),
                    selectinload(Expert.tech_field),
                    selectinload(Expert.items),
                )
            )
        }
        if ids
        else {}
    )
    proposed = {
        m.expert_id: m for m in session.scalars(select(Match).where(Match.demand_id == demand.id))
    }
    rows = []
    for rank, h in enumerate(hits, 1):
        e = experts.get(h.expert_id)
        if e is None:
            continue
        # Chips are the terms a person reads as reasons (matching.ranker.reasons.readable);
        # single characters, numbers and fragments are one grey line.
        shown = list(h.chips)
        terms = [t for t, _s in shown]
        item = next((i for i in e.items if i.title == h.best_item_title), None)
        rows.append(
            {
                "rank": rank,
                "hit": h,
                "expert": e,
                "pct": h.percent,
                "terms": shown,
                "minor": h.minor_terms,
                "char_share": h.minor_share,
                "weak": h.score <= 0,
                "best_item": highlight(h.best_item_title, terms) if h.best_item_title else None,
                "best_item_kind": item.kind if item is not None else None,
                "best_item_text": highlight(_snippet(item.text, terms), terms)
                if item is not None and item.text and item.text.strip() != item.title.strip()
                else None,
                "fields": highlight(e.research_fields, terms),
                "match": proposed.get(e.id),
            }
        )
    return {"filters": filters, "error": None, "rows": rows}


def _snippet(text: str | None, terms: list[str], width: int = 120) -> str:
    """Return up to `width` characters of `text` around the first matched term."""
    text = text or ""
    if len(text) <= width:
        return text
    words = [mtext.token_text(t) for t in terms if t]
    lower = text.lower()
    pos = min((p for p in (lower.find(w.lower()) for w in words if w) if p >= 0), default=0)
    start = max(0, pos - width // 3)
    return ("…" if start else "") + text[start : start + width] + "…"


def _can_search(user: Any, demand: Demand) -> None:
    if not can_manage_demand(user, demand):
        raise Forbidden("只能为本区的需求匹配专家。")


def _destinations(session: Session, matches: list[Match]) -> list[dict[str, Any]]:
    """Group created matches by institution with the campus liaisons who will review them."""
    by_inst: dict[int, dict[str, Any]] = {}
    for m in matches:
        inst = m.expert.institution
        entry = by_inst.setdefault(
            inst.id, {"institution": inst.name, "experts": [], "liaisons": []}
        )
        entry["experts"].append(m.expert.name)
    if by_inst:
        today = clock.today()
        for liaison in session.scalars(
            select(Liaison).where(
                Liaison.kind == "campus", Liaison.institution_id.in_(list(by_inst))
            )
        ):
            if liaison.active_on(today):
                by_inst[liaison.institution_id]["liaisons"].append(liaison.name)
        for u in session.scalars(
            select(User).where(
                User.role == Role.CAMPUS_LIAISON,
                User.active.is_(True),
                User.institution_id.in_(list(by_inst)),
            )
        ):
            names = by_inst[u.institution_id]["liaisons"]
            if u.display_name not in names:
                names.append(u.display_name)
    return list(by_inst.values())


@bp.route("/<int:demand_id>/experts", methods=["GET", "POST"])
@roles_required(*SEARCH_ROLES)
def experts(demand_id: int):
    """Rank experts for a demand; shortlist and send them to the campus liaisons."""
    session = get_session()
    user = _user()
    demand = wf.get_demand(session, user, demand_id)
    _can_search(user, demand)
    error = None
    if request.method == "POST":
        ids = [i for i in (_int(v) for v in request.form.getlist("expert_ids")) if i]
        try:
            created = match_writer.propose_matches(
                session, user, demand, ids, request.form.get("note") or None
            )
        except DomainError as exc:
            if isinstance(exc, Forbidden | NotFound):
                raise
            error = exc.message
        else:
            sent = _destinations(session, created)
            for s in sent:
                who = "、".join(s["liaisons"]) or "暂无在岗驻校联络员，请联系市科技局"
                flash(
                    f"已发送给{s['institution']}驻校联络员（{who}）：专家 "
                    f"{'、'.join(s['experts'])}。",
                    "success",
                )
            return redirect(
                url_for(
                    "demands.experts",
                    demand_id=demand.id,
                    **{k: v for k, v in request.args.items()},
                )
            )
    result = _rank(session, demand, request.args)
    actions = wf.demand_actions(session, user, demand)
    institutions = [
        (i.id, i.name) for i in session.scalars(select(Institution).order_by(Institution.name))
    ]
    fields = [(t.id, t.name) for t in session.scalars(select(TechField).order_by(TechField.id))]
    return render_template(
        "demands/experts.html",
        demand=demand,
        result=result,
        can_send="match" in actions,
        institutions=institutions,
        tech_fields=fields,
        error=error,
        selected={_int(v) for v in request.form.getlist("expert_ids")},
    ), 422 if error else 200
