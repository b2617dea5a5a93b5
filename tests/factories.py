"""Small factory helpers that write real rows (tokens included) for tests."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from app.services.indexing import (
    DEMANDS,
    EXPERTS,
    bump_version,
    refresh_demand_tokens,
    refresh_expert_tokens,
)
from models import (
    Demand,
    District,
    Enterprise,
    Expert,
    ExpertItem,
    Institution,
    TechField,
)

_seq = itertools.count(1)
#: The password of the users the view tests create (valid under the password policy).
PASSWORD = "Test@2022pass"


def district_named(session, name: str) -> District:
    """Return the district of that name (reference data)."""
    return session.scalar(select(District).where(District.name == name))


def login(client, username: str, password: str = PASSWORD) -> None:
    """Sign a user in through the login form of a test client."""
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:300]


def institution(session, name: str = "测试大学") -> Institution:
    """Return the institution of that name, creating it."""
    inst = session.scalar(select(Institution).where(Institution.name == name))
    if inst is None:
        inst = Institution(name=name)
        session.add(inst)
        session.flush()
    return inst


def expert(session, name: str, items: list[str], *, inst: str = "测试大学",
           fields: str = "", field: str | None = None, academician: bool = False) -> Expert:
    """Write an expert with items and stored tokens."""
    e = Expert(name=name, institution=institution(session, inst), research_fields=fields,
               is_academician=academician, title="教授")
    if field:
        e.tech_field = session.scalar(select(TechField).where(TechField.name == field))
    for pos, text in enumerate(items):
        e.items.append(ExpertItem(position=pos, kind="project", title=text[:60], text=text))
    refresh_expert_tokens(e)
    session.add(e)
    session.flush()
    bump_version(session, EXPERTS)
    return e


def enterprise(session, name: str = "武汉测试科技有限公司", district: str = "洪山区") -> Enterprise:
    """Write an enterprise in a district."""
    d = district_named(session, district)
    ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
    if ent is None:
        ent = Enterprise(name=name, district=d)
        session.add(ent)
        session.flush()
    return ent


def demand(session, title: str, problem: str = "", goals: str = "", *, status: str = "submitted",
           district: str = "洪山区", keywords: list[str] | None = None,
           publishable: bool = True, investment: float | None = 100.0) -> Demand:
    """Write a demand with stored tokens."""
    ent = enterprise(session, f"武汉测试{district}科技有限公司", district)
    d = Demand(code=f"T{next(_seq):05d}", enterprise=ent, district_id=ent.district_id,
               title=title, problem=problem, goals=goals, keywords=keywords or [],
               status=status, publishable=publishable, investment=investment)
    refresh_demand_tokens(d)
    session.add(d)
    session.flush()
    bump_version(session, DEMANDS)
    return d
