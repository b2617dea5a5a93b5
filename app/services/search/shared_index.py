"""The expert index of a host: one base on disk, mapped by every worker, and a delta beside it.

A *base* is a snapshot written as arrays (:meth:`ExpertRanker.save`,
:func:`matching.array_files.save_state`) into ``<root>/experts-v<version>-<stamp>/``. It is
written into a hidden temporary directory and renamed when complete, so a directory that is
not renamed (a build that failed, a process killed mid-build) is never read; old ones are
pruned. Every worker maps the newest base with ``np.load(mmap_mode="r")``: the pages of the
host's index are in memory once, whatever the number of workers.

Between two bases, the experts saved since the base was read (``updated_at`` from its
``as_of``, with a margin for transactions in flight) and the experts deleted form a *delta*
(:func:`matching.ranker.segments.fit_delta`), ranked beside the base: a saved expert is
rankable as soon as a worker's next check reads the delta, without a rebuild. The background
job (``index``, :mod:`app.job_handlers`) folds the delta into a new base.

No Flask here: :mod:`app.lifecycle` holds a :class:`HostIndex` per process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from matching.array_files import load_state, save_state
from matching.ranker import ExpertRanker
from matching.ranker.segments import SegmentedRanker, StackedVectors, fit_delta
from matching.semantic import E5_DIM
from matching.vectors import ExpertVectors
from models import DataVersion, Expert

from ...clock import now
from ..indexing import EXPERTS, bump_version, current_version
from .expert_rows import read_docs, read_rows, read_vectors
from .index import ExpertSnapshot, load_domain_terms

log = logging.getLogger(__name__)

#: Format of a base directory; another format is ignored (and rebuilt). 2: the vectors of a
#: large base are float16 profiles and int8 items (:class:`~matching.vectors.ExpertVectors`).
BASE_FORMAT = 2
PREFIX = "experts-v"
#: Experts changed at most this long before a build started may be missing from its base
#: (their transaction committed after the read): the delta starts this much earlier.
AS_OF_MARGIN = timedelta(minutes=2)
#: A delta larger than ``fold_at(experts in the base)`` asks the background job for a new base:
#: a twentieth of the base, between these bounds. Every refresh re-reads and re-fits the whole
#: delta (about 1 s per 1,000 experts of it), while a base build costs the job about 6 s at 10k
#: and 36 s at 100k experts.
FOLD_AT = (200, 2000)
#: Seconds after which a worker asks the queue again for a base it asked for (a failed job).
ASK_AGAIN_SECONDS = 300.0


def fold_at(n_base: int) -> int:
    """Return the delta size past which a new base is asked for (see :data:`FOLD_AT`)."""
    low, high = FOLD_AT
    return max(low, min(high, n_base // 20))

#: Temporary directories older than this are left by a build that died: removed.
STALE_TMP_SECONDS = 3600.0


@dataclass(frozen=True)
class BaseInfo:
    """A complete base directory: its path, data version and the time its rows were read."""

    path: Path
    version: int
    as_of: datetime

    @property
    def name(self) -> str:
        """Return the directory's name (the key a worker compares)."""
        return self.path.name


def list_bases(root: Path) -> list[BaseInfo]:
    """Return the complete bases under ``root``, oldest first (partial ones are skipped)."""
    out = []
    if not root.is_dir():
        return out
    for path in root.iterdir():
        if not path.name.startswith(PREFIX) or not path.is_dir():
            continue
        try:
            meta = json.loads((path / "base.json").read_text(encoding="utf-8"))
            if meta.get("format") != BASE_FORMAT:
                continue
            out.append(BaseInfo(path, int(meta["version"]),
                                datetime.fromisoformat(meta["as_of"])))
        except (OSError, ValueError, KeyError):
            continue  # not complete: never read
    return sorted(out, key=lambda b: (b.version, b.name))


def newest_base(root: Path) -> BaseInfo | None:
    """Return the newest complete base under ``root``, None when there is none."""
    bases = list_bases(root)
    return bases[-1] if bases else None


def save_base(snap: ExpertSnapshot, root: Path, as_of: datetime) -> BaseInfo:
    """Write a snapshot as a base: into a temporary directory, then renamed at once."""
    with _new_base(root) as tmp:
        snap.ranker.save(tmp / "ranker")
        _save_vectors(tmp, snap.has_vector, snap.expert_vectors, snap.vector_model)
        return _finish(tmp, root, int(snap.version[0]), as_of, snap.n_experts,
                       snap.n_embedded, snap.build_seconds)


@contextlib.contextmanager
def _new_base(root: Path):  # noqa: ANN202 - yields the temporary directory
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_vectors(tmp: Path, has_vector: np.ndarray, vectors: object, model: str | None) -> None:
    save_state({"has_vector": has_vector, "vectors": vectors}, tmp / "vectors",
               {"vector_model": model})


def _finish(tmp: Path, root: Path, version: int, as_of: datetime, experts: int, embedded: int,
            seconds: float) -> BaseInfo:
    meta = {"format": BASE_FORMAT, "version": version, "as_of": as_of.isoformat(),
            "experts": experts, "embedded": embedded, "build_seconds": round(seconds, 3)}
    (tmp / "base.json").write_text(json.dumps(meta), encoding="utf-8")
    final = root / f"{PREFIX}{version:010d}-{time.time_ns()}"
    os.rename(tmp, final)  # atomic: a reader sees no directory or a complete one
    return BaseInfo(final, version, as_of)


def write_base(session: Session, root: Path, as_of: datetime, model_id: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> BaseInfo:
    """Read, fit and write a base one part at a time: the ranker is written and freed before
    the vectors are read, so the two never add up at the rebuild's peak (issue 16)."""
    started = time.perf_counter()
    version = current_version(session, EXPERTS)
    load_domain_terms(session)
    rows = read_rows(session, progress=progress, model_id=model_id)
    model = rows.vector_model
    with _new_base(root) as tmp:
        ranker = ExpertRanker().fit_ids(*rows.take_ids())  # the fit frees the ids as it goes
        del rows  # the vocabulary and the titles now live in the ranker only
        ranker.save(tmp / "ranker")
        expert_ids = np.array(ranker.expert_ids_)
        item_indptr = np.array(ranker.item_indptr_)
        n = int(ranker.n_experts_)
        del ranker
        vectors = read_vectors(session, expert_ids, item_indptr, model)
        has_vector = vectors.embedded.copy() if vectors is not None else np.zeros(n, bool)
        _save_vectors(tmp, has_vector, vectors, model)
        return _finish(tmp, root, int(version), as_of, n, int(has_vector.sum()),
                       time.perf_counter() - started)


def load_base(info: BaseInfo, mmap: bool = True) -> ExpertSnapshot:
    """Map a base's arrays (shared with every process of the host that maps them)."""
    started = time.perf_counter()
    ranker = ExpertRanker.load(info.path / "ranker", mmap=mmap)
    state, meta = load_state(info.path / "vectors", mmap=mmap)
    return ExpertSnapshot(
        version=(info.version,), ranker=ranker, expert_ids=np.asarray(ranker.expert_ids_),
        has_vector=state["has_vector"], vector_model=meta.get("vector_model"),
        build_seconds=time.perf_counter() - started, expert_vectors=state["vectors"],
        base=info.name)


def prune(root: Path, keep: int = 2) -> None:
    """Remove all but the ``keep`` newest bases and the temporary dirs of dead builds.

    A worker still mapping a removed base keeps its pages (the files live until unmapped).
    """
    for info in list_bases(root)[:-keep]:
        shutil.rmtree(info.path, ignore_errors=True)
    now = time.time()
    for path in root.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def build_lock(root: Path, blocking: bool = True):  # noqa: ANN201 - yields whether it is held
    """Hold the host's build lock (a file lock: released when the process dies)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_base(session: Session, root: Path, model_id: str | None = None,
               progress: Callable[[int, int], None] | None = None,
               only_if_older: bool = False, blocking: bool = True,
               margin: timedelta = AS_OF_MARGIN) -> BaseInfo | None:
    """Build a base of the current data in this process under the host's build lock.

    ``only_if_older``: do nothing when a base of the current version is already there (another
    process built it while this one waited for the lock; a base of a later version means the
    database was reset: rebuilt). ``blocking=False``: do nothing when
    another process holds the lock. ``margin``: how much earlier than the read the next
    delta starts (:data:`AS_OF_MARGIN`). Returns the newest base (None: skipped).
    """
    with build_lock(root, blocking) as held:
        if not held:
            return None
        version = current_version(session, EXPERTS)
        have = newest_base(root)
        if only_if_older and have is not None and have.version == version:
            return have
        info = write_base(session, root, now() - margin, model_id, progress)
        prune(root)
        log.info("expert index base written", extra={"base": info.name})
        return info


# -- every host's base follows the newest ---------------------------------------------------------
#: The data version row naming the newest base built on any host: its ``updated_at`` is that
#: base's ``as_of``. Each host's job consumer builds a base of its own when its newest is older
#: (:func:`follow_generation`); the host that built it has one of that ``as_of`` already.
GENERATION = "index_base"


def build_generation(session: Session, root: Path, model_id: str | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     margin: timedelta = AS_OF_MARGIN) -> BaseInfo:
    """Build a new base on this host (the ``index`` job, ``flask reindex``) and record it as
    the newest generation, committed, so that every other host builds its own."""
    info = build_base(session, root, model_id, progress, margin=margin)
    bump_version(session, GENERATION)
    session.flush()
    session.execute(update(DataVersion).where(DataVersion.name == GENERATION)
                    .values(updated_at=info.as_of))
    session.commit()
    return info


def newest_generation(session: Session) -> datetime | None:
    """Return the ``as_of`` of the newest base built on any host (None: none recorded)."""
    return session.scalar(select(DataVersion.updated_at).where(DataVersion.name == GENERATION))


def follow_generation(session: Session, root: Path, model_id: Callable[[], str | None],
                      margin: timedelta = AS_OF_MARGIN) -> BaseInfo | None:
    """Build this host's base when a newer generation was built on another host.

    Run by the host's job consumer (never a serving worker), at most one build per host at a
    time (a file lock in ``root``); the old base serves until the new one is renamed into
    place. A host with no base yet is left to its first serving process. Returns the new base
    (None: nothing to do).
    """
    wanted = newest_generation(session)
    have = newest_base(root)
    if wanted is None or have is None or have.as_of >= wanted:
        return None
    with (root / ".follow.lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another process of this host is following it
        have = newest_base(root)
        if have is not None and have.as_of >= wanted:
            return None
        info = build_base(session, root, model_id(), margin=margin)
        log.info("expert index base follows the newest generation",
                 extra={"base": info.name, "generation_as_of": wanted.isoformat()})
        return info


def delta_snapshot(session: Session, base: ExpertSnapshot, as_of: datetime) -> ExpertSnapshot:
    """Return the base with the experts saved since ``as_of`` (and the deleted ones) beside it."""
    started = time.perf_counter()
    version = (current_version(session, EXPERTS),)
    changed = list(session.scalars(select(Expert.id).where(Expert.updated_at >= as_of)))
    current = np.fromiter(session.scalars(select(Expert.id)), dtype=np.int64)
    base_ids = np.asarray(base.ranker.expert_ids_, dtype=np.int64)
    gone = np.setdiff1d(base_ids, current, assume_unique=True)
    if not changed and not gone.size:
        return replace(base, version=version)
    load_domain_terms(session)
    ranker = base.ranker
    masked = ranker.id_index_.rows(np.union1d(np.asarray(changed, np.int64), gone))
    docs, profiles, items, owner = read_docs(session, changed, base.vector_model)
    delta = fit_delta(ranker, docs)
    segmented = SegmentedRanker(ranker, delta, masked)
    vectors = None
    has_delta = np.zeros(len(docs), dtype=bool) if profiles is None else \
        ~np.isnan(profiles[:, 0])
    if base.expert_vectors is not None:
        delta_vectors = ExpertVectors(
            profiles if profiles is not None else np.full((len(docs), E5_DIM), np.nan,
                                                          np.float32),
            items, owner if items is not None else None, exact_below=len(docs) + 1)
        vectors = StackedVectors(base.expert_vectors, delta_vectors, segmented.keep)
    has_vector = np.concatenate([np.asarray(base.has_vector) & segmented.keep, has_delta])
    return ExpertSnapshot(
        version=version, ranker=segmented, expert_ids=segmented.expert_ids_,
        has_vector=has_vector if vectors is not None else np.zeros(has_vector.size, bool),
        vector_model=base.vector_model, build_seconds=time.perf_counter() - started,
        expert_vectors=vectors, base=base.base, delta_size=len(docs))


class HostIndex:
    """One process's view of its host's index: the mapped base and the current delta.

    ``request_fold`` (the job queue) is called when the delta outgrows :func:`fold_at`: once
    per base, again after :data:`ASK_AGAIN_SECONDS` if no new base came. A serving worker never
    builds a base past the first start (a build under load took 91 s of a worker at 10k, while
    it served its old snapshot); only a process without a queue (``request_fold`` None: the
    CLI, a benchmark) builds one itself, when the delta is four times past the fold.
    """

    def __init__(self, root: Path, model_id: Callable[[], str | None],
                 request_fold: Callable[[], None] | None = None,
                 margin: timedelta = AS_OF_MARGIN) -> None:
        self.root, self.margin = root, margin
        self._model_id = model_id
        self._request_fold = request_fold
        self._base: ExpertSnapshot | None = None
        self._base_info: BaseInfo | None = None
        self._asked_for: tuple[str | None, float] | None = None
        self._lock = threading.Lock()

    def key(self, session: Session) -> tuple[int, str | None]:
        """Return (experts version, newest base on disk): the snapshot is stale when it moves."""
        info = newest_base(self.root)
        return current_version(session, EXPERTS), None if info is None else info.name

    @staticmethod
    def snap_key(snap: ExpertSnapshot) -> tuple[int, str | None]:
        """Return the key a snapshot was made at (see :meth:`key`)."""
        return snap.version[0], snap.base

    def refresh(self, session: Session) -> ExpertSnapshot:
        """Return the current snapshot: map a newer base if any, then read the delta."""
        with self._lock:
            info = newest_base(self.root)
            if info is None or info.version > current_version(session, EXPERTS):
                # none yet, or one of a database since reset (its version went back): build
                info = build_base(session, self.root, self._model_id(), only_if_older=True,
                                  margin=self.margin)
            if self._base_info is None or info.name != self._base_info.name:
                self._base, self._base_info = load_base(info), info
            snap = delta_snapshot(session, self._base, self._base_info.as_of)
            limit = fold_at(int(self._base.ranker.n_experts_))
            if snap.delta_size > limit and self._saved_since_read(session) > limit:
                self._fold(session, snap)
                if self._request_fold is None and snap.delta_size > 4 * limit:
                    try:
                        build_base(session, self.root, self._model_id(), blocking=False,
                                   margin=self.margin)
                    except Exception:  # noqa: BLE001 - the delta keeps serving
                        log.exception("building the expert index base failed")
            return snap

    def _saved_since_read(self, session: Session) -> int:
        """Return how many experts were saved after the base's read began: its delta also
        holds those of the ``margin`` before it, which a new base would hold again (asking for
        a fold because of them made every new base of freshly written data ask for the next)."""
        read = self._base_info.as_of + self.margin
        return int(session.scalar(select(func.count()).select_from(Expert)
                                  .where(Expert.updated_at >= read)) or 0)

    def _fold(self, session: Session, snap: ExpertSnapshot) -> None:
        now = time.monotonic()
        if self._request_fold is None or (
                self._asked_for is not None and self._asked_for[0] == snap.base
                and now - self._asked_for[1] < ASK_AGAIN_SECONDS):
            return
        self._asked_for = (snap.base, now)
        try:
            self._request_fold()
        except Exception:  # noqa: BLE001 - the delta keeps serving; the next base will come
            log.warning("could not queue the index job", exc_info=True)
