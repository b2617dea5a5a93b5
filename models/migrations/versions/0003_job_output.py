"""background_job.output: the file a job made (a big export), kept for its owner's download"""
import sqlalchemy as sa
from alembic import op

revision = "0003_job_output"
down_revision = "0003_meeting_agenda"


def upgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.add_column(sa.Column("output", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("background_job") as batch:
        batch.drop_column("output")
