"""The programme's exports in the notice's own table layouts (.xlsx with openpyxl).

- `quota_xlsx`: attachment 1, 全市第二批区派联络员指标分解表 (序号, 责任单位, 现有联络员人数,
  新选派联络员人数, 选派后联络员总人数, a 合计 row), plus a sheet with the actual headcount.
- `roster_xlsx`: attachment 2, the 联络员信息表 of one district (所属区：X（盖章）, 填报时间).
- `demands_xlsx`, `cases_xlsx`, `summary_xlsx`: the demand list, the case list and the yearly
  summary per district.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Demand, District

from .. import clock
from ..policy.statuses import DEMAND_STATUS_LABELS, status_label
from .programme import liaison_roster, lists, quota, rules, scoreboard
from .spreadsheets import safe_value

QUOTA_TITLE = "全市第二批区派联络员指标分解表"
QUOTA_HEADERS = ["序号", "责任单位", "现有联络员人数", "新选派联络员人数", "选派后联络员总人数"]
ROSTER_TITLE = "各区第二批选派联络员信息表"
ROSTER_HEADERS = ["序号", "姓名", "工作单位及职务", "联系电话", "对接产业园区、孵化器",
                  "对接本区重点企业"]

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_TITLE_FONT = Font(name="方正小标宋简体", size=16, bold=True)
_HEAD_FONT = Font(name="黑体", size=11, bold=True)
_BODY_FONT = Font(name="仿宋_GB2312", size=11)


def quota_title(year: int) -> str:
    """Return the title of the quota table: the notice's for 2022, the year's otherwise."""
    return QUOTA_TITLE if year == 2022 else f"全市{year}年区派联络员指标分解表"


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _title(ws: Worksheet, row: int, text: str, ncols: int, *, font: Font = _TITLE_FONT,
           align: Alignment = _CENTER, height: float = 36) -> None:
    ws.cell(row=row, column=1, value=text).font = font
    ws.cell(row=row, column=1).alignment = align
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
    ws.row_dimensions[row].height = height


def _table(ws: Worksheet, first_row: int, headers: Sequence[str],
           rows: Sequence[Sequence[Any]], widths: Sequence[float],
           left_cols: Sequence[int] = ()) -> int:
    """Write a bordered table; return the last row written."""
    for c, h in enumerate(headers, start=1):
        cell = ws.cell(row=first_row, column=c, value=h)
        cell.font, cell.alignment, cell.border = _HEAD_FONT, _CENTER, _BORDER
    ws.row_dimensions[first_row].height = 32
    r = first_row
    for r, values in enumerate(rows, start=first_row + 1):
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=safe_value(v))
            cell.font, cell.border = _BODY_FONT, _BORDER
            cell.alignment = _LEFT if c in left_cols else _CENTER
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w
    return r


def _print_setup(ws: Worksheet, title_rows: str, landscape: bool = False) -> None:
    ws.print_title_rows = title_rows
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True


def quota_xlsx(session: Session, year: int, *, on: date | None = None) -> bytes:
    """Return attachment 1 of a year as .xlsx, and a second sheet with the actual headcount."""
    table = quota.quota_table(session, year, on=on)
    wb = Workbook()
    ws = wb.active
    ws.title = "指标分解表"
    ws.cell(row=1, column=1, value="附件1").font = Font(name="黑体", size=12)
    _title(ws, 2, quota_title(year), 5)
    rows: list[list[Any]] = [[r.district.seq, r.district.name, r.existing, r.new, r.total]
                             for r in table.rows]
    rows.append(["", "合计", table.total("existing"), table.total("new"), table.total("total")])
    last = _table(ws, 3, QUOTA_HEADERS, rows, [8, 20, 16, 18, 20])
    for c in range(1, 6):
        ws.cell(row=last, column=c).font = _HEAD_FONT
    _print_setup(ws, "3:3")

    ws2 = wb.create_sheet("实有人数")
    _title(ws2, 1, f"{year}年各区联络员指标与实有人数（截至{table.on:%Y年%m月%d日}）", 6,
           font=Font(name="黑体", size=14, bold=True))
    rows2: list[list[Any]] = [[r.district.seq, r.district.name, r.total, r.actual, r.gap,
                               r.source_year or ""] for r in table.rows]
    rows2.append(["", "合计", table.total("total"), table.total("actual"), table.total("gap"),
                  ""])
    _table(ws2, 2, ["序号", "责任单位", "选派后联络员总人数", "实有人数", "缺额", "指标年度"],
           rows2, [8, 20, 20, 12, 10, 12])
    _print_setup(ws2, "2:2")
    return _save(wb)


def roster_xlsx(session: Session, district_id: int, *, on: date | None = None,
                filled_on: date | None = None) -> bytes:
    """Return a district's 联络员信息表 (attachment 2) with the liaisons serving on `on`."""
    district = session.get(District, district_id)
    if district is None:
        from ..errors import NotFound

        raise NotFound("区不存在。")
    filled_on = filled_on or clock.today()
    people = liaison_roster.roster(session, district_id, on=on or filled_on)
    wb = Workbook()
    ws = wb.active
    ws.title = district.name[:31]
    ws.cell(row=1, column=1, value="附件2").font = Font(name="黑体", size=12)
    _title(ws, 2, ROSTER_TITLE, 6)
    _title(ws, 3, f"所属区：{district.name}（盖章）", 6, font=_BODY_FONT, align=_LEFT, height=22)
    _title(ws, 4, f"填报时间：{filled_on.year}年{filled_on.month}月{filled_on.day}日", 6,
           font=_BODY_FONT, align=_LEFT, height=22)
    rows = [[n, li.name, li.employer_post or "", li.phone or "",
             "、".join(p.name for p in li.parks), "、".join(e.name for e in li.enterprises)]
            for n, li in enumerate(people, start=1)]
    _table(ws, 5, ROSTER_HEADERS, rows, [6, 10, 30, 15, 32, 40], left_cols=(3, 5, 6))
    _print_setup(ws, "5:5", landscape=True)
    return _save(wb)


def _plain(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
           widths: Sequence[float], sheet: str, left_cols: Sequence[int] = ()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    _title(ws, 1, title, len(headers), font=Font(name="黑体", size=14, bold=True))
    _table(ws, 2, headers, rows, widths, left_cols)
    ws.freeze_panes = "A3"
    _print_setup(ws, "2:2", landscape=True)
    return _save(wb)


DEMAND_LIST_HEADERS = ["序号", "需求编号", "需求名称", "企业", "所属区", "联络员", "状态",
                       "登记日期", "发布日期", "推荐专家数", "签约金额（万元）"]


def demands_xlsx(session: Session, year: int, *, district_id: int | None = None) -> bytes:
    """Return the list of demands recorded in the year (one district or all)."""
    lo, hi = rules.YearWindow(year, clock.today()).bounds()
    stmt = (select(Demand).options(selectinload(Demand.matches), selectinload(Demand.enterprise),
                                   selectinload(Demand.liaison), selectinload(Demand.district))
            .where(Demand.created_at >= lo, Demand.created_at < hi)
            .order_by(Demand.district_id, Demand.created_at, Demand.id))
    if district_id is not None:
        stmt = stmt.where(Demand.district_id == district_id)
    rows = []
    for n, d in enumerate(session.scalars(stmt), start=1):
        amount = sum(m.contract_amount or 0 for m in d.matches if m.status == "signed")
        rows.append([n, d.code, d.title, d.enterprise.name, d.district.name,
                     d.liaison.name if d.liaison else "",
                     DEMAND_STATUS_LABELS.get(d.status, d.status),
                     rules.local_date(d.created_at) or "",
                     rules.local_date(d.published_at) or "",
                     len(d.matches), amount or ""])
    scope = _scope(session, district_id)
    return _plain(f"{year}年{scope}企业技术需求清单", DEMAND_LIST_HEADERS, rows,
                  [6, 16, 40, 30, 12, 10, 10, 12, 12, 12, 14], "需求清单", (3, 4))


CASE_LIST_HEADERS = ["序号", "所属区", "案例标题", "联络员", "企业", "专家", "合同金额（万元）",
                     "状态", "案例简介"]


def cases_xlsx(session: Session, year: int, *, district_id: int | None = None,
               q: str | None = None, status: str | None = None) -> bytes:
    """Return the typical cases of the year (one district or all, as searched on the page)."""
    stmt = lists.cases(year, district_id, q, status)
    rows = [[n, c.district.name, c.title, c.liaison.name if c.liaison else "",
             c.enterprise_name or "", c.expert_name or "", c.contract_amount or "",
             status_label("case", c.status), c.summary or ""]
            for n, c in enumerate(session.scalars(stmt), start=1)]
    scope = _scope(session, district_id)
    return _plain(f"{year}年{scope}联络员工作典型案例清单", CASE_LIST_HEADERS, rows,
                  [6, 12, 40, 10, 28, 22, 12, 8, 60], "典型案例", (3, 5, 6, 9))


SUMMARY_HEADERS = ["序号", "责任单位", "指标总人数", "实有人数", "发布需求（目标/实际）",
                   "培训会（场）", "典型案例（目标/实际）", "应考核/已考核", "签约项目",
                   "合同金额（万元）", "综合状态"]


def summary_xlsx(session: Session, year: int, *, district_id: int | None = None,
                 today: date | None = None) -> bytes:
    """Return the yearly summary per district: every rule of the notice and its status."""
    board = scoreboard.scoreboard(session, year, district_id=district_id, today=today)
    rows: list[list[Any]] = []
    for n, d in enumerate(board.districts, start=1):
        r = d.rules
        rows.append([
            n, d.district.name, int(r["quota"].target), d.headcount,
            f"{int(r['demands'].target)}/{int(r['demands'].actual)}",
            int(r["training"].actual),
            f"{int(r['cases'].target)}/{int(r['cases'].actual)}",
            f"{int(r['assessment'].target)}/{int(r['assessment'].actual)}",
            d.signed, d.contract_amount or "", rules.STATUS_LABELS[d.status],
        ])
    if district_id is None:
        t = board.totals
        rows.append(["", "合计", int(t["quota"].target),
                     sum(d.headcount for d in board.districts),
                     f"{int(t['demands'].target)}/{int(t['demands'].actual)}",
                     int(t["training"].actual),
                     f"{int(t['cases'].target)}/{int(t['cases'].actual)}",
                     f"{int(t['assessment'].target)}/{int(t['assessment'].actual)}",
                     sum(d.signed for d in board.districts),
                     round(sum(d.contract_amount for d in board.districts), 2) or "", ""])
    as_of = board.window.as_of
    title = f"{year}年度区派联络员工作汇总表（截至{as_of:%Y年%m月%d日}）"
    data = _plain(title, SUMMARY_HEADERS, rows, [6, 16, 12, 10, 18, 12, 18, 14, 10, 14, 10],
                  "年度汇总")
    return data


def _scope(session: Session, district_id: int | None) -> str:
    if district_id is None:
        return "全市"
    d = session.get(District, district_id)
    return d.name if d else ""


def work_report_xlsx(title: str, sections: Sequence[tuple[str, Sequence[str],
                                                           Sequence[Sequence[Any]]]]) -> bytes:
    """Return a one-sheet work report: a title, then each section's heading and table."""
    wb = Workbook()
    ws = wb.active
    ws.title = "工作报告"
    ncols = max(len(headers) for _name, headers, _rows in sections)
    _title(ws, 1, title, ncols, font=Font(name="黑体", size=14, bold=True))
    row = 3
    for name, headers, rows in sections:
        _title(ws, row, f"{name}（{len(rows)}）", ncols, font=_HEAD_FONT, align=_LEFT,
               height=24)
        row = _table(ws, row + 1, headers, rows or [["无"] + [""] * (len(headers) - 1)],
                     [14, 26, 14, 16, 40, 18, 30][:ncols], left_cols=(2, 5, 7)) + 2
    _print_setup(ws, "1:1", landscape=True)
    return _save(wb)
