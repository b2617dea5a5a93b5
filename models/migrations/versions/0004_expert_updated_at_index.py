"""expert.updated_at index: the delta beside the host's index base reads the experts saved since"""
from alembic import op

revision = "0004_expert_updated_at_index"
down_revision = "0003_demand_window"


def upgrade() -> None:
    op.create_index("ix_expert_updated_at", "expert", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_expert_updated_at", table_name="expert")
