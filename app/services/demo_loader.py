"""Load the fictional demo data (app/demo/content.py) into the database, idempotently.

Every entity is looked up by its natural key before it is written, so loading twice adds nothing.
Matches are proposed for matched and closed demands with the real ranker, so the pipeline pages
have rows to show.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.demo import content
from matching import text as mtext
from matching.ranker import ExpertRanker
from matching.records import ExpertDoc
from models import (
    Assessment,
    Case,
    Demand,
    DemandEvent,
    District,
    Enterprise,
    Expert,
    ExpertItem,
    Industry,
    Institution,
    Investor,
    Liaison,
    Match,
    MatchEvent,
    Park,
    TechField,
    Training,
    User,
    Visit,
)

from . import user_accounts
from .indexing import DEMANDS, EXPERTS, bump_version, refresh_demand_tokens, refresh_expert_tokens

log = logging.getLogger(__name__)


def _by(session: Session, model, *cols) -> dict:
    """Map natural key -> row for a model."""
    out = {}
    for row in session.scalars(select(model)):
        key = tuple(getattr(row, c) for c in cols)
        out[key if len(cols) > 1 else key[0]] = row
    return out


def _bar(progress: bool, total: int, desc: str):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="条")


def load(session: Session, *, only_if_empty: bool = False, progress: bool = False,
         seed: int = 2022, n_experts: int = 2000, n_demands: int = 600,
         on_step: Callable[[str], None] | None = None,
         today: date | None = None) -> dict[str, int]:
    """Load the demo data dated around `today` (this year and the last); return the counts."""
    if only_if_empty and session.scalar(select(func.count()).select_from(Expert)):
        return {"已有数据，跳过": 0}
    mtext.initialize()
    data = content.build_demo(seed=seed, n_experts=n_experts, n_demands=n_demands,
                              today=today)
    added: dict[str, int] = {}
    districts = _by(session, District, "name")
    fields = _by(session, TechField, "name")
    industries = _by(session, Industry, "code")
    for code, name in content.INDUSTRIES.items():
        if code not in industries:
            industries[code] = Industry(code=code, name=name, is_custom=True)
            session.add(industries[code])

    insts = _by(session, Institution, "name")
    inst_by_key = {}
    for i in data.institutions:
        row = insts.get(i.name)
        if row is None:
            row = Institution(name=i.name, kind=i.kind, city="武汉")
            session.add(row)
            added["高校院所"] = added.get("高校院所", 0) + 1
        inst_by_key[i.key] = row

    parks = _by(session, Park, "district_id", "name")
    park_by_key = {}
    for p in data.parks:
        d = districts[p.district]
        row = parks.get((d.id, p.name))
        if row is None:
            kind = "park" if p.kind == "产业园区" else "incubator"
            row = Park(name=p.name, district=d, kind=kind)
            session.add(row)
            added["园区孵化器"] = added.get("园区孵化器", 0) + 1
        park_by_key[p.key] = row
    session.flush()

    ents = _by(session, Enterprise, "name")
    ent_by_key = {}
    for e in data.enterprises:
        row = ents.get(e.name)
        if row is None:
            row = Enterprise(
                name=e.name, credit_code=e.credit_code, district=districts[e.district],
                park=park_by_key.get(e.park_key), industry=industries.get(e.industry_code),
                is_key=e.is_key, contact_person=e.contact_name, contact_phone=e.contact_phone,
                contact_email=e.contact_email,
            )
            session.add(row)
            added["企业"] = added.get("企业", 0) + 1
        ent_by_key[e.key] = row
    session.flush()

    liaisons = _by(session, Liaison, "kind", "name", "phone")
    liaison_by_key = {}
    for li in data.liaisons:
        row = liaisons.get((li.kind, li.name, li.phone))
        if row is None:
            row = Liaison(
                kind=li.kind, name=li.name, employer_post=li.employer_post, phone=li.phone,
                email=li.email,
                district=districts[li.district] if li.district else None,
                institution=inst_by_key.get(li.institution_key) if li.institution_key else None,
                start_date=li.start_date, end_date=li.end_date, end_reason=li.end_reason,
                filed_on=li.filing_date,
                parks=[park_by_key[k] for k in li.park_keys if k in park_by_key],
                enterprises=[ent_by_key[k] for k in li.enterprise_keys if k in ent_by_key],
            )
            session.add(row)
            added["联络员"] = added.get("联络员", 0) + 1
        liaison_by_key[li.key] = row
    for li in data.liaisons:
        if li.replaces_key and liaison_by_key[li.key].replaces is None:
            liaison_by_key[li.key].replaces = liaison_by_key.get(li.replaces_key)
    session.flush()

    experts = _by(session, Expert, "institution_id", "name")
    expert_by_key = {}
    bar = _bar(progress, len(data.experts), "专家（分词）")
    new_experts = 0
    for x in data.experts:
        inst = inst_by_key[x.institution_key]
        row = experts.get((inst.id, x.name))
        if row is None:
            row = Expert(
                name=x.name, institution=inst, title=x.title,
                research_fields="；".join(x.research_fields), summary=x.summary,
                is_academician=x.is_academician, team=x.team_name,
                tech_field=fields.get(x.technical_field), phone=x.phone, email=x.email,
                items=[ExpertItem(position=n, kind=it.kind, title=it.title, text=it.text,
                                  year=it.year) for n, it in enumerate(x.items)],
            )
            refresh_expert_tokens(row)
            session.add(row)
            new_experts += 1
        expert_by_key[x.key] = row
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    if new_experts:
        added["专家"] = new_experts
        bump_version(session, EXPERTS)
    session.flush()

    demands = _by(session, Demand, "code")
    demand_by_key = {}
    new_demands = []
    for n, dm in enumerate(sorted(data.demands, key=lambda d: (d.created_at, d.key)), start=1):
        code = f"XQ{dm.created_at.year}-{n:06d}"
        row = demands.get(code)
        if row is None:
            problem = dm.problem + (f"\n现有工作基础：{dm.basis}" if dm.basis else "")
            ent = ent_by_key[dm.enterprise_key]
            row = Demand(
                code=code, enterprise=ent, district=districts[dm.district],
                liaison=liaison_by_key.get(dm.liaison_key), title=dm.title, problem=problem,
                goals=dm.goals, investment=dm.investment,
                industry=industries.get(dm.industry_code),
                tech_field=fields.get(dm.technical_field), keywords=list(dm.keywords),
                cooperation_mode=dm.cooperation_mode, deadline=dm.deadline,
                publishable=dm.publishable, status=dm.status,
                return_reason=dm.return_reason or dm.close_reason,
                created_at=dm.created_at, updated_at=dm.closed_at or dm.published_at
                or dm.submitted_at or dm.created_at,
                submitted_at=dm.submitted_at, published_at=dm.published_at,
                returned_at=dm.reviewed_at if dm.status == "returned" else None,
                closed_at=dm.closed_at,
            )
            refresh_demand_tokens(row)
            row.events = _demand_events(dm)
            session.add(row)
            new_demands.append(row)
        demand_by_key[dm.key] = row
    if new_demands:
        added["需求"] = len(new_demands)
        bump_version(session, DEMANDS)
    session.flush()

    added["对接"] = _propose_demo_matches(session, new_demands, seed)

    invs = _by(session, Investor, "name")
    for v in data.investors:
        if v.name not in invs:
            session.add(Investor(
                name=v.name, stages=list(v.stages), ticket_min=v.ticket_min,
                ticket_max=v.ticket_max, focus=v.intro, contact_person=v.contact_name,
                contact_phone=v.contact_phone,
                industries=[industries[c] for c in v.industry_codes if c in industries],
            ))
            added["创投机构"] = added.get("创投机构", 0) + 1

    trainings = _by(session, Training, "district_id", "held_on", "topic")
    for t in data.trainings:
        d = districts[t.district]
        if (d.id, t.held_on, t.title) not in trainings:
            session.add(Training(
                district=d, held_on=t.held_on, topic=t.title, attendee_count=t.attendee_count,
                notes=f"地点：{t.location}\n{t.content}",
                attendees=[liaison_by_key[k] for k in t.liaison_keys if k in liaison_by_key],
            ))
            added["培训"] = added.get("培训", 0) + 1

    cases = _by(session, Case, "district_id", "title")
    experts_by_key = {x.key: x for x in data.experts}
    ents_by_key = {e.key: e for e in data.enterprises}
    for c in data.cases:
        d = districts[c.district]
        if (d.id, c.title) not in cases:
            dm = demand_by_key.get(c.demand_key)
            session.add(Case(
                district=d, year=c.year, title=c.title, liaison=liaison_by_key.get(c.liaison_key),
                demand_id=dm.id if dm is not None else None,
                enterprise_name=ents_by_key[c.enterprise_key].name if c.enterprise_key else None,
                expert_name=experts_by_key[c.expert_key].name if c.expert_key else None,
                contract_amount=c.contract_amount, summary=c.text, status="reported",
            ))
            added["典型案例"] = added.get("典型案例", 0) + 1

    assessed = {(a.liaison_id, a.year) for a in session.scalars(select(Assessment))}
    for a in data.assessments:
        li = liaison_by_key[a.liaison_key]
        if (li.id, a.year) not in assessed:
            session.add(Assessment(liaison=li, year=a.year, result=a.grade, score=a.score,
                                   reviewer=f"{a.district}科技主管部门", assessed_on=a.assessed_on,
                                   comment=a.comment))
            added["考核"] = added.get("考核", 0) + 1
    session.flush()

    added["走访"] = _load_visits(session, data, liaison_by_key, park_by_key, ent_by_key,
                                 demand_by_key, districts)
    users = user_accounts.ensure_demo_users(session)
    _name_users_after_their_liaisons(session, users)
    added["演示账号"] = len(users)
    return added


def _name_users_after_their_liaisons(session: Session, users: list[User]) -> None:
    """Show each demo liaison account under the roster name of the liaison it is linked to.

    The accounts pick a serving liaison of their district or institution from the roster, so
    the name on the account, in the roster, on the dashboard and on the demands they record
    is the same person's.
    """
    for user in users:
        if user.liaison_id is None:
            continue
        liaison = session.get(Liaison, user.liaison_id)
        if liaison is not None and user.display_name != liaison.name:
            user.display_name = liaison.name
    session.flush()


def _load_visits(session: Session, data, liaison_by_key: dict, park_by_key: dict,
                 ent_by_key: dict, demand_by_key: dict, districts: dict) -> int:
    """Add the demo visits that are missing (keyed by liaison, day and place)."""
    seen = {(v.liaison_id, v.visited_on, v.park_id, v.enterprise_id)
            for v in session.scalars(select(Visit))}
    made = 0
    for v in data.visits:
        li = liaison_by_key[v.liaison_key]
        park = park_by_key.get(v.park_key) if v.park_key else None
        ent = ent_by_key.get(v.enterprise_key) if v.enterprise_key else None
        key = (li.id, v.visited_on, park.id if park else None, ent.id if ent else None)
        if key in seen:
            continue
        session.add(Visit(visited_on=v.visited_on, liaison=li, district=districts[v.district],
                          park=park, enterprise=ent, people_met=v.people_met,
                          findings=v.findings, follow_up=v.follow_up,
                          demands=[demand_by_key[k] for k in v.demand_keys
                                   if k in demand_by_key]))
        made += 1
    session.flush()
    return made


def _demand_events(dm) -> list[DemandEvent]:
    """Rebuild a plausible status history from the record's timestamps."""
    events = [DemandEvent(at=dm.created_at, from_status=None, to_status="draft", reason="登记需求")]
    if dm.submitted_at:
        events.append(DemandEvent(at=dm.submitted_at, from_status="draft", to_status="submitted"))
    if dm.status == "returned" and dm.reviewed_at:
        events.append(DemandEvent(at=dm.reviewed_at, from_status="submitted",
                                  to_status="returned", reason=dm.return_reason))
    if dm.published_at:
        events.append(DemandEvent(at=dm.published_at, from_status="submitted",
                                  to_status="published"))
    if dm.status in ("matched", "closed") and dm.published_at:
        events.append(DemandEvent(at=dm.published_at, from_status="published",
                                  to_status="matched", reason="推荐专家"))
    if dm.closed_at:
        events.append(DemandEvent(at=dm.closed_at, from_status="matched", to_status="closed",
                                  reason=dm.close_reason))
    return events


def _propose_demo_matches(session: Session, demands: list[Demand], seed: int) -> int:
    """Propose the top experts for matched and closed demands, with varied outcomes."""
    targets = [d for d in demands if d.status in ("matched", "closed")]
    if not targets:
        return 0
    rows = session.execute(select(Expert.id, Expert.tokens).order_by(Expert.id)).all()
    ranker = ExpertRanker().fit(
        [ExpertDoc(id=r.id, tokens=tuple(mtext.split_tokens(r.tokens))) for r in rows]
    )
    rng = random.Random(seed)
    made = 0
    for d in targets:
        try:
            ranked = ranker.rank(mtext.split_tokens(d.tokens), top=2)
        except ValueError:
            continue
        for pos, r in enumerate(ranked):
            if d.status == "closed":
                status = "signed" if pos == 0 and rng.random() < 0.6 else "closed"
            else:
                status = rng.choice(["proposed", "accepted", "introduced", "negotiating",
                                     "declined"])
            amount = round(rng.uniform(20, 300), 1) if status == "signed" else None
            at = d.published_at or d.created_at
            m = Match(demand=d, expert_id=int(r.expert_id), score=float(r.score), status=status,
                      contract_amount=amount,
                      reason="企业已与其他团队合作" if status in ("declined", "closed") else None,
                      explanation={"terms": [[t, s] for t, s in r.terms]},
                      created_at=at, updated_at=d.closed_at or at)
            m.events = [MatchEvent(at=at, from_status=None, to_status="proposed")]
            if status != "proposed":
                m.events.append(MatchEvent(at=d.closed_at or at, from_status="proposed",
                                           to_status=status, contract_amount=amount,
                                           reason=m.reason))
            session.add(m)
            made += 1
    return made
