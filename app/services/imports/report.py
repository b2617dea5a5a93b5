"""What an import did (ImportResult), its progress reporting (tqdm bar or callback) and the one
操作日志 row of a run."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from tqdm import tqdm

from ..audit import record
from .columns import KIND_LABELS

Progress = bool | Callable[[int, int], None]


@dataclass
class ImportResult:
    """What an import did."""

    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    parks_created: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def count(self, created: bool, changed: bool) -> None:
        """Count one row of the file: new, changed, or left as it was."""
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def summary(self) -> str:
        """Return a one-line Chinese summary."""
        text = (f"{KIND_LABELS[self.kind]}导入完成：共 {self.rows} 行，新增 {self.created} 条，"
                f"更新 {self.updated} 条，未变 {self.unchanged} 条")
        if self.parks_created:
            text += f"，新建园区 {self.parks_created} 个"
        return text + "。" + "".join(self.notes)


#: The log's object of each import kind (its action is "<object>.import").
LOG_ENTITIES = {"experts": "expert", "demands": "demand", "enterprises": "enterprise",
                "roster": "roster", "parks": "park", "investors": "investor",
                "institutions": "institution"}


def record_run(session: Session, user: Any, result: ImportResult, filename: str, *,
               job_id: int | None = None, ip: str | None = None) -> None:
    """Write the one 操作日志 row of an import run: who, the file and what it did."""
    after: dict[str, Any] = {"文件": filename[:200], "行数": result.rows,
                             "新增": result.created, "更新": result.updated,
                             "未变": result.unchanged}
    if result.parks_created:
        after["新建园区"] = result.parks_created
    if job_id is not None:
        after["后台任务"] = job_id
    entity = LOG_ENTITIES[result.kind]
    record(session, user, f"{entity}.import", entity, None, after=after, ip=ip)


def _bar(total: int, kind: str, progress: Progress) -> tuple[Any, Callable[[int], None]]:
    """Return a tqdm bar (or None) and a function to call with the rows done."""
    bar = None
    if progress is True:
        bar = tqdm(total=total, desc=f"导入{KIND_LABELS[kind]}", unit="行")

    def tick(done: int) -> None:
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(done, total)

    return bar, tick


def _rows_of(records: Sequence[tuple[int, dict]], kind: str,
             progress: Progress) -> Iterator[tuple[int, dict]]:
    """Yield the records while moving the progress bar or calling the progress callback."""
    bar, tick = _bar(len(records), kind, progress)
    try:
        for done, (_row, rec) in enumerate(records, start=1):
            yield _row, rec
            tick(done)
    finally:
        if bar is not None:
            bar.close()
