"""meeting agenda: each session's time slot, room and whether the organiser pinned it there"""

import sqlalchemy as sa
from alembic import op

revision = "0003_meeting_agenda"
down_revision = "0003_jobs"


def upgrade() -> None:
    with op.batch_alter_table("meeting_session") as batch:
        batch.add_column(sa.Column("slot_key", sa.String(20), nullable=True))
        batch.add_column(sa.Column("room", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("meeting_session") as batch:
        batch.drop_column("pinned")
        batch.drop_column("room")
        batch.drop_column("slot_key")
