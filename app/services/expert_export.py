"""The expert list export (专家列表.xlsx): its rows, in the request or as a background job.

Who reads what is decided in app/policy/privacy.py and nowhere here: a district role gets no
contact columns at all; the campus liaison and the city get them, in full where
:func:`can_read_expert_contact` says so, masked otherwise. An export of more than
:data:`INLINE_ROWS` experts is written by the job consumer (task ``export_experts``): the
list page queues it with the ids it selected, in its order, the job writes the workbook onto
its :class:`models.BackgroundJob` row (``output``) and the page polls the row until the
download is there. Either way one audit event says how many rows and whether with contacts.

No Flask here (the job consumer calls it too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from models import BackgroundJob, Expert

from ..policy.privacy import (
    EXPERT_CONTACT_COLUMN_ROLES,
    can_read_expert_contact,
    mask_email,
    mask_phone,
)
from .audit import audit
from .listing import EXPORT_LIMIT, rows_to_xlsx

#: Exports of more experts than this run as a background job (when BACKGROUND_JOBS is on): the
#: workbook costs about 0.2 ms of CPU per expert, and a request must end within 2 s.
INLINE_ROWS = 500
#: Experts read per query when a job writes the workbook.
CHUNK = 500
FILENAME = "专家列表.xlsx"
SHEET = "专家"
BASE_HEADERS = ("姓名", "所在单位", "职称/职务", "研究方向", "技术领域", "是否院士", "团队")
CONTACT_HEADERS = ("联系电话", "电子邮箱")


def job_kind(user: Any) -> str:
    """Return the job kind of a user's export (the owner is part of it, as for imports)."""
    return f"export:experts:{user.id}"


def owns(job: BackgroundJob | None, user: Any) -> bool:
    """Whether ``job`` is an expert export of ``user`` (only they see its file)."""
    return job is not None and job.kind == job_kind(user)


def headers(user: Any) -> list[str]:
    """Return the header row ``user`` gets."""
    with_contact = getattr(user, "role", None) in EXPERT_CONTACT_COLUMN_ROLES
    return [*BASE_HEADERS, *(CONTACT_HEADERS if with_contact else ())]


def row(user: Any, expert: Expert) -> list[Any]:
    """Return one expert's row as ``user`` may read it."""
    out: list[Any] = [expert.name, expert.institution.name, expert.title, expert.research_fields,
                      expert.tech_field.name if expert.tech_field else "",
                      bool(expert.is_academician), expert.team]
    if getattr(user, "role", None) in EXPERT_CONTACT_COLUMN_ROLES:
        full = can_read_expert_contact(user, expert.institution_id)
        out += [expert.phone if full else mask_phone(expert.phone),
                expert.email if full else mask_email(expert.email)]
    return out


def workbook(session: Session, user: Any, experts: Iterator[Expert] | Sequence[Expert],
             filters: dict[str, Any]) -> tuple[bytes, int]:
    """Write the workbook of some experts and the audit event; return (bytes, rows)."""
    rows = [row(user, e) for e in experts]
    audit(session, "export", "expert", None,
          {"rows": len(rows), "contact": getattr(user, "role", None) in EXPERT_CONTACT_COLUMN_ROLES,
           "filters": filters}, user=user)
    return rows_to_xlsx(headers(user), rows, SHEET), len(rows)


def experts_by_ids(session: Session, expert_ids: Sequence[int],
                   progress: Callable[[int, int], None] | None = None) -> Iterator[Expert]:
    """Yield the experts of ``expert_ids`` in that order (a deleted one is skipped)."""
    ids = list(expert_ids)[:EXPORT_LIMIT]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found = {e.id: e for e in session.scalars(
            select(Expert).where(Expert.id.in_(chunk))
            .options(selectinload(Expert.institution), selectinload(Expert.tech_field)))}
        yield from (found[i] for i in chunk if i in found)
        if progress:
            progress(start + len(chunk), len(ids))


def run_job(session: Session, job_id: int, user: Any, expert_ids: Sequence[int],
            filters: dict[str, Any],
            progress: Callable[[int, int], None] | None = None) -> int:
    """Write the workbook of a queued export onto its job row; return the number of rows."""
    data, n = workbook(session, user, experts_by_ids(session, expert_ids, progress), filters)
    session.execute(update(BackgroundJob).where(BackgroundJob.id == job_id)
                    .values(output=data).execution_options(synchronize_session=False))
    return n
