"""The one safe cell rule: no formula from user data in any xlsx the service writes."""

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from app.services import tabular
from app.services.listing import rows_to_xlsx
from app.services.spreadsheets import neutralise, safe_value, unneutralise


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)",
                                  "\tcmd", "\rcmd"])
def test_formula_like_text_is_quoted_and_reads_back(text):
    assert neutralise(text) == "'" + text
    assert unneutralise(neutralise(text)) == text


def test_plain_text_and_values_stay():
    assert neutralise("热失控预警") == "热失控预警"
    assert unneutralise("'引号开头的普通文字") == "'引号开头的普通文字"
    assert safe_value(["=a", "b"]) == "'=a、b"
    assert safe_value(float("inf")) == ""
    assert safe_value(True) == "是"
    assert safe_value(datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == datetime(2026, 1, 2, 0, 30)


def test_list_export_has_no_formula_cells():
    data = rows_to_xlsx(["关键词"], [[["=1+1", "正常"]], ["@cmd"], ["-1"]])
    ws = load_workbook(io.BytesIO(data)).active
    cells = [ws.cell(row=r, column=1) for r in range(2, 5)]
    assert [c.value for c in cells] == ["'=1+1、正常", "'@cmd", "'-1"]
    assert all(c.data_type == "s" for c in cells)


def test_import_templates_round_trip_formula_like_text():
    from app.services.imports import COLUMNS

    columns = COLUMNS["experts"][:2]
    wb = tabular.new_workbook()
    tabular.write_sheet(wb, "专家", columns, [["张三", "=不是公式"]])
    sheets = tabular.read_workbook("x.xlsx", tabular.workbook_bytes(wb))
    rows = sheets["专家"]
    assert [tabular.clean_text(v) for v in rows[1]] == ["张三", "=不是公式"]
