"""reference data: attachment 1 quotas, GB/T 4754-2017 divisions, technical fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DATA = Path(__file__).resolve().parents[2] / "data"


def _rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def upgrade() -> None:
    meta = sa.MetaData()
    district = sa.Table("district", meta, autoload_with=op.get_bind())
    quota = sa.Table("district_quota", meta, autoload_with=op.get_bind())
    industry = sa.Table("industry", meta, autoload_with=op.get_bind())
    field = sa.Table("tech_field", meta, autoload_with=op.get_bind())
    now = datetime.now(UTC)
    quotas = _rows("quota_2022.tsv")
    op.bulk_insert(
        district,
        [
            {"id": int(s), "seq": int(s), "name": n, "quota_existing": int(e),
             "quota_new": int(w), "quota_total": int(t)}
            for s, n, e, w, t in quotas
        ],
    )
    op.bulk_insert(
        quota,
        [
            {"district_id": int(s), "year": 2022, "existing": int(e), "new": int(w),
             "total": int(t), "updated_at": now}
            for s, _n, e, w, t in quotas
        ],
    )
    op.bulk_insert(
        industry,
        [
            {"code": c, "name": n, "section": s, "section_name": sn, "is_custom": False}
            for c, n, s, sn in _rows("industries.tsv")
        ],
    )
    op.bulk_insert(
        field, [{"code": c, "name": n, "is_custom": False} for c, n in _rows("tech_fields.tsv")]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval('district_id_seq', (SELECT max(id) FROM district))")


def downgrade() -> None:
    for table in ("district_quota", "district", "industry", "tech_field"):
        op.execute(sa.text(f"DELETE FROM {table}"))
