"""demand vectors cleared: the job re-makes them from the demand window (QUERY_CHARS, 128)

Stored demand vectors were encoded from the first 510 characters; requests now encode a demand's
first ``matching.semantic.QUERY_CHARS`` characters, so a stored vector and the same text sent as
a free text rank alike only once the embedding job has re-made it (a minute for the demo's 600).
"""
from alembic import op

revision = "0003_demand_window"
down_revision = "0003_job_output"


def upgrade() -> None:
    op.execute("UPDATE demand SET vector = NULL, vector_model = NULL")


def downgrade() -> None:
    """Nothing to undo: the job re-makes cleared vectors under any window."""
