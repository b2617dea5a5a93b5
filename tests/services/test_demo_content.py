"""The fictional demo content: deterministic, complete, unique and free of real contact data."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import date

import pytest

from app.demo.content import (
    CREDIT_CODE_CHARS,
    DEMAND_STATUSES,
    DISTRICT_QUOTAS,
    DISTRICTS,
    FAMOUS_NAMES,
    INDUSTRIES,
    ITEM_KINDS,
    TECHNICAL_FIELDS,
    DemoData,
    build_demo,
    credit_code_check_char,
    is_fictional_phone,
    is_valid_credit_code,
    load_sub_areas,
    org_code_check_char,
)

QUANTITY = re.compile(r"[≥≤]|\d+(\.\d+)?\s*(%|万元|项|次|个月|天)")


DAY = date(2026, 6, 15)  # the demo is built around a day: this year and the last one


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return build_demo(today=DAY)


def _phones(data: DemoData) -> list[str]:
    return (
        [x.phone for x in data.liaisons]
        + [x.phone for x in data.experts]
        + [x.contact_phone for x in data.enterprises]
        + [x.contact_phone for x in data.investors]
    )


def test_same_seed_same_output(demo: DemoData) -> None:
    assert build_demo(seed=2022, today=DAY) == demo


def test_other_seed_other_output(demo: DemoData) -> None:
    other = build_demo(seed=7)
    assert [e.name for e in other.experts] != [e.name for e in demo.experts]
    assert other.summary()["experts"] == demo.summary()["experts"]


def test_counts(demo: DemoData) -> None:
    counts = demo.summary()
    assert counts["districts"] == 14
    assert counts["institutions"] == 20
    assert counts["district_liaisons_active"] == 200
    assert counts["district_liaisons_replaced"] == 6  # 4 last year, 2 this year
    assert counts["campus_liaisons"] == 20
    assert counts["experts"] == 2000
    assert counts["enterprises"] == 300
    assert counts["demands"] == 600
    assert 6 <= counts["investors"] <= 10
    assert 60 <= counts["sub_areas"] <= 100
    assert 0.005 <= counts["academicians"] / counts["experts"] <= 0.02
    assert 0.18 <= counts["vague_demands"] / counts["demands"] <= 0.32
    for status in DEMAND_STATUSES:
        assert counts[f"demands_{status}"] > 0, status
    assert counts["trainings"] > 0 and counts["cases"] > 0 and counts["assessments"] > 0


def test_district_quotas_filled(demo: DemoData) -> None:
    assert demo.districts == DISTRICTS
    active = Counter(
        x.district for x in demo.liaisons if x.kind == "district" and x.end_date is None
    )
    assert active == {name: total for name, _existing, _new, total in DISTRICT_QUOTAS}
    parks = Counter(p.district for p in demo.parks)
    assert set(parks) == set(DISTRICTS)
    assert all(2 <= n <= 5 for n in parks.values())


def test_keys_and_names_unique(demo: DemoData) -> None:
    for collection in (
        demo.institutions,
        demo.parks,
        demo.liaisons,
        demo.experts,
        demo.enterprises,
        demo.demands,
        demo.investors,
        demo.trainings,
        demo.cases,
        demo.assessments,
    ):
        keys = [x.key for x in collection]
        assert len(keys) == len(set(keys))
    people = _people(demo, "name", "contact_name")
    assert len(people) == len(set(people))
    assert not set(people) & FAMOUS_NAMES
    for names in (
        [p.name for p in demo.parks],
        [e.name for e in demo.enterprises],
        [e.credit_code for e in demo.enterprises],
        _phones(demo),
    ):
        assert len(names) == len(set(names))


def test_references_resolve(demo: DemoData) -> None:
    parks = {p.key: p for p in demo.parks}
    firms = {e.key: e for e in demo.enterprises}
    people = {x.key: x for x in demo.liaisons}
    experts = {e.key for e in demo.experts}
    institutions = {i.key for i in demo.institutions}
    for liaison in demo.liaisons:
        if liaison.kind == "campus":
            assert liaison.institution_key in institutions and liaison.district is None
            continue
        assert liaison.park_keys and liaison.enterprise_keys
        assert all(parks[k].district == liaison.district for k in liaison.park_keys)
        assert all(
            firms[k].district == liaison.district and firms[k].is_key
            for k in liaison.enterprise_keys
        )
    assert Counter(x.institution_key for x in demo.liaisons if x.kind == "campus") == dict.fromkeys(
        institutions, 1
    )
    for old in (x for x in demo.liaisons if x.end_date is not None):
        new = people[old.replaced_by_key or ""]
        assert new.replaces_key == old.key and old.end_reason
        assert new.start_date > old.end_date
        # last year's replacements are filed; this year's may still wait for the filing
        assert new.filing_date is not None or old.end_date.year == DAY.year
    for firm in demo.enterprises:
        assert firm.park_key is None or parks[firm.park_key].district == firm.district
    for demand in demo.demands:
        liaison = people[demand.liaison_key]
        assert liaison.kind == "district"
        assert liaison.district == firms[demand.enterprise_key].district == demand.district
    for case in demo.cases:
        assert case.expert_key in experts and case.demand_key.startswith("R")


def test_credit_codes_pass_check_digit(demo: DemoData) -> None:
    for firm in demo.enterprises:
        code = firm.credit_code
        assert is_valid_credit_code(code), code
        assert code[:2] == "91" and code[2:6] == "4201"
        # the organisation-code part carries its own GB 11714 check character
        assert org_code_check_char(code[8:16]) == code[16]
        # recompute with the weights as the standard defines them: 3^(i) mod 31
        total = sum(CREDIT_CODE_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
        assert CREDIT_CODE_CHARS[(31 - total % 31) % 31] == code[17]


def test_credit_code_algorithm_on_known_codes() -> None:
    # a published code of a real company, and a one-character change of it
    assert credit_code_check_char("91110108551385082") == "Q"
    assert is_valid_credit_code("91110108551385082Q")
    assert not is_valid_credit_code("91110108551385083Q")
    assert not is_valid_credit_code("9111010855138508IQ")  # I is not in the alphabet
    assert org_code_check_char("55138508") == "2"


def _people(demo: DemoData, own: str, contact: str) -> list[str]:
    """Return a field of every person: liaisons' and experts' `own`, firms' and funds' `contact`."""
    return ([getattr(x, own) for x in (*demo.liaisons, *demo.experts)]
            + [getattr(x, contact) for x in (*demo.enterprises, *demo.investors)])


def test_only_fictional_contact_data(demo: DemoData) -> None:
    for phone in _phones(demo):
        assert is_fictional_phone(phone), phone
    assert not is_fictional_phone("13812345678")
    emails = _people(demo, "email", "contact_email")
    assert len(emails) == len(set(emails))
    assert all(re.fullmatch(r"[a-z0-9]+@example\.(cn|com)", e) for e in emails)
    # every phone-like digit run anywhere in the records is a fictional number
    for record in (*demo.liaisons, *demo.experts, *demo.enterprises, *demo.demands, *demo.cases):
        for value in dataclasses.astuple(record):
            if isinstance(value, str):
                for run in re.findall(r"1[3-9]\d{9}", value):
                    assert is_fictional_phone(run), run


def test_each_expert_is_coherent(demo: DemoData) -> None:
    areas = {a.name: a for a in load_sub_areas()}
    institutions = {i.key: i.name for i in demo.institutions}
    for expert in demo.experts:
        assert 2 <= len(expert.items) <= 8
        assert 2 <= len(expert.research_fields) <= 4
        assert expert.technical_field in TECHNICAL_FIELDS
        assert institutions[expert.institution_key] == expert.institution
        terms = {t for name in expert.sub_areas for t in areas[name].terms}
        assert all(
            areas[name].technical_field == expert.technical_field for name in expert.sub_areas
        )
        for item in expert.items:
            assert item.kind in ITEM_KINDS and 2012 <= item.year <= 2025
            assert any(t in item.title + item.text for t in terms), item
        assert all(any(t in f for t in terms) for f in expert.research_fields)


def test_demands_well_formed(demo: DemoData) -> None:
    areas = {a.name: a for a in load_sub_areas()}
    for demand in demo.demands:
        assert demand.industry_code in INDUSTRIES
        assert demand.technical_field == areas[demand.sub_area].technical_field
        assert 1 <= len(demand.keywords) <= 5
        assert demand.status in DEMAND_STATUSES
        assert (demand.status == "returned") == (demand.return_reason is not None)
        assert (demand.status == "closed") == (demand.close_reason is not None)
        assert demand.published_at is None or demand.publishable
        if demand.status == "published":
            assert demand.publishable and demand.published_at is not None
        assert demand.deadline > demand.created_at.date()
        assert DAY.year - 2 <= demand.created_at.year <= DAY.year
        assert demand.created_at.date() < DAY
        for moment in (demand.submitted_at, demand.published_at, demand.closed_at):
            assert moment is None or demand.created_at <= moment and moment.date() < DAY
        if demand.is_vague:
            assert demand.investment is None and demand.basis is None
            assert not QUANTITY.search(demand.text), demand.text
        else:
            for heading in ("需求内容", "预期目标", "现有工作基础"):
                assert heading in demand.text
            assert re.search(r"\d", re.sub(r"\d\. ", "", demand.goals)), demand.goals
    years = Counter(d.published_at.year for d in demo.demands if d.published_at)
    assert years[DAY.year] > 100 and years[DAY.year - 1] > 100


@pytest.mark.parametrize("day", [date(2026, 3, 10), date(2026, 12, 1), date(2027, 1, 5)])
def test_dated_around_any_day(day: date) -> None:
    data = build_demo(today=day, n_experts=50)
    last_year = date(day.year - 1, 1, 1)
    for t in data.trainings:
        assert last_year <= t.held_on < day and t.title.startswith(t.district + str(t.held_on.year))
    for a in data.assessments:
        assert a.assessed_on < day and a.year in (day.year, day.year - 1)
    assert {c.year for c in data.cases} <= {day.year, day.year - 1}
    assert all(x.start_date < day for x in data.liaisons)
    people = {x.key: x for x in data.liaisons}
    assert data.visits
    for v in data.visits:
        li = people[v.liaison_key]
        assert last_year <= v.visited_on < day and li.start_date <= v.visited_on
        assert (v.park_key in li.park_keys) or (v.enterprise_key in li.enterprise_keys)


def test_demand_topics_have_experts(demo: DemoData) -> None:
    experts = Counter(name for e in demo.experts for name in e.sub_areas)
    assert all(experts[d.sub_area] >= 5 for d in demo.demands)
    battery = [e for e in demo.experts if "锂离子电池与电池管理" in e.sub_areas]
    assert len(battery) >= 10
    assert any(
        "电池热管理" in e.research_fields or any("电池热管理" in i.text for i in e.items)
        for e in battery
    )


def test_investors_and_programme_records(demo: DemoData) -> None:
    for investor in demo.investors:
        assert 0 < investor.ticket_min < investor.ticket_max
        assert investor.stages and set(investor.industry_codes) <= set(INDUSTRIES)
    for year in (DAY.year, DAY.year - 1):
        trained = {t.district for t in demo.trainings if t.held_on.year == year}
        assert trained < set(DISTRICTS), year  # some districts hold none, for the dashboard
    assert all(t.liaison_keys for t in demo.trainings)
    people = {x.key: x for x in demo.liaisons}
    for assessment in demo.assessments:
        # one full year of service before the assessed year
        assert people[assessment.liaison_key].start_date < date(assessment.year, 1, 2)
        assert assessment.grade in ("优秀", "良好", "合格", "不合格")
