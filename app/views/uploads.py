"""导入: upload .xlsx/.csv for experts, demands, enterprises, the roster and the registries
(parks/incubators, venture-capital firms, universities/institutes), scoped by role.

The import service (app/services/imports/) is not scoped: this page decides which kinds a role
may import and refuses rows outside the user's institution or district with a row-level report
before anything is written. Small files are imported in the request; big ones (more than
``IMPORT_INLINE_ROWS`` rows) as a queued job (app/job_queue.py) whose :class:`BackgroundJob` row
(progress, message and the full row report) the page polls with htmx every second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import BackgroundJob, District, Enterprise, Institution

from ..auth.decorators import login_required
from ..db import get_session
from ..errors import Forbidden, ImportFailed, NotFound
from ..policy.roles import Role
from ..services import imports as svc
from ..services import tabular
from .downloads import xlsx_response

log = logging.getLogger(__name__)
bp = Blueprint("imports", __name__, url_prefix="/imports")

#: Files with more data rows than this run in a background job (if BACKGROUND_JOBS is on).
IMPORT_INLINE_ROWS = 2000
#: Rows listed on the failure report page (the rest are counted).
REPORT_LIMIT = 500

KIND_TITLES = {"experts": "专家导入", "demands": "需求导入", "enterprises": "企业导入",
               "roster": "联络员名册导入", "parks": "园区/孵化器导入", "investors": "创投机构导入",
               "institutions": "高校院所导入"}
#: The registry list page an import belongs to (its breadcrumb and the way back).
KIND_LISTS = {"enterprises": ("企业库", "registries.enterprises"),
              "parks": ("园区/孵化器", "registries.parks"),
              "investors": ("创投机构", "registries.investors"),
              "institutions": ("高校院所", "registries.institutions")}
#: Which kinds each role may import (scope inside the kind is checked row by row). As in the
#: registries' writers (app/services/registry_writer.py): a district keeps its own enterprises and
#: parks; the city alone keeps the venture-capital firms and the universities/institutes.
ROLE_KINDS: dict[str, tuple[str, ...]] = {
    Role.CITY_ADMIN: ("experts", "demands", "enterprises", "roster", "parks", "investors",
                      "institutions"),
    Role.DISTRICT_ADMIN: ("demands", "enterprises", "roster", "parks"),
    Role.CAMPUS_LIAISON: ("experts",),
}
#: Kinds whose rows name their district in a 所属区 column.
DISTRICT_KINDS = ("enterprises", "roster", "parks")


def allowed_kinds(user: Any) -> tuple[str, ...]:
    """Return the import kinds a user may use."""
    return ROLE_KINDS.get(getattr(user, "role", None) or "", ())


def _check_kind(kind: str) -> None:
    if kind not in svc.COLUMNS:
        raise NotFound("不支持的导入类型。")
    if kind not in allowed_kinds(current_user):
        raise Forbidden("您的角色无权导入该类数据。")


# --- scope -------------------------------------------------------------------------------------
@dataclass
class Scope:
    """What a user's import may touch: an institution (campus) or a district (district admin)."""

    institution: str | None = None
    district: str | None = None
    district_id: int | None = None


def _scope(session: Session, user: Any) -> Scope:
    role = getattr(user, "role", None)
    if role == Role.CAMPUS_LIAISON:
        inst = session.get(Institution, user.institution_id) if user.institution_id else None
        if inst is None:
            raise Forbidden("您的账号未关联所驻高校院所，不能导入专家。")
        return Scope(institution=inst.name)
    if role == Role.DISTRICT_ADMIN:
        district = session.get(District, user.district_id) if user.district_id else None
        if district is None:
            raise Forbidden("您的账号未关联所属区，不能导入。")
        return Scope(district=district.name, district_id=district.id)
    return Scope()


def _norm(value: Any) -> str:
    return tabular.clean_text(value).strip().lower()


def _tables(kind: str, filename: str, data: bytes) -> list[tuple[str | None, tabular.Table]]:
    """Read the main sheet (and the experts' 成果 sheet); [] when the file cannot be read."""
    try:
        sheets = tabular.read_workbook(filename, data)
    except tabular.TableError:
        return []  # import_file reports the same problem in its own words
    title = svc.SHEET_TITLES[kind]
    name = title if title in sheets else next(
        (n for n in sheets if n not in (svc.ITEM_SHEET, svc.NOTES_SHEET)), None)
    out: list[tuple[str | None, tabular.Table]] = []
    if name is not None:
        table, _errors = tabular.to_table(name, sheets[name], svc.COLUMNS[kind])
        if table is not None:
            out.append((None, table))
    if kind == "experts" and svc.ITEM_SHEET in sheets:
        items, _errors = tabular.to_table(svc.ITEM_SHEET, sheets[svc.ITEM_SHEET], svc.ITEM_COLUMNS)
        if items is not None:
            out.append((svc.ITEM_SHEET, items))
    return out


def scope_problems(session: Session, user: Any, kind: str,
                   tables: list[tuple[str | None, tabular.Table]]) -> list[dict]:
    """Return one problem per row that lies outside the user's institution or district."""
    scope = _scope(session, user)
    problems: list[dict] = []

    def add(row: int, column: str, message: str, sheet: str | None) -> None:
        entry = {"row": row, "column": f"{sheet}表/{column}" if sheet else column,
                 "message": message}
        if sheet:
            entry["sheet"] = sheet
        problems.append(entry)

    if scope.institution is not None:
        mine = _norm(scope.institution)
        for sheet, table in tables:
            for row in table.rows:
                value = row.values.get("所在单位")
                if value is not None and _norm(value) and _norm(value) != mine:
                    add(row.number, "所在单位",
                        f"只能导入本单位（{scope.institution}）的专家，"
                        f"'{tabular.clean_text(value)}' 不是本单位", sheet)
    elif scope.district is not None:
        mine = _norm(scope.district)
        for sheet, table in tables:
            for row in table.rows:
                if kind in DISTRICT_KINDS:
                    value = row.values.get("所属区")
                    if value is not None and _norm(value) and _norm(value) != mine:
                        add(row.number, "所属区",
                            f"只能导入本区（{scope.district}）的数据，"
                            f"'{tabular.clean_text(value)}' 不是本区", sheet)
                elif kind == "demands":
                    name = tabular.clean_text(row.values.get("企业名称"))
                    if not name:
                        continue
                    ent = session.scalar(select(Enterprise).where(Enterprise.name == name))
                    if ent is not None and ent.district_id != scope.district_id:
                        add(row.number, "企业名称",
                            f"企业'{name}'不在本区（{scope.district}），不能导入其需求", sheet)
    problems.sort(key=lambda e: (e.get("sheet", ""), e["row"]))
    return problems


def _row_count(tables: list[tuple[str | None, tabular.Table]]) -> int:
    return sum(len(t.rows) for sheet, t in tables if sheet is None)


# --- the page ----------------------------------------------------------------------------------
def _render(kind: str, *, status: int = 200, **context: Any):
    errors = context.get("errors") or []
    back = KIND_LISTS.get(kind)
    return render_template(
        "imports/upload.html", kind=kind, title=KIND_TITLES[kind],
        back=(back[0], url_for(back[1])) if back else None,
        columns=[c for c in svc.COLUMNS[kind] if c.key != "items"],
        item_columns=svc.ITEM_COLUMNS if kind == "experts" else (),
        kinds=[(k, KIND_TITLES[k]) for k in allowed_kinds(current_user)],
        action=_action_url(kind), shown_errors=errors[:REPORT_LIMIT],
        hidden_errors=max(0, len(errors) - REPORT_LIMIT), **context,
    ), status


def _action_url(kind: str) -> str:
    return url_for("experts.import_page") if kind == "experts" else url_for(
        "imports.upload", kind=kind)


def handle_upload(kind: str):
    """Show the upload form (GET) or import the uploaded file (POST); used by both URLs."""
    _check_kind(kind)
    session = get_session()
    if request.method == "GET":
        return _render(kind)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(kind, status=422, form_error="请选择要导入的 .xlsx 或 .csv 文件。")
    filename = upload.filename
    data = upload.read()
    tables = _tables(kind, filename, data)
    problems = scope_problems(session, current_user, kind, tables)
    if problems:
        return _render(kind, status=422, filename=filename, errors=problems,
                       message=f"导入失败：文件中有 {len(problems)} 行超出您的管理范围，"
                               "未写入任何数据。")
    rows = _row_count(tables)
    if rows > IMPORT_INLINE_ROWS and current_app.config.get("BACKGROUND_JOBS", True):
        job = start_job(current_user, kind, filename, data, rows, request.remote_addr)
        return _render(kind, status=202, filename=filename, job=job)
    try:
        result = svc.import_file(session, kind, filename, data)
    except ImportFailed as exc:  # the 422 rolls the request back: nothing half-written
        return _render(kind, status=422, filename=filename, errors=exc.errors,
                       message=exc.message)
    svc.record_run(session, current_user, result, filename)
    return _render(kind, filename=filename, result=result)


@bp.route("/<kind>", methods=["GET", "POST"])
@login_required
def upload(kind: str):
    """Import demands, enterprises, the roster (or experts) from an uploaded file."""
    return handle_upload(kind)


@bp.get("/<kind>/template.xlsx")
@login_required
def template_xlsx(kind: str):
    """Download the empty import template of a kind (headers, notes sheet)."""
    _check_kind(kind)
    label = svc.KIND_LABELS[kind].replace("/", "")  # no slash in a file name
    return xlsx_response(svc.template_xlsx(kind), f"{label}导入模板.xlsx")


@bp.get("/jobs/<int:job_id>")
@login_required
def job_status(job_id: int):
    """Return the progress fragment of a background import (polled by htmx every second)."""
    session = get_session()
    job = session.get(BackgroundJob, job_id)
    if job is None or not job.kind.startswith("import:"):
        abort(404)
    owner = job.kind.split(":")[-1]
    if owner != str(current_user.id) and current_user.role != Role.CITY_ADMIN:
        abort(404)
    from ..services.job_rows import reap_stale

    if reap_stale(session, job_id=job.id):  # its consumer died: say so instead of "running"
        session.refresh(job)
    errors = list((job.report or {}).get("errors", ()))
    return render_template("imports/_job.html", job=job, shown_errors=errors[:REPORT_LIMIT],
                           hidden_errors=max(0, len(errors) - REPORT_LIMIT))


# --- background jobs ---------------------------------------------------------------------------
def start_job(user: Any, kind: str, filename: str, data: bytes, rows: int,
              ip: str | None) -> BackgroundJob:
    """Queue the import as a background job (the file travels with the queued task)."""
    from ..job_queue import enqueue

    return enqueue("import", kind=f"import:{kind}:{user.id}", total=rows,
                   message=f"正在导入 {filename[:200]}", payload=data,
                   user_id=user.id, filename=filename, ip=ip, import_kind=kind)
