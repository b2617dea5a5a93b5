"""List pages: pagination, whitelisted sorting and "export the filtered list" to xlsx.

A list's total is counted by :func:`count_rows`, the one home of list counts: a list whose rows
are one versioned collection (``collection``: a data version name of
:mod:`app.services.indexing`, such as ``EXPERTS``) has its total cached per (database, data
version, statement and parameters), so it is counted again only when the collection's data
version moves (every write bumps it) or for a filter not seen since.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from models import DataVersion

from .fields import MAX_DATE, MAX_ID, MIN_DATE
from .spreadsheets import workbook_bytes, write_table

MAX_PER_PAGE = 200
EXPORT_LIMIT = 50_000


@dataclass
class Page:
    """One page of a list: its rows and what the pagination bar needs."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        """Return whether a previous page exists."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Return whether a next page exists."""
        return self.page < self.pages

    def window(self, size: int = 7) -> list[int | None]:
        """Return page numbers to show, None standing for an ellipsis."""
        last = self.pages
        if last <= size:
            return list(range(1, last + 1))
        half = (size - 3) // 2
        start = max(2, self.page - half)
        end = min(last - 1, self.page + half)
        out: list[int | None] = [1]
        if start > 2:
            out.append(None)
        out.extend(range(start, end + 1))
        if end < last - 1:
            out.append(None)
        out.append(last)
        return out


class CountCache:
    """Totals of list statements by (database, collection version, SQL, parameters): LRU."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._rows: OrderedDict[tuple, int] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> int | None:
        """Return a cached total (None when absent)."""
        with self._lock:
            total = self._rows.get(key)
            if total is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return total

    def put(self, key: tuple, total: int) -> None:
        """Remember a total, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._rows[key] = total
            self._rows.move_to_end(key)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


#: This process's cached list totals (:func:`count_rows`).
COUNTS = CountCache()


def count_rows(session: Session, stmt: Select, collection: str | None = None) -> int:
    """Return how many rows ``stmt`` gives: the total of a list page or a list API call.

    ``collection`` names the data version (:func:`app.services.indexing.bump_version`) that
    moves whenever the rows counted can change; the total is then cached until it moves. A
    collection never bumped (no version row, e.g. rows written by tests) is always counted.
    """
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    key = None
    if collection is not None:
        version = session.execute(select(DataVersion.version, DataVersion.updated_at)
                                  .where(DataVersion.name == collection)).first()
        if version is not None:
            bind = session.get_bind()
            compiled = count.compile(dialect=bind.dialect)
            key = (bind.url.render_as_string(hide_password=True), collection, *version,
                   str(compiled), repr(sorted(compiled.params.items())))
            total = COUNTS.get(key)
            if total is not None:
                return total
    total = session.scalar(count) or 0
    if key is not None:
        COUNTS.put(key, total)
    return total


def paginate(session: Session, stmt: Select, page: int | str | None = 1,
             per_page: int | str | None = 20, collection: str | None = None) -> Page:
    """Run `stmt` for one page; out-of-range or junk page numbers are clamped.

    ``collection``: the data version of the rows listed, to cache the total (:func:`count_rows`).
    """
    per_page = _int(per_page, 20)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    page = max(_int(page, 1), 1)
    total = count_rows(session, stmt, collection)
    pages = max(1, math.ceil(total / per_page))
    page = min(page, pages)
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique()) \
        if _is_entity_select(stmt) else list(
            session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all())
    return Page(items=items, total=total, page=page, per_page=per_page)


def _is_entity_select(stmt: Select) -> bool:
    descs = stmt.column_descriptions
    return len(descs) == 1 and descs[0].get("entity") is not None and descs[0].get(
        "type") is descs[0].get("entity")


def _int(value: Any, default: int) -> int:
    number = to_int(value)
    return default if number is None else number


def like(value: str) -> str:
    """Return a LIKE pattern that finds ``value`` anywhere, with wildcards escaped."""
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(stmt: Select, q: str | None, *columns: Any) -> Select:
    """Keep the rows where any of `columns` contains `q`, wildcards escaped (all when blank)."""
    text = (q or "").strip()
    if not text:
        return stmt
    pattern = like(text)
    return stmt.where(or_(*(column.ilike(pattern, escape="\\") for column in columns)))


def where_ids(stmt: Select, args: Mapping[str, Any], **columns: Any) -> Select:
    """Return `stmt` kept to the rows whose column is the id given under each argument name."""
    for name, column in columns.items():
        value = to_int(args.get(name))
        if value:
            stmt = stmt.where(column == value)
    return stmt


def to_int(value: Any) -> int | None:
    """Parse a query or form id; blank, malformed or beyond any column's range gives None."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is None or -MAX_ID <= number <= MAX_ID else None


def to_date(value: str | None) -> date | None:
    """Parse an ISO date filter; blank, malformed or outside MIN_DATE..MAX_DATE gives None."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is None or MIN_DATE <= day <= MAX_DATE else None


def apply_sort(stmt: Select, sort: str | None, allowed: Mapping[str, Any],
               default: str | None = None) -> tuple[Select, str]:
    """Order `stmt` by a whitelisted key; '-key' sorts descending. Return (stmt, key used).

    `allowed` maps the public key (as in ?sort=) to a column or SQL expression; unknown keys
    fall back to `default`, so a user can never sort by an arbitrary column.
    """
    key = (sort or "").strip()
    name = key.lstrip("-")
    if name not in allowed:
        key = default or ""
        name = key.lstrip("-")
        if name not in allowed:
            return stmt, ""
    column = allowed[name]
    ordered = column.desc() if key.startswith("-") else column.asc()
    return stmt.order_by(ordered), key


def rows_to_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]],
                 sheet_title: str = "导出") -> bytes:
    """Return an .xlsx workbook with a bold header row, frozen panes and fitted widths."""
    wb = Workbook()
    ws = wb.active
    ws.title = (sheet_title or "导出")[:31]
    write_table(ws, headers, rows, limit=EXPORT_LIMIT)
    return workbook_bytes(wb)


def field_errors(exc: Exception) -> dict[str, str]:
    """Turn a DomainError (its `errors` list or `field`) into {field: message} for templates."""
    out: dict[str, str] = {}
    for item in getattr(exc, "errors", None) or []:
        if isinstance(item, dict) and item.get("field"):
            out.setdefault(item["field"], item.get("message", ""))
    field = getattr(exc, "field", None)
    if field and field not in out:
        out[field] = getattr(exc, "message", str(exc))
    if not out:
        out["_form"] = getattr(exc, "message", str(exc))
    return out
