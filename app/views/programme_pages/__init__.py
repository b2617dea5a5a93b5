"""联络员, 工作台账 and 统计分析: one blueprint, its pages split by job.

- ``roster``: quota table (attachment 1), roster (attachment 2), replacements and filings.
- ``books``: trainings, typical cases, assessments.
- ``dashboard``: the yearly scoreboard, funnel, trends, drill-downs and exports.

City admins see every district; district admins see and edit their own.
"""

from . import book_pages, dashboard_pages, roster_pages  # noqa: F401  (each module adds its routes to bp)
from .common import bp

__all__ = ["bp"]
