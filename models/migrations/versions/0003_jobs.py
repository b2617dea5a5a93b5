"""job queue: parameters, full report, worker and heartbeat (lease) on background_job

Revision ID: 0003_jobs
Revises: 0003_books
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision = "0003_jobs"
down_revision = "0003_books"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(100), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", UtcDateTime(), nullable=True))
        batch.create_index("ix_background_job_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.drop_index("ix_background_job_status")
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
        batch.drop_column("report")
        batch.drop_column("params")
