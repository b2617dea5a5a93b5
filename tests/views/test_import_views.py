"""Import pages: who may import what, row-level failure report with nothing written, summary,
templates, and the background job for big files."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.views import uploads as import_views
from models import AuditEvent, BackgroundJob, Enterprise, Expert
from tests.views.test_match_views import USERS, World, build_world, login


@pytest.fixture
def world(session) -> World:
    return build_world(session)


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


EXPERT_HEADER = ["姓名", "所在单位", "研究方向", "是否院士"]


def _upload(client, url: str, data: bytes, filename: str = "专家.csv"):
    return client.post(url, data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


KINDS = ("experts", "demands", "enterprises", "roster", "parks", "investors", "institutions")
ALLOWED = {
    "city": set(KINDS),
    "dhadmin": {"demands", "enterprises", "roster", "parks"},
    "hsadmin": {"demands", "enterprises", "roster", "parks"},
    "dhliaison": set(),
    "hsliaison": set(),
    "whuliaison": {"experts"},
    "hustliaison": {"experts"},
}


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("kind", KINDS)
def test_who_may_import_what(client, world, username, kind):
    login(client, username)
    expected = 200 if kind in ALLOWED[username] else 403
    assert client.get(f"/imports/{kind}").status_code == expected
    assert client.get(f"/imports/{kind}/template.xlsx").status_code == expected


@pytest.mark.parametrize("path", ["/imports/experts", "/imports/demands/template.xlsx",
                                  "/experts/import"])
def test_anonymous_goes_to_login(client, world, path):
    resp = client.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_unknown_kind_is_404(client, world):
    login(client, "city")
    assert client.get("/imports/planets").status_code == 404


def test_template_has_the_columns(client, world):
    login(client, "whuliaison")
    resp = client.get("/imports/experts/template.xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames[:2] == ["专家", "成果"]
    header = [c.value for c in wb["专家"][1]]
    assert header[:2] == ["姓名", "所在单位"]


def _refused_expert_import(client, session, rows: list[list[str]]) -> str:
    """Upload experts as 武汉大学's liaison; assert the 422 and that no expert was written."""
    login(client, "whuliaison")
    before = _count(session, Expert)
    resp = _upload(client, "/experts/import", _csv([EXPERT_HEADER, *rows]))
    assert resp.status_code == 422
    assert _count(session, Expert) == before
    return resp.get_data(as_text=True)


def test_campus_liaison_cannot_import_other_institutions(client, world, session):
    text = _refused_expert_import(client, session, [["新专家甲", "武汉大学", "机器人", "否"],
                                                    ["新专家乙", "华中科技大学", "储能", "否"]])
    assert "第 3 行" in text and "所在单位" in text and "只能导入本单位（武汉大学）的专家" in text
    assert "第 2 行" not in text


def test_bad_cells_are_reported_by_row_and_nothing_is_written(client, world, session):
    text = _refused_expert_import(client, session, [["新专家甲", "武汉大学", "机器人", "也许"],
                                                    ["", "武汉大学", "储能", "否"]])
    assert "未写入任何数据" in text
    assert "第 2 行" in text and "是否院士" in text and "第 3 行" in text and "不能为空" in text


def test_successful_import_shows_the_summary_and_is_audited(client, world, session):
    login(client, "whuliaison")
    data = _csv([EXPERT_HEADER, ["新专家甲", "武汉大学", "机器人；机械臂", "否"],
                 ["李涂层", "武汉大学", "表面工程；激光熔覆", "否"]])
    resp = _upload(client, "/experts/import", data)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "专家导入完成：共 2 行，新增 1 条" in text
    session.expire_all()
    new = session.scalar(select(Expert).where(Expert.name == "新专家甲"))
    assert new.institution.name == "武汉大学" and new.tokens
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "expert.import")).one()
    assert event.entity == "expert" and event.detail["after"]["新增"] == 1
    assert event.detail["after"]["文件"] == "专家.csv" and "whuliaison" in event.actor


def test_missing_file_is_an_error_next_to_the_field(client, world):
    login(client, "city")
    resp = client.post("/imports/enterprises", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "请选择要导入的" in resp.get_data(as_text=True)


def test_district_admin_imports_only_their_district(client, world, session):
    login(client, "dhadmin")
    header = ["企业名称", "所属区", "联系人"]
    before = _count(session, Enterprise)
    bad = _csv([header, ["武汉光谷新材料有限公司", "东湖高新区", "王"],
                ["武汉洪山芯片有限公司", "洪山区", "李"]])
    resp = _upload(client, "/imports/enterprises", bad, "企业.csv")
    assert resp.status_code == 422
    assert "只能导入本区（东湖高新区）的数据" in resp.get_data(as_text=True)
    assert _count(session, Enterprise) == before
    good = _csv([header, ["武汉光谷新材料有限公司", "东湖高新区", "王"]])
    resp = _upload(client, "/imports/enterprises", good, "企业.csv")
    assert resp.status_code == 200 and "企业导入完成" in resp.get_data(as_text=True)
    assert _count(session, Enterprise) == before + 1


def test_district_admin_cannot_import_demands_of_another_districts_enterprise(client, world,
                                                                             session):
    login(client, "dhadmin")
    other = session.scalar(select(Enterprise).where(Enterprise.name.like("%洪山区%")))
    data = _csv([["需求编号", "企业名称", "需求名称", "关键词"],
                 ["XQ-T-1", other.name, "电池寿命", "电池"]])
    resp = _upload(client, "/imports/demands", data, "需求.csv")
    assert resp.status_code == 422
    assert "不在本区" in resp.get_data(as_text=True)


def test_big_files_run_as_a_background_job_with_progress(app, client, world, session,
                                                         monkeypatch):
    app.config["BACKGROUND_JOBS"] = True
    monkeypatch.setattr(import_views, "IMPORT_INLINE_ROWS", 2)
    login(client, "whuliaison")
    rows = [[f"批量专家{n}", "武汉大学", f"方向{n}", "否"] for n in range(5)]
    resp = _upload(client, "/experts/import", _csv([EXPERT_HEADER, *rows]))
    assert resp.status_code == 202
    text = resp.get_data(as_text=True)
    assert "正在导入" in text and 'hx-trigger="every 1s"' in text
    job = session.scalars(select(BackgroundJob)).one()
    for thread in threading.enumerate():
        if thread.name == f"import-{job.id}":
            thread.join(timeout=60)
    fragment = client.get(f"/imports/jobs/{job.id}").get_data(as_text=True)
    assert "专家导入完成：共 5 行，新增 5 条" in fragment and "hx-trigger" not in fragment
    session.expire_all()
    assert session.get(BackgroundJob, job.id).status == "done"
    assert _count(session, Expert) == 7
    run = session.scalars(select(AuditEvent).where(AuditEvent.action == "expert.import")).one()
    assert run.detail["after"]["后台任务"] == job.id and run.detail["after"]["新增"] == 5
    client.post("/logout")
    login(client, "hustliaison")  # someone else's job
    assert client.get(f"/imports/jobs/{job.id}").status_code == 404


def test_failed_background_job_reports_rows(app, client, world, session, monkeypatch):
    app.config["BACKGROUND_JOBS"] = True
    monkeypatch.setattr(import_views, "IMPORT_INLINE_ROWS", 1)
    login(client, "city")
    rows = [["甲", "武汉大学", "方向", "否"], ["乙", "火星大学", "方向", "否"]]
    resp = _upload(client, "/experts/import", _csv([EXPERT_HEADER, *rows]))
    assert resp.status_code == 202
    job = session.scalars(select(BackgroundJob)).one()
    for thread in threading.enumerate():
        if thread.name == f"import-{job.id}":
            thread.join(timeout=60)
    fragment = client.get(f"/imports/jobs/{job.id}").get_data(as_text=True)
    assert "第 3 行" in fragment and "火星大学" in fragment
    assert session.scalar(select(Expert).where(Expert.name == "甲")) is None


# --- the registries' imports (parks, investors, institutions) ---------------------------------
@pytest.mark.parametrize("username, kinds", [
    ("city", {"parks", "investors", "institutions"}), ("dhadmin", {"parks"})])
def test_registry_lists_have_an_import_button_beside_new_and_export(client, world, username,
                                                                     kinds):
    login(client, username)
    for kind in ("parks", "investors", "institutions"):
        toolbar = client.get(f"/{kind}").get_data(as_text=True).split('class="toolbar', 1)[1]
        toolbar = toolbar.split("</div>", 1)[0]
        assert ("导出" in toolbar) and (f'href="/imports/{kind}"' in toolbar) == (kind in kinds)
        assert ("新增" in toolbar) == (kind in kinds)


def test_district_admin_imports_parks_only_in_their_district(client, world, session):
    from models import Park

    login(client, "dhadmin")
    before = _count(session, Park)
    bad = _csv([["名称", "类型", "所属区"], ["光谷新园", "产业园区", "东湖高新区"],
                ["洪山新园", "产业园区", "洪山区"]])
    resp = _upload(client, "/imports/parks", bad, "园区.csv")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "第 3 行" in text and "只能导入本区（东湖高新区）" in text
    assert _count(session, Park) == before
    assert 'href="/parks"' in text  # the breadcrumb leads back to the list


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes
               ) -> tuple[bytes, str]:
    boundary = "----registry-import-test"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                 f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def test_park_import_through_real_http(app, world, session):
    """Over a real socket: a file with a bad row is refused with the row, column and value
    and writes nothing; the corrected file imports, re-importing updates nothing, and each
    run is one 操作日志 row."""
    import http.cookiejar
    import urllib.error
    import urllib.parse
    import urllib.request

    from werkzeug.serving import make_server

    from app.services import user_accounts
    from models import Park

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def upload(data: bytes) -> tuple[int, str]:
        body, boundary = _multipart({}, "file", "parks.csv", data)
        req = urllib.request.Request(f"{base}/imports/parks", data=body, method="POST",
                                     headers={"Content-Type":
                                              f"multipart/form-data; boundary={boundary}"})
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read().decode()

    try:
        login_form = urllib.parse.urlencode({"username": "city",
                                             "password": user_accounts.DEMO_PASSWORD}).encode()
        with opener.open(f"{base}/login", data=login_form, timeout=30) as resp:
            assert resp.status == 200 and resp.url.rstrip("/") == base
        before = _count(session, Park)
        head = ["名称", "类型", "所属区"]
        status, text = upload(_csv([head, ["汉阳造创意园", "产业园区", "汉阳区"],
                                    ["江北孵化器", "孵化器", "江北区"]]))
        assert status == 422 and "未写入任何数据" in text
        assert "第 3 行" in text and "所属区" in text and "系统中没有区&#39;江北区&#39;" in text
        assert _count(session, Park) == before
        good = _csv([head, ["汉阳造创意园", "产业园区", "汉阳区"], ["江岸孵化器", "", "江岸区"]])
        status, text = upload(good)
        assert status == 200 and "园区/孵化器导入完成：共 2 行，新增 2 条" in text
        status, text = upload(good)
        assert status == 200 and "新增 0 条，更新 0 条，未变 2 条" in text
        assert _count(session, Park) == before + 2
        runs = session.scalars(select(AuditEvent).where(AuditEvent.action == "park.import")
                               .order_by(AuditEvent.id)).all()
        assert [r.detail["after"]["新增"] for r in runs] == [2, 0]
        assert runs[0].entity == "park" and runs[0].detail["after"]["文件"] == "parks.csv"
        with opener.open(f"{base}/imports/parks/template.xlsx", timeout=30) as resp:
            header = [c.value for c in load_workbook(io.BytesIO(resp.read()))["园区孵化器"][1]]
        assert header == head
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
