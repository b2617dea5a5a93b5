"""demand_event.quality_override: why a demand the check called vague was published"""
import sqlalchemy as sa
from alembic import op

revision = "0003_quality_override"
down_revision = "0003_accounts"


def upgrade() -> None:
    with op.batch_alter_table("demand_event") as batch:
        batch.add_column(sa.Column("quality_override", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("demand_event") as batch:
        batch.drop_column("quality_override")
