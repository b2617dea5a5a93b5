"""专家库 pages: permission matrix, masking and the audited reveal, filters, export, edit."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.services.indexing import EXPERTS, current_version
from models import AuditEvent, BackgroundJob, Expert, Institution, Match, User
from tests.views.test_match_views import USERS, World, build_world, login


@pytest.fixture
def world(session) -> World:
    return build_world(session)


ENDPOINTS = ("index", "detail", "edit", "new", "import")
MATRIX = {
    #              index detail edit new import
    "city":        (200, 200, 200, 200, 200),
    "dhadmin":     (200, 200, 403, 403, 403),
    "dhliaison":   (200, 200, 403, 403, 403),
    "hsadmin":     (200, 200, 403, 403, 403),
    "hsliaison":   (200, 200, 403, 403, 403),
    "whuliaison":  (200, 200, 200, 200, 200),
    "hustliaison": (200, 200, 403, 200, 200),  # edit: another institution's expert
}


def _paths(w: World) -> dict[str, str]:
    return {"index": "/experts", "detail": f"/experts/{w.whu_expert}",
            "edit": f"/experts/{w.whu_expert}/edit", "new": "/experts/new",
            "import": "/experts/import"}


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_permission_matrix(client, world, username, endpoint):
    login(client, username)
    resp = client.get(_paths(world)[endpoint])
    assert resp.status_code == MATRIX[username][ENDPOINTS.index(endpoint)]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_goes_to_login(client, world, endpoint):
    resp = client.get(_paths(world)[endpoint])
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_unknown_expert_is_404(client, world):
    login(client, "city")
    assert client.get("/experts/999999").status_code == 404


@pytest.mark.parametrize("username,full", [
    ("city", True), ("whuliaison", True), ("hustliaison", False), ("dhliaison", False),
    ("hsadmin", False),
])
def test_contact_is_masked_unless_the_role_may_see_it(client, world, username, full):
    login(client, username)
    text = client.get(f"/experts/{world.whu_expert}").get_data(as_text=True)
    assert ("13812345678" in text) is full
    assert ("138****5678" in text) is not full
    assert ("lituceng@whu.edu.cn" in text) is full


def test_reveal_is_for_the_district_with_an_accepted_match_and_is_audited(client, world,
                                                                          session):
    login(client, "dhliaison")
    url = f"/experts/{world.whu_expert}"
    assert "查看完整联系方式" not in client.get(url).get_data(as_text=True)
    assert client.post(f"{url}/reveal").status_code == 403  # match still proposed
    session.get(Match, world.dh_whu).status = "accepted"
    session.commit()
    assert "查看完整联系方式" in client.get(url).get_data(as_text=True)
    resp = client.post(f"{url}/reveal")
    assert resp.status_code == 200
    assert "13812345678" in resp.get_data(as_text=True)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "view_contact",
                                                     AuditEvent.entity == "expert")).one()
    assert event.entity_id == world.whu_expert and "陈思远" in event.actor
    client.post("/logout")
    login(client, "hsliaison")  # 洪山 has no match with this expert
    assert client.post(f"{url}/reveal").status_code == 403


def test_detail_lists_only_the_matches_the_viewer_may_see(client, world):
    login(client, "hsliaison")
    text = client.get(f"/experts/{world.hust_expert}").get_data(as_text=True)
    assert "储能电池循环寿命提升" in text  # 洪山's own demand
    assert "轧辊表面耐磨涂层寿命提升" not in text  # 东湖's demand, counted only
    assert "另有 1 条对接" in text


def test_search_and_filters(client, world, session):
    login(client, "dhliaison")
    assert "李涂层" in client.get("/experts?q=激光熔覆").get_data(as_text=True)
    text = client.get("/experts?q=激光熔覆").get_data(as_text=True)
    assert "张电池" not in text and "共 1 条" in text
    hust = session.scalar(select(Institution).where(Institution.name == "华中科技大学"))
    text = client.get(f"/experts?institution={hust.id}").get_data(as_text=True)
    assert "张电池" in text and "李涂层" not in text
    text = client.get("/experts?academician=1").get_data(as_text=True)
    assert "张电池" in text and "李涂层" not in text
    assert client.get("/experts?sort=-matches&page=junk").status_code == 200


def _sheet(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


@pytest.mark.parametrize("username,contact_col,whu_phone,hust_phone", [
    ("city", True, "13812345678", "13987654321"),
    ("whuliaison", True, "13812345678", "139****4321"),
    ("dhliaison", False, None, None),
])
def test_export_contact_columns_follow_the_role(client, world, username, contact_col,
                                                whu_phone, hust_phone):
    login(client, username)
    resp = client.get("/experts?export=xlsx&sort=name")
    assert resp.status_code == 200
    rows = _sheet(resp.data)
    assert ("联系电话" in rows[0]) is contact_col
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"李涂层", "张电池"}
    assert by_name["张电池"][5] == "是"  # academician column
    if contact_col:
        col = rows[0].index("联系电话")
        assert by_name["李涂层"][col] == whu_phone and by_name["张电池"][col] == hust_phone
    else:
        assert not any("138" in str(c) for r in rows for c in r)


@pytest.mark.parametrize("username", ["city", "whuliaison", "dhliaison"])
def test_a_big_export_is_a_job_whose_file_is_the_same_workbook(app, client, world, session,
                                                                monkeypatch, username):
    from app.services import expert_export

    login(client, username)
    inline = _sheet(client.get("/experts?export=xlsx&sort=name").data)
    app.config["BACKGROUND_JOBS"] = True
    monkeypatch.setattr(expert_export, "INLINE_ROWS", 1)
    resp = client.get("/experts?export=xlsx&sort=name")
    assert resp.status_code == 202
    text = resp.get_data(as_text=True)
    assert "正在导出" in text and "0 / 2 位专家" in text and 'hx-trigger="every 1s"' in text
    job = session.scalars(select(BackgroundJob)).one()
    owner = session.scalar(select(User.id).where(User.username == username))
    assert job.kind == f"export:experts:{owner}"
    fragment = client.get(f"/experts/exports/{job.id}").get_data(as_text=True)
    assert "共 2 位专家" in fragment and "hx-trigger" not in fragment
    download = client.get(f"/experts/exports/{job.id}/download")
    assert download.status_code == 200
    assert _sheet(download.data) == inline  # the privacy tiers of the inline export, exactly
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                                       AuditEvent.entity == "expert")).all()
    assert [e.detail["rows"] for e in exports] == [2, 2]
    client.post("/logout")
    login(client, "hustliaison")  # someone else's export: no status, no file
    assert client.get(f"/experts/exports/{job.id}").status_code == 404
    assert client.get(f"/experts/exports/{job.id}/download").status_code == 404


def test_export_keeps_the_filter(client, world):
    login(client, "city")
    rows = _sheet(client.get("/experts?q=锂电池&export=xlsx").data)
    assert [r[0] for r in rows[1:]] == []  # items are not searched, fields and names are
    rows = _sheet(client.get("/experts?q=电化学&export=xlsx").data)
    assert [r[0] for r in rows[1:]] == ["张电池"]


# --- edit -------------------------------------------------------------------------------------
def _form(**changes) -> dict:
    data = {"name": "李涂层", "title": "教授", "research_fields": "表面工程；激光熔覆",
            "summary": "", "team": "", "tech_field_id": "", "phone": "13812345678",
            "email": "lituceng@whu.edu.cn", "item_kind": ["project", "patent"],
            "item_title": ["激光熔覆耐磨涂层制备", "一种轧辊涂层的修复方法"],
            "item_year": ["2021", "2023"], "item_text": ["高速激光熔覆", ""], "op": "save"}
    data.update(changes)
    return data


def test_edit_shows_errors_next_to_fields_and_keeps_input(client, world, session):
    login(client, "whuliaison")
    version = current_version(session, EXPERTS)
    resp = client.post(f"/experts/{world.whu_expert}/edit",
                       data=_form(name="", phone="abc", item_year=["2021", "19"]))
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "请填写专家姓名" in text and "联系电话格式不正确" in text and "年份应为" in text
    assert 'value="一种轧辊涂层的修复方法"' in text and 'value="abc"' in text
    session.expire_all()
    assert session.get(Expert, world.whu_expert).name == "李涂层"
    assert current_version(session, EXPERTS) == version


def test_edit_saves_items_refreshes_tokens_and_bumps_the_version(client, world, session):
    login(client, "whuliaison")
    version = current_version(session, EXPERTS)
    resp = client.post(f"/experts/{world.whu_expert}/edit",
                       data=_form(research_fields="表面工程；等离子喷涂"))
    assert resp.status_code == 302
    session.expire_all()
    expert = session.get(Expert, world.whu_expert)
    assert [(i.kind, i.title, i.year) for i in expert.items] == [
        ("project", "激光熔覆耐磨涂层制备", 2021), ("patent", "一种轧辊涂层的修复方法", 2023)]
    assert "喷涂" in expert.tokens and all(i.tokens for i in expert.items)
    assert current_version(session, EXPERTS) == version + 1
    assert session.scalars(select(AuditEvent).where(AuditEvent.entity == "expert",
                                                    AuditEvent.action == "expert.update")).one()


def test_add_and_remove_item_rows(client, world, session):
    login(client, "whuliaison")
    url = f"/experts/{world.whu_expert}/edit"
    text = client.post(url, data=_form(op="add_item")).get_data(as_text=True)
    assert text.count('name="item_title"') == 3
    # a freshly added row left empty is ignored on save, whatever its type select says
    data = _form()
    data.update({k: [*v, extra] for (k, v), extra in zip(
        ((k, data[k]) for k in ("item_kind", "item_title", "item_year", "item_text")),
        ("project", "", "", ""), strict=True)})
    resp = client.post(url, data=data)
    assert resp.status_code == 302
    session.expire_all()
    assert len(session.get(Expert, world.whu_expert).items) == 2
    text = client.post(url, data=_form(op="remove_item-0")).get_data(as_text=True)
    assert text.count('name="item_title"') == 1 and "激光熔覆耐磨涂层制备" not in text
    session.expire_all()
    assert len(session.get(Expert, world.whu_expert).items) == 2  # removing a row is not a save


def test_duplicate_name_in_the_institution_is_refused(client, world, session):
    login(client, "whuliaison")
    resp = client.post("/experts/new", data=_form())
    assert resp.status_code == 422 and "本单位已有同名专家" in resp.get_data(as_text=True)


def test_campus_liaison_creates_experts_only_in_their_institution(client, world, session):
    login(client, "whuliaison")
    hust = session.scalar(select(Institution).where(Institution.name == "华中科技大学"))
    resp = client.post("/experts/new", data=_form(name="王新人", institution_id=str(hust.id)))
    assert resp.status_code == 302
    created = session.scalar(select(Expert).where(Expert.name == "王新人"))
    assert created.institution.name == "武汉大学"
    client.post("/logout")
    login(client, "hustliaison")
    assert client.post(f"/experts/{created.id}/edit", data=_form(name="改名")).status_code == 403


def test_list_total_is_cached_until_the_experts_version_moves(client, world, session):
    """The expert list's total is counted once per data version and filter (listing.COUNTS)."""
    from app.services.listing import COUNTS
    from tests import factories

    login(client, "city")
    n = len(session.scalars(select(Expert.id)).all())
    assert f"共 {n} 条" in client.get("/experts").get_data(as_text=True)
    hits = COUNTS.hits
    # a row written behind the version's back: the second request is served the cached total
    session.add(Expert(name="未登记版本的专家", institution_id=world_institution(session),
                       is_academician=False))
    session.commit()
    assert f"共 {n} 条" in client.get("/experts").get_data(as_text=True)
    assert COUNTS.hits == hits + 1
    # another filter is another count
    assert "共 1 条" in client.get("/experts?q=未登记版本").get_data(as_text=True)
    # a write that bumps the experts version: the total is counted again, both new rows in it
    factories.expert(session, "新登记的专家", ["高熵合金 增材制造"], inst="武汉大学")
    session.commit()
    assert f"共 {n + 2} 条" in client.get("/experts").get_data(as_text=True)
    assert current_version(session, EXPERTS) > 0


def world_institution(session) -> int:
    """Return the id of 武汉大学 (an institution of the world)."""
    return session.scalar(select(Institution.id).where(Institution.name == "武汉大学"))
