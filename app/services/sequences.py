"""Atomic named counters: demand codes and the like, without a read-then-insert race."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import SequenceCounter


def next_value(session: Session, name: str, seed: Callable[[], int] = lambda: 0) -> int:
    """Return the counter's next value; the first call creates it from ``seed()``.

    The increment is one UPDATE ... RETURNING: concurrent callers wait for each other's
    transaction (a row lock on PostgreSQL, the write lock on SQLite) and never get the same
    value. Two first callers racing to create the row: the loser retries the update.
    """
    for _attempt in range(3):
        value = session.execute(
            update(SequenceCounter).where(SequenceCounter.name == name)
            .values(value=SequenceCounter.value + 1).returning(SequenceCounter.value)
        ).scalar()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.add(SequenceCounter(name=name, value=seed()))
        except IntegrityError:
            continue
    raise RuntimeError(f"sequence {name!r} could not be incremented")
