"""File downloads: the one place a spreadsheet becomes an HTTP response."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response


def xlsx_response(data: bytes, filename: str) -> Response:
    """Return a download response for xlsx bytes (the Chinese file name in UTF-8)."""
    resp = Response(
        data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=export.xlsx; filename*=UTF-8''{quote(filename)}"
    )
    return resp
