"""统计分析: every rule of the notice per district and liaison, funnel, trends, drill-downs."""

from __future__ import annotations

from flask import render_template, request, url_for
from sqlalchemy.orm import Session

from models import District

from ...db import get_session
from ...errors import NotFound
from ...services import programme_exports, visit_log
from ...services.listing import rows_to_xlsx
from ...services.programme import dashboard_figures as programme_dashboard
from ...services.programme import rules
from ...services.programme.scoreboard import scoreboard
from ..downloads import xlsx_response
from .common import admins, all_districts, bp, int_arg, liaison_or_404, scope, year_arg, years


def drill_url(year: int, metric: str, **kw) -> str:
    """Return the URL of the rows behind one figure."""
    return url_for(".drill", year=year, metric=metric,
                   **{k: v for k, v in kw.items() if v is not None})


def _chart(session: Session, year: int, district_id: int | None, board) -> dict:
    fun = programme_dashboard.funnel(session, year, district_id=district_id)
    tr = programme_dashboard.trends(session, year, district_id=district_id)
    return {
        "funnel": [{"key": s.key, "name": s.label, "value": s.count, "amount": s.amount,
                    "url": drill_url(year, f"funnel_{s.key}", district=district_id)}
                   for s in fun],
        "trends": {"months": tr["months"], "series": [
            {"key": k, "name": label, "data": tr["series"][k],
             "url": drill_url(year, f"trend_{k}" if k != "amount" else "trend_signed",
                              district=district_id, month="__MONTH__")}
            for k, label in tr["labels"].items()]},
        "status": [{"name": rules.STATUS_LABELS[s], "key": s,
                    "value": sum(1 for d in board.districts if d.status == s)}
                   for s in (rules.MET, rules.ON_TRACK, rules.AT_RISK, rules.MISSED, rules.NA)],
    }, fun


@bp.get("/dashboard")
@admins
def dashboard():
    """Every rule of the notice per district and liaison; funnel; monthly trends."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    board = scoreboard(session, year, district_id=district_id)
    chart, fun = _chart(session, year, district_id, board)
    district = board.districts[0] if district_id is not None else None
    return render_template("programme/dashboard.html", board=board, funnel=fun, chart=chart,
                           year=year, years=years(session), district=district,
                           district_id=district_id, districts=all_districts(session),
                           programme_rules=rules, drill_url=drill_url,
                           coverage=visit_log.coverage(session, year, district_id=district_id))


@bp.get("/dashboard/drill")
@admins
def drill():
    """Show the rows behind a figure of the dashboard (and export them)."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    metric = request.args.get("metric", "")
    liaison_id = int_arg("liaison")
    if liaison_id is not None:
        liaison_or_404(session, liaison_id)
    table = programme_dashboard.drill(session, year, metric, district_id=district_id,
                                      liaison_id=liaison_id, month=int_arg("month"))
    if request.args.get("export") == "xlsx":
        return xlsx_response(rows_to_xlsx(table.headers, table.rows, "明细"),
                             f"{table.title}.xlsx")
    return render_template("programme/drill.html", table=table, year=year, metric=metric,
                           district_id=district_id)


EXPORTS = {
    "summary": (programme_exports.summary_xlsx, "年度汇总"),
    "demands": (programme_exports.demands_xlsx, "需求清单"),
    "cases": (programme_exports.cases_xlsx, "典型案例"),
}


@bp.get("/dashboard/export/<kind>")
@admins
def export(kind: str):
    """Download the yearly summary, the demand list or the case list of the dashboard scope."""
    session = get_session()
    year = year_arg()
    district_id = scope(request.args.get("district"))
    if kind not in EXPORTS:
        raise NotFound("没有这种导出。")
    scope_name = session.get(District, district_id).name if district_id else "全市"
    build, name = EXPORTS[kind]
    return xlsx_response(build(session, year, district_id=district_id),
                         f"{year}年{scope_name}{name}.xlsx")
