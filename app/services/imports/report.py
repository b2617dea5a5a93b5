"""What an import did (ImportResult) and its progress reporting (tqdm bar or callback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

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

    def summary(self) -> str:
        """Return a one-line Chinese summary."""
        text = (f"{KIND_LABELS[self.kind]}导入完成：共 {self.rows} 行，新增 {self.created} 条，"
                f"更新 {self.updated} 条，未变 {self.unchanged} 条")
        if self.parks_created:
            text += f"，新建园区 {self.parks_created} 个"
        return text + "。" + "".join(self.notes)


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
