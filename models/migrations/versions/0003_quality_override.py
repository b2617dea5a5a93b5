"""demand_event.quality_override: why a demand the check called vague was published

Revision ID: 0003_quality_override
Revises: 0003_accounts
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_quality_override"
down_revision = "0003_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("demand_event") as batch:
        batch.add_column(sa.Column("quality_override", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demand_event") as batch:
        batch.drop_column("quality_override")
