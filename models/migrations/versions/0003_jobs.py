"""job queue: parameters, full report, worker and heartbeat (lease) on background_job"""
import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision = "0003_jobs"
down_revision = "0003_books"


def _columns() -> list[sa.Column]:
    """The job queue's columns, added in this order and dropped in the reverse one."""
    return [
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        for column in _columns():
            batch.add_column(column)
        batch.create_index("ix_background_job_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.drop_index("ix_background_job_status")
        for column in reversed(_columns()):
            batch.drop_column(column.name)
